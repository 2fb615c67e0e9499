"""Builders of realistic GitHub `patch` texts for the diff-engine tests.

`git_patch` runs the real `git diff --no-index` on files the test writes and
strips the file header, which is the shape of GitHub's per-file `patch`
field; `difflib_patch` does the same in-process, fast enough for hypothesis.
"""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

from worker.diff.model import ChangedFile, FileStatus
from worker.diff.parse import Hunk


def git_patch(workdir: Path, old: bytes | None, new: bytes | None) -> str | None:
    """GitHub-shaped patch between two file contents (None: file absent), or None for binary."""
    workdir.mkdir(parents=True, exist_ok=True)
    old_path, new_path = workdir / "old", workdir / "new"
    old_arg = new_arg = os.devnull
    if old is not None:
        old_path.write_bytes(old)
        old_arg = str(old_path)
    if new is not None:
        new_path.write_bytes(new)
        new_arg = str(new_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(
        ["git", "diff", "--no-index", "--no-color", "--no-ext-diff", "-U3", old_arg, new_arg],
        capture_output=True,
        env=env,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    text = result.stdout.decode("utf-8", "surrogateescape")
    start = text.find("\n@@")
    if start < 0:
        return None  # "Binary files ... differ", or no change: GitHub sends no patch
    return text[start + 1 :].removesuffix("\n")


def difflib_patch(old: list[str], new: list[str]) -> str:
    """GitHub-shaped patch of two line lists (lines without terminators)."""
    lines = list(difflib.unified_diff(old, new, lineterm="", n=3))
    return "\n".join(lines[2:])


def changed(
    path: str, patch: str | None, status: FileStatus = "modified", **extra: object
) -> ChangedFile:
    additions = deletions = 0
    for line in (patch or "").split("\n"):
        if line.startswith("+"):
            additions += 1
        elif line.startswith("-"):
            deletions += 1
    return ChangedFile(
        path=path,
        status=status,
        patch=patch,
        additions=additions,
        deletions=deletions,
        **extra,  # type: ignore[arg-type]
    )


def hunk_as_patch(hunk: Hunk) -> str:
    """A hunk (or a chunker's piece of one) back in unified-diff text."""
    lines = [f"@@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@"]
    for line in hunk.lines:
        lines.append(line.kind + line.text)
        if line.no_newline:
            lines.append("\\ No newline at end of file")
    return "\n".join(lines)


def test_git_patch_has_github_shape_without_file_header(tmp_path: Path) -> None:
    patch = git_patch(tmp_path, b"a\nb\n", b"a\nc\n")
    assert patch is not None
    assert patch.startswith("@@ -1,2 +1,2 @@")
    assert "---" not in patch
    assert "+++" not in patch
