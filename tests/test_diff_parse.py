"""Parsing GitHub per-file patches made by real `git diff` runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_diff_support import changed, git_patch
from worker.diff.parse import PatchParseError, parse_changed_files, parse_file, parse_patch


def _only_patch(tmp_path: Path, old: bytes | None, new: bytes | None) -> str:
    patch = git_patch(tmp_path, old, new)
    assert patch is not None
    return patch


def test_modified_file_lines_carry_old_and_new_numbers(tmp_path: Path) -> None:
    old = "".join(f"line {n}\n" for n in range(1, 21)).encode()
    new = old.replace(b"line 10\n", b"line ten\nline ten and a half\n")
    (hunk,) = parse_patch(_only_patch(tmp_path, old, new), path="f.txt")
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (7, 7, 7, 8)
    removed = [line for line in hunk.lines if line.kind == "-"]
    added = [line for line in hunk.lines if line.kind == "+"]
    assert [(line.old, line.text) for line in removed] == [(10, "line 10")]
    assert [(line.new, line.text) for line in added] == [
        (10, "line ten"),
        (11, "line ten and a half"),
    ]
    context_after = hunk.lines[-1]
    assert (context_after.old, context_after.new, context_after.text) == (13, 14, "line 13")


def test_new_file_is_all_additions_from_line_one(tmp_path: Path) -> None:
    (hunk,) = parse_patch(_only_patch(tmp_path, None, b"a\nb\n"), path="new.py")
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (0, 0, 1, 2)
    assert [(line.kind, line.new, line.old) for line in hunk.lines] == [
        ("+", 1, None),
        ("+", 2, None),
    ]


def test_deleted_file_is_all_removals(tmp_path: Path) -> None:
    (hunk,) = parse_patch(_only_patch(tmp_path, b"a\nb\nc\n", None), path="gone.py")
    assert [(line.kind, line.old) for line in hunk.lines] == [("-", 1), ("-", 2), ("-", 3)]
    assert hunk.new_len == 0


def test_missing_final_newline_is_flagged_on_its_line(tmp_path: Path) -> None:
    (hunk,) = parse_patch(_only_patch(tmp_path, b"a\nb", b"a\nb\nc"), path="f")
    flagged = [(line.kind, line.text) for line in hunk.lines if line.no_newline]
    assert flagged == [("-", "b"), ("+", "c")]
    assert all("No newline" not in line.text for line in hunk.lines)


def test_crlf_lines_keep_their_carriage_return_and_numbering(tmp_path: Path) -> None:
    (hunk,) = parse_patch(_only_patch(tmp_path, b"a\r\nb\r\nc\r\n", b"a\r\nB\r\nc\r\n"), path="w")
    assert [(line.kind, line.text) for line in hunk.lines] == [
        (" ", "a\r"),
        ("-", "b\r"),
        ("+", "B\r"),
        (" ", "c\r"),
    ]
    assert hunk.lines[-1].new == 3


def test_unicode_and_line_separator_characters_stay_inside_their_line(tmp_path: Path) -> None:
    new = "naïve = '日本語'\nsep = 'a\u2028b\x0cc\x1dd\x85e'\nemoji = '🦀'\n".encode()
    (hunk,) = parse_patch(_only_patch(tmp_path, None, new), path="u.py")
    assert [line.text for line in hunk.lines] == [
        "naïve = '日本語'",
        "sep = 'a\u2028b\x0cc\x1dd\x85e'",
        "emoji = '🦀'",
    ]
    assert hunk.lines[-1].new == 3


def test_renamed_file_with_edits_keeps_both_paths(tmp_path: Path) -> None:
    patch = _only_patch(tmp_path, b"x = 1\ny = 2\n", b"x = 1\ny = 3\n")
    parsed = parse_file(changed("pkg/new.py", patch, "renamed", previous_path="pkg/old.py"))
    assert (parsed.path, parsed.previous_path, parsed.changed_lines) == (
        "pkg/new.py",
        "pkg/old.py",
        2,
    )


@pytest.mark.parametrize("patch", [None, ""])
def test_pure_rename_or_mode_change_has_no_hunks(patch: str | None) -> None:
    parsed = parse_file(changed("bin/run.sh", patch, "renamed", previous_path="run.sh"))
    assert parsed.hunks == ()


def test_binary_change_gives_no_patch(tmp_path: Path) -> None:
    assert git_patch(tmp_path, b"\x00\x01\x02", b"\x00\x01\x03") is None


def test_several_hunks_parse_in_order(tmp_path: Path) -> None:
    old = "".join(f"{n}\n" for n in range(1, 101)).encode()
    new = old.replace(b"\n5\n", b"\nfive\n").replace(b"\n90\n", b"\nninety\n")
    hunks = parse_patch(_only_patch(tmp_path, old, new), path="n")
    assert [(h.old_start, h.new_start) for h in hunks] == [(2, 2), (87, 87)]


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ("hello world", "does not start with a hunk header"),
        ("@@ -1,2 +1,2 @@\n a", "Hunk is shorter than expected"),
        ("@@ -1 +1 @@\n-a\n+b\ngarbage after the hunk", "text outside any hunk"),
        ("@@ -1,1 +1,1 @@\n*a", "Hunk diff line expected"),
        ("@@ -x +1 @@\n+a", "does not start with a hunk header"),
    ],
)
def test_malformed_patch_raises_typed_error_naming_the_file(patch: str, reason: str) -> None:
    with pytest.raises(PatchParseError) as caught:
        parse_patch(patch, path="src/broken.py")
    assert caught.value.path == "src/broken.py"
    assert caught.value.reason == reason


def test_parse_error_message_never_quotes_diff_text() -> None:
    """Diff lines may hold secrets; errors end up in logs and the summary."""
    with pytest.raises(PatchParseError) as caught:
        parse_patch("@@ -1,1 +1,1 @@\n*password=hunter2", path="cfg")
    assert "hunter2" not in str(caught.value)


def test_malformed_file_is_skipped_and_the_others_are_kept() -> None:
    files = [changed("ok.py", "@@ -1 +1 @@\n-a\n+b"), changed("bad.py", "@@ -1,5 +1,5 @@\n a")]
    parsed, skipped = parse_changed_files(files)
    assert [p.path for p in parsed] == ["ok.py"]
    assert [(s.path, s.reason) for s in skipped] == [
        ("bad.py", "unreadable diff (Hunk is shorter than expected)")
    ]
