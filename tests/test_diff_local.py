"""Local `git diff` output read as PR files, on a repository the test creates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import git
from worker.diff.local import LocalDiffError, changed_files_from_diff


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "x.py").write_text("a = 1\nb = 2\nc = 3\n")
    (tmp_path / "gone.txt").write_text("old\n")
    (tmp_path / "logo.bin").write_bytes(b"\x00\x01binary")
    (tmp_path / "r1.txt").write_text("same\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "x.py").write_text("a = 1\nb = 20\nc = 3\nd = 4\n")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "logo.bin").write_bytes(b"\x00\x02binary")
    (tmp_path / "new.py").write_text("print('hi')\n")
    git(tmp_path, "mv", "r1.txt", "r2.txt")
    git(tmp_path, "add", "-A")
    return tmp_path


def test_git_diff_becomes_one_changed_file_per_file(repo: Path) -> None:
    files = {f.path: f for f in changed_files_from_diff(git(repo, "diff", "--cached"))}
    assert set(files) == {"x.py", "gone.txt", "logo.bin", "new.py", "r2.txt"}
    assert files["x.py"].status == "modified"
    assert files["x.py"].patch == "@@ -1,3 +1,4 @@\n a = 1\n-b = 2\n+b = 20\n c = 3\n+d = 4\n"
    assert (files["x.py"].additions, files["x.py"].deletions) == (2, 1)
    assert files["gone.txt"].status == "removed"
    assert files["new.py"].status == "added"
    assert files["r2.txt"].status == "renamed"
    assert files["r2.txt"].previous_path == "r1.txt"
    assert files["r2.txt"].patch is None
    assert files["logo.bin"].skip_reason == "binary file"


@pytest.mark.parametrize("text", ["", "   \n", "hello world\nthis is not a diff\n"])
def test_input_that_is_not_a_diff_is_a_clear_error(text: str) -> None:
    with pytest.raises(LocalDiffError):
        changed_files_from_diff(text)
