"""Fetching a PR's changed files: patches passed through or rebuilt, skips with reasons."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo, github_patch
from worker.diff.model import ChangedFile
from worker.github.client import GitHubReader
from worker.github.files import FetchLimits, fetch_pull_request_files, looks_binary, unified_patch

CONTENTS = "/repos/{o}/{r}/contents/{path+}"
OLD = "".join(f"line {i}\n" for i in range(1, 41))
NEW = OLD.replace("line 5\n", "line five\n").replace("line 30\n", "") + "line 41\n"


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    return fake_github.add_repo("octo/widgets", installation_id=7)


def _open(
    repo: FakeRepo,
    before: dict[str, bytes | str | None],
    after: dict[str, bytes | str | None],
    **kw: object,
) -> None:
    base = repo.commit(before, branch="main")
    repo.commit(after, parent=base, branch="feature", **kw)  # type: ignore[arg-type]
    repo.open_pull(1, base="main", head="feature")


async def _fetch(reader: GitHubReader, limits: FetchLimits | None = None) -> dict[str, ChangedFile]:
    pr = await reader.pull_request(1)
    fetched = await fetch_pull_request_files(reader, pr, limits=limits or FetchLimits())
    assert {s.path for s in fetched.skipped} == {f.path for f in fetched.files if f.skip_reason}
    return {f.path: f for f in fetched.files}


async def test_githubs_patches_are_passed_through_without_downloading_contents(
    fake_github: FakeGitHub, repo: FakeRepo, reader: GitHubReader
) -> None:
    _open(repo, {"a.py": OLD}, {"a.py": NEW, "b.py": "new = 1\n"})
    files = await _fetch(reader)
    assert files["a.py"].patch == github_patch(OLD.encode(), NEW.encode())[0]
    assert (files["a.py"].status, files["a.py"].additions, files["a.py"].deletions) == (
        "modified",
        2,
        2,
    )
    assert (files["b.py"].status, files["b.py"].patch) == ("added", "@@ -0,0 +1 @@\n+new = 1")
    assert fake_github.calls_to("GET", CONTENTS) == []


async def test_a_text_file_without_patch_is_rebuilt_exactly_as_github_would_have_sent_it(
    fake_github: FakeGitHub, repo: FakeRepo, reader: GitHubReader
) -> None:
    repo.no_patch_paths = {"a.py", "gone.py", "fresh.py"}
    _open(
        repo, {"a.py": OLD, "gone.py": "bye\n"}, {"a.py": NEW, "gone.py": None, "fresh.py": "hi\n"}
    )
    files = await _fetch(reader)
    assert files["a.py"].patch == github_patch(OLD.encode(), NEW.encode())[0]
    assert (files["a.py"].additions, files["a.py"].deletions) == (2, 2)
    assert files["gone.py"].patch == "@@ -1 +0,0 @@\n-bye"
    assert files["fresh.py"].patch == "@@ -0,0 +1 @@\n+hi"
    assert all(f.skip_reason is None for f in files.values())


async def test_binaries_are_skipped_by_suffix_without_download_or_by_content(
    fake_github: FakeGitHub, repo: FakeRepo, reader: GitHubReader
) -> None:
    _open(repo, {}, {"logo.png": b"\x89PNG\r\n\x1a\n\0\0", "blob.dat": b"\0\1\2\3"})
    files = await _fetch(reader)
    assert files["logo.png"].skip_reason == "binary file"
    assert files["blob.dat"].skip_reason == "binary file"
    assert files["blob.dat"].patch is None
    fetched_paths = [c.path for c in fake_github.calls_to("GET", CONTENTS)]
    assert fetched_paths == ["/repos/octo/widgets/contents/blob.dat"]


async def test_a_file_over_the_size_limit_is_skipped_with_its_size(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    repo.no_patch_over_lines = 100
    big_old = "".join(f"a{i}\n" for i in range(300))
    big_new = "".join(f"b{i}\n" for i in range(300))
    _open(repo, {"big.txt": big_old}, {"big.txt": big_new})
    files = await _fetch(reader, FetchLimits(max_file_bytes=500))
    reason = files["big.txt"].skip_reason
    assert reason is not None
    assert re.fullmatch(r"too large to diff \(\d+ bytes; limit 500\)", reason)


async def test_renames_keep_the_previous_path_and_a_pure_rename_has_an_empty_patch(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    _open(
        repo,
        {"old/moved.py": OLD, "old/edited.py": OLD},
        {"new/edited.py": NEW},
        renames={"old/moved.py": "new/moved.py", "old/edited.py": "new/edited.py"},
    )
    files = await _fetch(reader)
    moved, edited = files["new/moved.py"], files["new/edited.py"]
    assert (moved.status, moved.previous_path, moved.patch, moved.skip_reason) == (
        "renamed",
        "old/moved.py",
        "",
        None,
    )
    assert (edited.status, edited.previous_path) == ("renamed", "old/edited.py")
    assert edited.patch == github_patch(OLD.encode(), NEW.encode())[0]


async def test_a_renamed_file_whose_patch_github_dropped_is_diffed_against_its_old_path(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    repo.no_patch_paths = {"new.py"}
    _open(repo, {"old.py": OLD}, {"new.py": NEW}, renames={"old.py": "new.py"})
    files = await _fetch(reader)
    assert files["new.py"].patch == github_patch(OLD.encode(), NEW.encode())[0]


async def test_a_mode_change_alone_is_a_file_with_nothing_to_review(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    _open(repo, {"run.sh": "echo hi\n"}, {}, modes={"run.sh": "100755"})
    files = await _fetch(reader)
    assert (files["run.sh"].status, files["run.sh"].patch, files["run.sh"].skip_reason) == (
        "changed",
        "",
        None,
    )


async def test_a_rebuilt_diff_starts_from_the_merge_base_when_the_base_branch_moved_on(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    repo.no_patch_paths = {"a.py"}
    base = repo.commit({"a.py": OLD}, branch="main")
    repo.commit({"a.py": NEW}, parent=base, branch="feature")
    repo.commit({"a.py": OLD + "main moved on\n"}, parent=base, branch="main")
    repo.open_pull(1, base="main", head="feature")
    files = await _fetch(reader)
    assert files["a.py"].patch == github_patch(OLD.encode(), NEW.encode())[0]


def test_unified_patch_marks_a_missing_final_newline_like_git() -> None:
    assert unified_patch("a\nb", "a\nc") == (
        "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file"
    )
    assert unified_patch("same\n", "same\n") == ""


def test_looks_binary_follows_git_and_utf8() -> None:
    assert looks_binary(b"abc\0def")
    assert looks_binary("é".encode("latin-1"))
    assert not looks_binary("é\n".encode())


def _apply(old: str, patch: str) -> str:
    """Apply a hunks-only patch (what a reviewer's tooling would do) to rebuild the new text."""
    source = old.split("\n")
    out: list[str] = []
    position = 0
    for line in patch.split("\n"):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if header:
            start = int(header[1]) - (0 if header[2] == "0" else 1)
            out += source[position:start]
            position = start
        elif line.startswith(" ") or line.startswith("-"):
            position += 1
            if line.startswith(" "):
                out.append(line[1:])
        elif line.startswith("+"):
            out.append(line[1:])
    return "\n".join(out + source[position:])


@given(
    st.lists(st.sampled_from(["a", "b", "c", "def x():", "", "    return 1"]), max_size=30),
    st.lists(st.sampled_from(["a", "b", "c", "def x():", "", "    return 2"]), max_size=30),
)
def test_a_rebuilt_patch_turns_the_old_text_into_the_new(old: list[str], new: list[str]) -> None:
    old_text, new_text = "\n".join(old) + "\n", "\n".join(new) + "\n"
    assert _apply(old_text, unified_patch(old_text, new_text)) == new_text
