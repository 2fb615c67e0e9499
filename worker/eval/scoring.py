"""Precision, recall and F1 from the judge's matches. Pure arithmetic.

The protocol of public code-review benchmarks: an expected issue is found
when some finding names the same underlying problem. Each finding is
credited to at most one expected issue (the first one, in the case's order,
that the judge matched it to), so `found` is at the same time the number of
expected issues found and the number of findings that found one:

    precision = found / findings      (no findings: undefined, shown as "-")
    recall    = found / expected
    F1        = 2 * P * R / (P + R)    (0 when found is 0)

Totals over a set are micro-averaged (sums of found, findings and expected
over the judged cases, then the same formulas); the macro F1 is the mean of
the judged cases' own F1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Score:
    found: int
    findings: int
    expected: int

    @property
    def precision(self) -> float | None:
        return self.found / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.found / self.expected if self.expected else None

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        if not self.found or p is None or r is None:
            return 0.0
        return 2 * p * r / (p + r)


def one_to_one(matches: Sequence[int | None]) -> list[int | None]:
    """Keep each finding's first claim: a later expected issue naming it again is not found.

    `matches[i]` is the index of the finding the judge matched to expected
    issue i, or None.
    """
    taken: set[int] = set()
    kept: list[int | None] = []
    for finding in matches:
        if finding is None or finding in taken:
            kept.append(None)
        else:
            taken.add(finding)
            kept.append(finding)
    return kept


def case_score(matches: Sequence[int | None], findings: int) -> Score:
    """The score of one case whose matches are already one-to-one."""
    found = sum(1 for m in matches if m is not None)
    return Score(found=found, findings=findings, expected=len(matches))


def micro(scores: Sequence[Score]) -> Score:
    """Sums over the cases: the set scored as if it were one big case."""
    return Score(
        found=sum(s.found for s in scores),
        findings=sum(s.findings for s in scores),
        expected=sum(s.expected for s in scores),
    )


def macro_f1(scores: Sequence[Score]) -> float | None:
    """The mean of the cases' F1; None for no case."""
    return sum(s.f1 for s in scores) / len(scores) if scores else None
