"""Running an eval: every case through the one-shot review, then the judge; the report.

Cases run `jobs` at a time on one `LocalModels`, so every model call of the
run (reviews and judge) waits at the same in-process gates: `--jobs` only
keeps thinking calls from serialising the run, the cap still holds. Each
case's review is `worker.review.local.review_local`, the very path of
`kimi-review review --diff`, under the review key `eval:<case>`; its
snapshot (fetched on first use) is passed as the repository. A case whose
models all refused is `failed`, one the judge could not judge `unjudged`;
both are listed and left out of the scores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import structlog
from msgspec.structs import replace

from worker.config import Settings
from worker.diff.local import changed_files_from_diff
from worker.eval.dataset import Case, InvalidCase
from worker.eval.judge import Judge, build_judge, judge_key
from worker.eval.judge_prompt import JudgedFinding, load_judge_template
from worker.eval.report import (
    CaseReport,
    EvalReport,
    InvalidCaseReport,
    Match,
    ReportedFinding,
    Tokens,
    totals,
)
from worker.eval.scoring import case_score, one_to_one
from worker.eval.snapshots import SnapshotRefused, fetch_snapshot
from worker.llm.errors import ModelsUnavailable, QuotaPaused
from worker.model_answer import Finding, Severity
from worker.review.conclude import ReviewResult
from worker.review.local import CallTally, LocalChange, LocalModels, open_local_models, review_local
from worker.version import user_agent, version

log = structlog.get_logger(__name__)
CaseProgress = Callable[[int, int, Tokens], Awaitable[None] | None]
FETCH_TIMEOUT = httpx.Timeout(120, connect=10)


@dataclass(frozen=True, slots=True)
class RunOptions:
    cache: Path  # where snapshots are kept (worker.eval.snapshots.cache_root)
    judge: bool = True
    jobs: int = 3
    offline: bool = False


def reported_findings(result: ReviewResult) -> list[ReportedFinding]:
    """Every finding the review reports, inline first then in the summary, ranked."""
    placed = [(i.finding, i.line) for i in result.placement.inline]
    placed += [(s.finding, s.finding.line) for s in result.placement.in_summary]
    return _reported(placed)


def dropped_findings(result: ReviewResult) -> list[ReportedFinding]:
    """The findings the verifying pass dropped: listed in the report, never scored."""
    return _reported([(r.finding, r.finding.line) for r in result.refuted])


def _reported(placed: list[tuple[Finding, int]]) -> list[ReportedFinding]:
    return [
        ReportedFinding(
            path=f.path,
            line=line,
            severity=f.severity,
            category=f.category,
            title=f.title,
            body=f.body,
        )
        for f, line in placed
    ]


def _reason(claimed: int | None, kept: int | None, reason: str) -> str:
    """The judge's reason, saying so when its match went to an earlier expected issue."""
    if claimed is not None and kept is None:
        return f"F{claimed} already counted for an earlier expected issue (judge: {reason})"
    return reason


def _tokens(tally: CallTally) -> Tokens:
    return Tokens(
        prompt=tally.prompt, cached=tally.cached, completion=tally.completion, calls=tally.calls
    )


