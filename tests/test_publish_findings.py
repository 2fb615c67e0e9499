"""Placement is total: every finding ends inline, in the summary, merged or already posted."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.diff.model import Side
from worker.model_answer import Finding
from worker.publish.findings import (
    InlineFinding,
    Placement,
    collapse_ranges,
    comment_cap,
    count_by_severity,
    demote_rejected,
    place_findings,
)


class HunkAnchors:
    """A small `AnchorLookup`: per (path, side), hunk ranges of commentable lines."""

    def __init__(self, ranges: Mapping[tuple[str, Side], list[tuple[int, int]]], reach: int = 3):
        self._ranges = ranges
        self._reach = reach

    def hunk_of(self, path: str, side: Side, line: int) -> int | None:
        for index, (first, last) in enumerate(self._ranges.get((path, side), [])):
            if first <= line <= last:
                return index
        return None

    def nearest(self, path: str, side: Side, line: int) -> int | None:
        if self.hunk_of(path, side, line) is not None:
            return line
        edges = [(abs(e - line), e) for r in self._ranges.get((path, side), []) for e in r]
        if not edges:
            return None
        distance, edge = min(edges)
        return edge if distance <= self._reach else None


# src/app.py: RIGHT hunks 10-20 and 40-45; LEFT hunk 10-18.
ANCHORS = HunkAnchors(
    {
        ("src/app.py", "RIGHT"): [(10, 20), (40, 45)],
        ("src/app.py", "LEFT"): [(10, 18)],
    }
)


def _finding(line: int = 12, **changes: object) -> Finding:
    fields: dict[str, object] = {
        "path": "src/app.py",
        "line": line,
        "title": f"Problem at {line}",
        "body": "Explained.",
    }
    fields.update(changes)
    return Finding(**fields)  # type: ignore[arg-type]


def _place(*findings: Finding, cap: int = 25, **kwargs: object) -> Placement:
    return place_findings(findings, ANCHORS, cap=cap, **kwargs)  # type: ignore[arg-type]


def test_a_finding_on_a_diff_line_stays_there_with_its_suggestion() -> None:
    placed = _place(_finding(14, suggestion="x = 2\n"))
    [item] = placed.inline
    assert (item.path, item.line, item.side, item.start_line) == ("src/app.py", 14, "RIGHT", None)
    assert item.suggestion == "x = 2"
    assert item.moved_from is None


def test_a_range_inside_one_hunk_keeps_its_suggestion() -> None:
    [item] = _place(_finding(15, start_line=12, suggestion="a\nb")).inline
    assert (item.start_line, item.line, item.suggestion) == (12, 15, "a\nb")


def test_a_range_across_hunks_becomes_one_line_without_suggestion() -> None:
    [item] = _place(_finding(41, start_line=18, suggestion="a")).inline
    assert (item.start_line, item.line, item.suggestion) == (None, 41, None)


def test_a_backwards_range_loses_its_range_and_suggestion() -> None:
    [item] = _place(_finding(12, start_line=15, suggestion="a")).inline
    assert (item.start_line, item.suggestion) == (None, None)


def test_a_suggestion_is_offered_on_the_right_side_only() -> None:
    [item] = _place(_finding(12, side="LEFT", suggestion="a")).inline
    assert item.side == "LEFT"
    assert item.suggestion is None


def test_a_blank_or_marker_shaped_suggestion_is_not_offered() -> None:
    blank, marker = _place(
        _finding(12, suggestion="  \n"),
        _finding(13, suggestion="<!-- kimi-review:fp=0123456789abcdef -->"),
    ).inline
    assert blank.suggestion is None
    assert marker.suggestion is None


def test_a_finding_just_off_the_diff_moves_to_the_nearest_line_and_says_so() -> None:
    [item] = _place(_finding(22, start_line=19, suggestion="a")).inline
    assert (item.line, item.moved_from, item.start_line, item.suggestion) == (20, 22, None, None)


def test_a_finding_far_off_the_diff_goes_to_the_summary() -> None:
    placed = _place(_finding(30))
    assert placed.inline == []
    [entry] = placed.in_summary
    assert (entry.reason, entry.finding.line) == ("off_diff", 30)


def test_a_finding_on_a_file_outside_the_diff_goes_to_the_summary() -> None:
    placed = _place(_finding(12, path="docs/unknown.md"))
    assert [e.reason for e in placed.in_summary] == ["off_diff"]


def test_diff_header_path_forms_are_resolved() -> None:
    placed = _place(_finding(12, path="./src/app.py"), _finding(13, path="b/src/app.py"))
    assert [i.path for i in placed.inline] == ["src/app.py", "src/app.py"]


def test_duplicates_within_a_run_are_merged_and_the_most_severe_kept() -> None:
    low = _finding(12, title="Leak", severity="low")
    high = _finding(12, title="leak.", severity="high", body="Other words.")
    placed = _place(low, high, _finding(12, title="Leak", severity="low"))
    [item] = placed.inline
    assert item.finding.severity == "high"
    assert placed.merged_duplicates == 2


def test_findings_already_posted_earlier_are_not_repeated() -> None:
    first = _place(_finding(12))
    earlier = frozenset(i.fingerprint for i in first.inline)
    again = _place(_finding(12), _finding(14), earlier=earlier)
    assert [i.line for i in again.inline] == [14]
    assert [f.line for f in again.already_posted] == [12]


def test_a_shifted_finding_on_the_same_code_is_recognised_after_a_push() -> None:
    """Line numbers move between pushes; the fingerprint follows the code."""
    old_code = {12: "eval(data)"}
    new_code = {17: "eval(data)"}
    first = _place(_finding(12, title="eval"), line_text=lambda p, s, n: old_code.get(n))
    earlier = frozenset(i.fingerprint for i in first.inline)
    second = _place(
        _finding(17, title="eval"), earlier=earlier, line_text=lambda p, s, n: new_code.get(n)
    )
    assert second.inline == []
    assert len(second.already_posted) == 1


def test_findings_are_ranked_by_severity_then_category() -> None:
    placed = _place(
        _finding(12, severity="low", category="style"),
        _finding(13, severity="critical", category="bug"),
        _finding(14, severity="high", category="performance"),
        _finding(15, severity="high", category="security"),
    )
    assert [i.line for i in placed.inline] == [13, 15, 14, 12]


def test_findings_over_the_cap_are_listed_in_the_summary() -> None:
    placed = _place(*[_finding(n, severity="low") for n in range(10, 16)], _finding(16), cap=3)
    assert [i.line for i in placed.inline] == [16, 10, 11]
    assert [(e.finding.line, e.reason) for e in placed.in_summary] == [
        (12, "over_cap"),
        (13, "over_cap"),
        (14, "over_cap"),
        (15, "over_cap"),
    ]


def test_repo_config_can_lower_the_cap_but_not_raise_it() -> None:
    assert comment_cap(25, None) == 25
    assert comment_cap(25, 10) == 10
    assert comment_cap(25, 100) == 25
    assert comment_cap(25, -1) == 0


def test_rejected_comments_move_to_the_summary() -> None:
    placed = _place(_finding(12), _finding(13), _finding(14))
    after = demote_rejected(placed, [1])
    assert [i.line for i in after.inline] == [12, 14]
    assert [(e.finding.line, e.reason) for e in after.in_summary] == [(13, "rejected")]


def test_collapsing_ranges_drops_ranges_and_their_suggestions() -> None:
    placed = _place(_finding(15, start_line=12, suggestion="a"), _finding(16, suggestion="b"))
    collapsed = collapse_ranges(placed)
    assert [(i.start_line, i.suggestion) for i in collapsed.inline] == [(None, None), (None, "b")]


def test_count_by_severity_lists_every_severity() -> None:
    counts = count_by_severity([_finding(severity="high"), _finding(severity="high")])
    assert counts == {"critical": 0, "high": 2, "medium": 0, "low": 0}


_findings = st.builds(
    Finding,
    path=st.sampled_from(["src/app.py", "./src/app.py", "b/src/app.py", "other.py"]),
    line=st.integers(0, 60),
    start_line=st.none() | st.integers(0, 60),
    side=st.sampled_from(["LEFT", "RIGHT"]),
    severity=st.sampled_from(["critical", "high", "medium", "low"]),
    category=st.sampled_from(["bug", "security", "style"]),
    title=st.sampled_from(["Leak", "leak", "Race", "Null deref"]),
    body=st.sampled_from(["a", "b"]),
    suggestion=st.none() | st.sampled_from(["x", "y\n"]),
)


@settings(max_examples=300)
@given(
    findings=st.lists(_findings, max_size=30),
    cap=st.integers(0, 10),
    earlier_count=st.integers(0, 3),
)
def test_placement_is_total(findings: list[Finding], cap: int, earlier_count: int) -> None:
    """Every finding is inline, in the summary, merged into one that is, or posted before."""
    seed = place_findings(findings[:earlier_count], ANCHORS, cap=100)
    earlier = frozenset(i.fingerprint for i in seed.inline)
    placed = place_findings(findings, ANCHORS, cap=cap, earlier=earlier)

    shown = len(placed.inline) + len(placed.in_summary)
    assert shown + len(placed.already_posted) + placed.merged_duplicates == len(findings)
    assert len(placed.inline) <= cap
    for item in placed.inline:
        assert ANCHORS.hunk_of(item.path, item.side, item.line) is not None
        if item.start_line is not None:
            assert item.start_line < item.line
            assert ANCHORS.hunk_of(item.path, item.side, item.start_line) == ANCHORS.hunk_of(
                item.path, item.side, item.line
            )
        if item.suggestion is not None:
            assert item.side == "RIGHT"
            assert item.moved_from is None
    visible = {i.fingerprint for i in placed.inline} | {e.fingerprint for e in placed.in_summary}
    assert len(visible) == shown, "one entry per fingerprint"
    fresh = [i for i in placed.inline if isinstance(i, InlineFinding)]
    assert all(i.fingerprint not in earlier for i in fresh)
