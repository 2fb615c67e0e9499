"""The anchor map: which lines a review comment may target, per side and hunk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_diff_support import changed, difflib_patch
from worker.diff.anchors import NEAREST_REACH, AnchorMap
from worker.diff.model import AnchorLookup
from worker.diff.parse import parse_file

# Two hunks: new lines 7..13 and 48..54 (old 7..12 and 47..53).
OLD = [f"line {n}" for n in range(1, 61)]
NEW = [*OLD[:9], "inserted", *OLD[9:49], "changed", *OLD[50:]]


def _map() -> AnchorMap:
    return AnchorMap([parse_file(changed("a.py", difflib_patch(OLD, NEW)))])


def test_anchor_map_satisfies_the_lookup_protocol() -> None:
    lookup: AnchorLookup = _map()
    assert lookup.hunk_of("a.py", "RIGHT", 10) == 0


def test_right_side_covers_added_and_context_lines_of_each_hunk() -> None:
    anchors = _map()
    assert [n for n in range(1, 62) if anchors.is_commentable("a.py", "RIGHT", n)] == [
        *range(7, 14),
        *range(48, 55),
    ]
    assert anchors.hunk_of("a.py", "RIGHT", 13) == 0
    assert anchors.hunk_of("a.py", "RIGHT", 48) == 1


def test_left_side_covers_removed_and_context_lines_by_old_number() -> None:
    anchors = _map()
    assert [n for n in range(1, 61) if anchors.is_commentable("a.py", "LEFT", n)] == [
        *range(7, 13),
        *range(47, 54),
    ]
    assert anchors.hunk_of("a.py", "LEFT", 50) == 1  # the removed "line 50"


def test_unknown_file_has_no_anchor() -> None:
    anchors = _map()
    assert anchors.hunk_of("other.py", "RIGHT", 10) is None
    assert anchors.nearest("other.py", "RIGHT", 10) is None


def test_nearest_keeps_a_commentable_line() -> None:
    assert _map().nearest("a.py", "RIGHT", 10) == 10


def test_nearest_moves_a_line_just_past_a_hunk_to_its_edge() -> None:
    anchors = _map()
    assert anchors.nearest("a.py", "RIGHT", 13 + NEAREST_REACH) == 13
    assert anchors.nearest("a.py", "RIGHT", 48 - 2) == 48
    assert anchors.nearest("a.py", "RIGHT", 5) == 7


def test_nearest_gives_up_on_a_line_far_from_every_hunk() -> None:
    anchors = _map()
    assert anchors.nearest("a.py", "RIGHT", 13 + NEAREST_REACH + 1) is None
    assert anchors.nearest("a.py", "RIGHT", 30) is None


def test_nearest_prefers_the_earlier_hunk_on_a_tie() -> None:
    patch = "@@ -1,2 +1,2 @@\n a\n-b\n+B\n@@ -7,2 +7,2 @@\n g\n-h\n+H"
    anchors = AnchorMap([parse_file(changed("t.py", patch))])
    assert anchors.nearest("t.py", "RIGHT", 4) == 2  # 2 lines after hunk 0, 3 before hunk 1
    assert anchors.nearest("t.py", "RIGHT", 5) == 7
    anchors_tie = AnchorMap([parse_file(changed("t.py", patch.replace("-7,2 +7,2", "-6,2 +6,2")))])
    assert anchors_tie.nearest("t.py", "RIGHT", 4) == 2  # 2 lines from each edge


def test_multi_line_range_must_stay_inside_one_hunk() -> None:
    anchors = _map()
    assert anchors.spans_one_hunk("a.py", "RIGHT", 8, 12)
    assert not anchors.spans_one_hunk("a.py", "RIGHT", 12, 48)
    assert not anchors.spans_one_hunk("a.py", "RIGHT", 12, 8)
    assert not anchors.spans_one_hunk("a.py", "RIGHT", 12, 14)


def test_deleted_file_has_only_left_anchors() -> None:
    patch = "@@ -1,2 +0,0 @@\n-a\n-b"
    anchors = AnchorMap([parse_file(changed("gone.py", patch, "removed"))])
    assert anchors.hunk_of("gone.py", "LEFT", 2) == 0
    assert anchors.hunk_of("gone.py", "RIGHT", 1) is None
    assert anchors.nearest("gone.py", "RIGHT", 1) is None


lines_strategy = st.lists(st.sampled_from(["a", "b", "c", "d", "", "e f"]), max_size=60)


@settings(max_examples=150, deadline=None)
@given(old=lines_strategy, new=lines_strategy)
def test_anchors_match_the_hunk_arithmetic(old: list[str], new: list[str]) -> None:
    parsed = parse_file(changed("p.py", difflib_patch(old, new)))
    anchors = AnchorMap([parsed])
    right: set[int] = set()
    left: set[int] = set()
    for index, hunk in enumerate(parsed.hunks):
        for line in hunk.lines:
            if line.new is not None:
                assert new[line.new - 1] == line.text
                assert anchors.hunk_of("p.py", "RIGHT", line.new) == index
                right.add(line.new)
            if line.old is not None:
                assert old[line.old - 1] == line.text
                assert anchors.hunk_of("p.py", "LEFT", line.old) == index
                left.add(line.old)
        assert sum(1 for line in hunk.lines if line.new is not None) == hunk.new_len
        assert sum(1 for line in hunk.lines if line.old is not None) == hunk.old_len
    for number in range(0, len(new) + 5):
        assert anchors.is_commentable("p.py", "RIGHT", number) == (number in right)
    for number in range(0, len(old) + 5):
        assert anchors.is_commentable("p.py", "LEFT", number) == (number in left)
