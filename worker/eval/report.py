"""The report of an eval run (JSON via msgspec), and its totals. Pure.

`kimi-review eval --json FILE` writes an `EvalReport`; `--compare A B`
reads two back. `schema` is bumped when a field changes meaning; new fields
get defaults, so older reports still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import msgspec

from worker.eval.scoring import Score, macro_f1, micro

SCHEMA: Final = 1
CaseStatus = Literal["judged", "unjudged", "not_judged", "failed"]


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    """Tokens in (`prompt`, cached ones included), cached, out, and answered calls."""

    prompt: int = 0
    cached: int = 0
    completion: int = 0
    calls: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            prompt=self.prompt + other.prompt,
            cached=self.cached + other.cached,
            completion=self.completion + other.completion,
            calls=self.calls + other.calls,
        )


class ReportedFinding(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    line: int
    severity: str
    category: str
    title: str
    body: str


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """The judge's verdict on one expected issue."""

    expected: int
    finding: int | None
    reason: str = ""


class CaseReport(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: CaseStatus
    expected: int
    findings: list[ReportedFinding] = msgspec.field(default_factory=list)
    # Dropped by the verifying pass: listed, never scored (precision counts kept findings).
    dropped_by_verification: list[ReportedFinding] = msgspec.field(default_factory=list)
    found: int | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    matches: list[Match] = msgspec.field(default_factory=list)
    review_tokens: Tokens = msgspec.field(default_factory=Tokens)
    judge_tokens: Tokens = msgspec.field(default_factory=Tokens)
    seconds: float = 0.0  # the review's wall time
    judge_seconds: float = 0.0
    snapshot: str = "none"  # "used", "offline", "none" (no recipe), or why it is missing
    error: str | None = None  # why the case failed or is unjudged

    @property
    def score(self) -> Score | None:
        if self.status != "judged" or self.found is None:
            return None
        return Score(found=self.found, findings=len(self.findings), expected=self.expected)


class InvalidCaseReport(msgspec.Struct, frozen=True):
    id: str
    error: str


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    cases: int
    judged: int
    unjudged: list[str]
    failed: list[str]
    invalid: list[str]
    expected: int
    found: int
    findings: int
    precision: float | None
    recall: float | None
    f1: float | None
    macro_f1: float | None
    findings_per_pr: float | None
    review_tokens: Tokens
    judge_tokens: Tokens
    seconds: float  # the run's wall time


class EvalReport(msgspec.Struct, frozen=True, kw_only=True):
    schema: int = SCHEMA
    version: str
    dataset: str
    model: str
    judge_model: str | None  # None with --no-judge
    started_at: str  # ISO 8601, UTC
    cases: list[CaseReport]
    invalid: list[InvalidCaseReport] = msgspec.field(default_factory=list)
    totals: Totals


def totals(
    cases: list[CaseReport], invalid: list[InvalidCaseReport], seconds: float, *, judged: bool
) -> Totals:
    """Micro-averaged P/R/F1 over the judged cases, the macro F1, and the cost of all."""
    scores = [s for s in (c.score for c in cases) if s is not None]
    overall = micro(scores)
    reviewed = [c for c in cases if c.status != "failed"]
    review_tokens = judge_tokens = Tokens()
    for case in cases:
        review_tokens += case.review_tokens
        judge_tokens += case.judge_tokens
    findings = sum(len(c.findings) for c in reviewed)
    return Totals(
        cases=len(cases),
        judged=len(scores),
        unjudged=[c.id for c in cases if c.status == "unjudged"],
        failed=[c.id for c in cases if c.status == "failed"],
        invalid=[i.id for i in invalid],
        expected=overall.expected,
        found=overall.found,
        findings=overall.findings if judged else findings,
        precision=overall.precision if scores else None,
        recall=overall.recall if scores else None,
        f1=overall.f1 if scores else None,
        macro_f1=macro_f1(scores),
        findings_per_pr=findings / len(reviewed) if reviewed else None,
        review_tokens=review_tokens,
        judge_tokens=judge_tokens,
        seconds=round(seconds, 2),
    )


def encode_report(report: EvalReport) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


class ReportError(ValueError):
    """A file given to --compare is not an eval report."""


def load_report(path: Path) -> EvalReport:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return msgspec.json.decode(raw, type=EvalReport)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ReportError(f"{path}: not a kimi-review eval report ({exc})") from None