class _Run:
    def __init__(
        self, options: RunOptions, models: LocalModels, judge: Judge | None, min_severity: Severity
    ) -> None:
        self.options = options
        self.min_severity = min_severity
        self.models = models
        self.judge = judge
        self.fetch = httpx.AsyncClient(
            timeout=FETCH_TIMEOUT, follow_redirects=True, headers={"User-Agent": user_agent()}
        )

    async def snapshot(self, case: Case) -> tuple[Path | None, str]:
        if case.snapshot is None:
            return None, "none"
        if self.options.offline:
            return None, "offline"
        try:
            path = await fetch_snapshot(case.snapshot, http=self.fetch, cache=self.options.cache)
        except (SnapshotRefused, httpx.HTTPError, OSError) as exc:
            log.warning("eval_snapshot_unavailable", case=case.id, error=str(exc))
            return None, f"unavailable: {exc}"
        return path, "used"

    async def case(self, case: Case) -> CaseReport:
        repo, snapshot = await self.snapshot(case)
        name = case.snapshot.package if case.snapshot and case.snapshot.package else case.id
        files = changed_files_from_diff(case.diff)
        # The snapshot is the head: context from it, instructions from it minus the diff's files.
        change = LocalChange(files, case.title, case.description, name, repo, snapshot=True)
        key = f"eval:{case.id}"
        started = time.monotonic()
        report = CaseReport(
            id=case.id, status="not_judged", expected=len(case.expected), snapshot=snapshot
        )
        try:
            review = await review_local(
                self.models, change, review_key=key, min_severity=self.min_severity
            )
        except (ModelsUnavailable, QuotaPaused) as exc:
            return replace(report, status="failed", error=str(exc), review_tokens=self._tally(key))
        findings = reported_findings(review.result)
        report = replace(
            report,
            findings=findings,
            dropped_by_verification=dropped_findings(review.result),
            seconds=round(time.monotonic() - started, 2),
            review_tokens=self._tally(key),
        )
        return report if self.judge is None else await self._judged(case, report, self.judge)

    async def _judged(self, case: Case, report: CaseReport, judge: Judge) -> CaseReport:
        started = time.monotonic()
        shown = [
            JudgedFinding(f.path, f.line, f.severity, f.category, f.title, f.body)
            for f in report.findings
        ]
        verdict = await judge.judge(case.id, case.expected, shown)
        report = replace(
            report,
            judge_seconds=round(time.monotonic() - started, 2),
            judge_tokens=self._tally(judge_key(case.id)),
        )
        if verdict.unjudged is not None:
            return replace(report, status="unjudged", error=verdict.unjudged)
        kept = one_to_one(verdict.matches)
        score = case_score(kept, len(report.findings))
        matches = [
            Match(expected=n, finding=f, reason=_reason(verdict.matches[n], f, verdict.reasons[n]))
            for n, f in enumerate(kept)
        ]
        return replace(
            report,
            status="judged",
            found=score.found,
            precision=score.precision,
            recall=score.recall,
            f1=score.f1,
            matches=matches,
        )

    def _tally(self, key: str) -> Tokens:
        return _tokens(self.models.tally.of(key))


async def run_eval(
    settings: Settings,
    cases: list[Case],
    invalid: list[InvalidCase],
    *,
    options: RunOptions,
    dataset: str,
    progress: CaseProgress | None = None,
) -> EvalReport:
    """Review (and judge) every case; the report in the dataset's order."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    clock = time.monotonic()
    reports: dict[str, CaseReport] = {}
    async with open_local_models(settings.llm) as models:
        judge = build_judge(settings, models, load_judge_template()) if options.judge else None
        run = _Run(options, models, judge, settings.review_min_severity)
        slots = asyncio.Semaphore(max(1, options.jobs))
        spent = Tokens()

        async def one(case: Case) -> None:
            nonlocal spent
            async with slots:
                report = await run.case(case)
            reports[case.id] = report
            spent = spent + report.review_tokens + report.judge_tokens
            if progress is not None:
                maybe = progress(len(reports), len(cases), spent)
                if maybe is not None:
                    await maybe

        try:
            async with asyncio.TaskGroup() as group:
                for case in cases:
                    group.create_task(one(case))
        finally:
            await run.fetch.aclose()
    ordered = [reports[c.id] for c in cases]
    bad = [InvalidCaseReport(i.id, i.error) for i in invalid]
    assert settings.llm.main is not None  # open_local_models refused otherwise
    return EvalReport(
        version=version(),
        dataset=dataset,
        model=settings.llm.main.model,
        judge_model=judge.model if judge else None,
        started_at=started_at,
        cases=ordered,
        invalid=bad,
        totals=totals(ordered, bad, time.monotonic() - clock, judged=options.judge),
    )
