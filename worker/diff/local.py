"""A local unified diff (`git diff` output) as the PR files the engine reviews.

`kimi-review review --diff` feeds its input through here: each file section
becomes a `ChangedFile` whose `patch` has GitHub's shape (hunks only, no
file header), so the rest of the pipeline cannot tell a local diff from a
pull request. Parsing uses the `unidiff` package; input that is not a
unified diff is a `LocalDiffError` naming what was wrong.
"""

from __future__ import annotations

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile, PatchSet

from worker.diff.model import ChangedFile, FileStatus


class LocalDiffError(ValueError):
    """The input is not a unified diff with at least one file."""


def _strip_prefix(name: str | None) -> str | None:
    if name is None or name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def _status(patched: PatchedFile) -> FileStatus:
    if patched.is_added_file:
        return "added"
    if patched.is_removed_file:
        return "removed"
    if patched.is_rename:
        return "renamed"
    return "modified"


def changed_files_from_diff(text: str) -> list[ChangedFile]:
    """Split `git diff` output into one ChangedFile per file section."""
    if not text.strip():
        raise LocalDiffError("the diff is empty: nothing to review (is `git diff` empty?)")
    # Split on "\n" only, as worker.diff.parse does: a CR stays part of its line.
    lines = [line + "\n" for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    try:
        patch_set = PatchSet(lines)
    except UnidiffParseError as exc:
        raise LocalDiffError(f"not a unified diff: {exc}") from None
    if len(patch_set) == 0:
        raise LocalDiffError(
            "no file sections found: expected `git diff` or `diff -u` output "
            "(lines starting with 'diff --git', '---', '+++' and '@@')"
        )
    files = []
    for patched in patch_set:
        status = _status(patched)
        source = _strip_prefix(patched.source_file)
        path = _strip_prefix(patched.target_file) or source or patched.path
        files.append(
            ChangedFile(
                path=path,
                status=status,
                patch="".join(str(hunk) for hunk in patched) or None,
                previous_path=source if status == "renamed" else None,
                additions=patched.added,
                deletions=patched.removed,
                skip_reason="binary file" if patched.is_binary_file else None,
            )
        )
    return files
