"""Merging finder passes and applying the verifier's verdicts: pure rules."""

from __future__ import annotations

from worker.model_answer import Finding
from worker.review.passes import merge_findings, pass_messages, same_problem
from worker.review.verify import Verdict, apply_verdicts


def at(line: int, title: str, severity: str = "medium", **more: object) -> Finding:
    return Finding(path="a.py", line=line, title=title, body="b", severity=severity, **more)  # type: ignore[arg-type]


def test_a_reworded_finding_a_few_lines_away_is_the_same_problem() -> None:
    assert same_problem(at(10, "Off by one in the loop"), at(12, "Off-by-one in loop"))
    assert not same_problem(at(10, "Off by one in the loop"), at(14, "Off by one in the loop"))
    assert not same_problem(at(10, "Off by one in the loop"), at(11, "SQL injection in query"))
    other_side = Finding(
        path="a.py", line=10, title="Off by one in the loop", body="b", side="LEFT"
    )
    assert not same_problem(at(10, "Off by one in the loop"), other_side)


def test_merging_keeps_the_more_severe_then_the_more_detailed_copy() -> None:
    weak = at(10, "Off by one in the loop")
    strong = at(11, "Off by one in loop", "high")
    detailed = Finding(path="a.py", line=9, title="Off by one in the loop", body="much longer body")
    other = at(30, "Leaks a file handle")
    assert merge_findings([[weak, other], [strong]]) == [strong, other]
    assert merge_findings([[weak], [detailed]]) == [detailed]


def test_only_later_passes_carry_a_note_and_only_at_the_end() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert pass_messages(messages, 1, 3) == messages
    second = pass_messages(messages, 2, 3)
    assert second[0] == messages[0]
    assert second[1]["content"].startswith("U")
    assert "pass 2 of 3" in second[1]["content"]


def test_only_a_drop_verdict_drops_and_corrections_apply_to_kept_findings() -> None:
    findings = [
        at(3, "refuted"),
        at(5, "unproven", suggestion="fix", start_line=4),
        at(8, "no verdict"),
    ]
    verdicts = [
        Verdict(id=1, verdict="drop", reason="handled on line 2"),
        Verdict(id=2, verdict="keep", line=6, severity="low"),
        Verdict(id=9, verdict="drop", reason="invented"),
        Verdict(id=2, verdict="drop", reason="a second verdict for one id is ignored"),
    ]
    kept, dropped = apply_verdicts(findings, verdicts)
    assert [(d.finding.title, d.reason) for d in dropped] == [("refuted", "handled on line 2")]
    corrected, untouched = kept
    assert (corrected.line, corrected.severity, corrected.start_line, corrected.suggestion) == (
        6,
        "low",
        None,
        None,
    )
    assert untouched == findings[2]
