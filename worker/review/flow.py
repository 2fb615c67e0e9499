"""One review of one pull request head, from GitHub's state to the posted review.

The steps of docs/ARCHITECTURE.md's flow, in order: the PR still open and at that head
→ repo config from the base branch → full or incremental scope → chunks →
check run in progress → model calls (checkpointed) → placement against the
bot's earlier comments → ONE review → sticky summary → check run completed.

What differs between a worker and the one-shot CLI comes in through
`ReviewHooks` (where checkpoints live, the last reviewed head, whether a
newer head has a job of its own, whether this process still owns the PR's
lease) and `poster` (None for `--dry-run`). Deferral is not decided here:
when no model can serve, the check run says why and `ReviewDeferred` tells
the caller when to try again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

import structlog

from worker.config import Settings
from worker.diff.tokens import TokenEstimator
from worker.github.client import GitHubReader
from worker.github.models import PullRequestInfo
from worker.llm.base import TokenUsage
from worker.llm.errors import ModelsUnavailable, QuotaPaused
from worker.publish import messages
from worker.publish.check_run import (
    check_completed,
    check_deferred,
    check_external_id,
    check_quota_paused,
    check_skipped,
    check_waiting_for_maintainer,
)
from worker.publish.live_check import LiveCheck
from worker.publish.poster import ReviewPoster
from worker.publish.summary import SummaryInput, render_summary
from worker.repo_config.plan import ReviewPlan, decide
from worker.repo_config.read import LoadedConfig, read_repo_config
from worker.review.chunk_review import ChunkReviewer
from worker.review.hooks import Checkpoint, ReviewHooks
from worker.review.instructions import collect_instructions, github_base_reader, instructions_line
from worker.review.pipeline import (
    Ceiling,
    PreparedReview,
    Progress,
    ReviewOptions,
    ReviewResult,
    conclude_review,
    prepare_review,
    review_chunks,
)
from worker.review.repo_context import ReviewContext, github_head_source
from worker.review.scope import ReviewScope, review_scope
from worker.review.spend import changed_lines, waits_for_maintainer

log = structlog.get_logger("kimi_review.flow")
Status = Literal["posted", "already_posted", "skipped", "superseded", "dry_run"]


@dataclass(frozen=True, slots=True)
class ReviewTarget:
    """Which review to make: a head (None: the PR's current one), and how."""

    pr_number: int
    head_sha: str | None
    run: str | None = None  # set by `/review full`: another review of the same head
    full: bool = False  # the whole PR, not only what changed since the last review
    asked: bool = False  # a person asked (a command): drafts are reviewed too


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    status: Status
    reason: str
    head_sha: str | None = None
    review_url: str | None = None
    review_key: str | None = None
    started_at: float | None = None
    head_reviewed: bool = False  # skipped because this very head was reviewed before
    # Ended without reviewing the head for a reason that may pass (a draft,
    # reviews disabled, the PR closed): a later ready_for_review/reopened counts.
    unreviewed: bool = False
    prepared: PreparedReview | None = None
    result: ReviewResult | None = None


class ReviewDeferred(Exception):
    """No model can serve now; try again after `retry_after` seconds (None: back off)."""

    def __init__(self, reason: str, retry_after: float | None, *, paused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.paused = paused  # the main key's budget is spent (not an outage)


@dataclass(slots=True)
class ReviewFlow:
    """The clients one review uses; `run` makes the review (see the module docstring)."""

    settings: Settings
    reader: GitHubReader
    poster: ReviewPoster | None
    reviewer: ChunkReviewer
    hooks: ReviewHooks
    repository: str
    ceiling: Ceiling | None = None
    check_interval: float = 3.0
    progress: Progress | None = None  # a terminal's progress line (the CLI)

    async def run(self, target: ReviewTarget) -> FlowOutcome:
        pr = await self.reader.pull_request(target.pr_number)
        if pr.state != "open":
            return FlowOutcome("skipped", f"pull request is {pr.state}", unreviewed=True)
        head = target.head_sha or pr.head_sha
        if pr.head_sha != head:
            if await self.hooks.has_own_job(pr.head_sha):
                return FlowOutcome("superseded", f"head moved on to {pr.head_sha[:12]}", head)
            log.info("review_retargeted", requested=head[:12], head=pr.head_sha[:12])
            head = pr.head_sha
        loaded = await read_repo_config(self.reader, base_ref=pr.base_sha, base_label=pr.base_ref)
        plan = decide(
            loaded.config,
            command=("review_full" if target.full else "review") if target.asked else None,
            draft=pr.draft,
            env_thinking=self.settings.llm.thinking,
            env_max_comments=self.settings.review_max_comments,
            env_review_max_tokens=self.settings.llm.review_max_tokens,
            env_untrusted_max_lines=self.settings.review_untrusted_max_lines,
            env_min_severity=self.settings.review_min_severity,
        )
        if plan.skip == "disabled":
            reason = f"reviews disabled by {loaded.source}"
            return FlowOutcome("skipped", reason, head, unreviewed=True)
        if plan.skip == "draft":
            await self._skip_check(head, messages.DRAFT_SKIPPED)
            return FlowOutcome("skipped", "draft pull request", head, unreviewed=True)
        if self.poster is not None:
            found = await self.poster.find_review(pr.number, head, target.run)
            if found is not None:
                await self.hooks.set_last_reviewed(head)
                return FlowOutcome("already_posted", "review found by marker", head, found.html_url)
        last = await self.hooks.last_reviewed() if plan.incremental else None
        scope = await review_scope(self.reader, pr, last_reviewed_sha=last, full=target.full)
        if scope.mode == "nothing_new":
            await self.hooks.set_last_reviewed(head)
            await self._skip_check(head, f"nothing new to review: {scope.reason}")
            return FlowOutcome("skipped", scope.reason, head, head_reviewed=last == head)
        lines, limit = changed_lines(scope.files), plan.untrusted_max_lines
        if waits_for_maintainer(pr.author_association, lines, limit, asked=target.asked):
            if self.poster is not None:  # no token spent: a maintainer's `/review` starts it
                await self.poster.start_check(head, check_waiting_for_maintainer(lines, limit))
            reason = f"{lines:,} changed lines from outside the repository wait for `/review`"
            return FlowOutcome("skipped", reason, head)
        return await self._review(pr, head, target, loaded, plan, scope)

    async def _review(
        self,
        pr: PullRequestInfo,
        head: str,
        target: ReviewTarget,
        loaded: LoadedConfig,
        plan: ReviewPlan,
        scope: ReviewScope,
    ) -> FlowOutcome:
        config = loaded.config
        checkpoint = self.hooks.checkpoint(head, target.run)
        started_at = await checkpoint.started_at(time.time())
        estimator = await checkpoint.estimator(TokenEstimator())
        # Instruction files come from the BASE commit: a PR cannot instruct its own review.
        base_files = github_base_reader(self.reader, pr.base_sha)
        pr_paths = [f.path for f in scope.pr_files.files]
        instructions = await collect_instructions(base_files, pr_paths)
        options = ReviewOptions(
            budget_tokens=self.settings.llm.chunk_tokens,
            include=config.include,
            exclude=config.exclude,
            extra_instructions=config.extra_instructions,
            language=config.language,
            instruction_files=instructions,
        )
        incremental = scope.mode == "incremental"
        # Parsing, masking and chunking a big PR takes seconds of CPU: off the
        # event loop, so lease renewals and other reviews keep running.
        prepared = await asyncio.to_thread(
            prepare_review,
            scope.files,
            title=pr.title,
            description=pr.body,
            repository=self.repository,
            options=options,
            estimator=estimator,
            anchor_files=scope.pr_files.files if incremental else None,
        )
        review_key = f"{self.repository}#{pr.number}@{head[:12]}" + (
            f":{target.run}" if target.run else ""
        )
        # No chunk to explain (every file skipped): no archive to download.
        targeted = self.settings.llm.context == "targeted" and bool(prepared.chunks)
        context = await ReviewContext.open(
            github_head_source(self.reader, head) if targeted else None,
            focus=[f.path for f in scope.files],
            chunk_chars=prepared.estimator.chars_for(self.settings.llm.chunk_tokens),
            where=f"the head {head[:7]}",
        )
        run_notes = [n for n in (context.note, instructions_line(instructions)) if n]
        live = await self._live_check(head, target.run, checkpoint, len(prepared.chunks))
        # The repository's `review_max_tokens` may lower the operator's ceiling.
        ceiling = self.ceiling.lowered(plan.review_max_tokens) if self.ceiling else None
        try:
            outcomes = await review_chunks(
                prepared,
                self.reviewer,
                review_key=review_key,
                store=checkpoint,
                progress=_both(live.progress if live else None, self.progress),
                ceiling=ceiling,
                thinking=plan.thinking,
                context=context,
            )
        except ModelsUnavailable as exc:
            await self._deferred(live, exc)
            paused = isinstance(exc, QuotaPaused)
            raise ReviewDeferred(str(exc), exc.retry_after, paused=paused) from exc
        finally:
            if live is not None:
                await live.stop()
        earlier = frozenset[str]()
        if self.poster is not None:
            earlier = await self.poster.earlier_fingerprints(pr.number)
        cap = plan.max_comments
        result = conclude_review(
            prepared,
            outcomes,
            cap=cap,
            earlier=earlier,
            min_severity=plan.min_severity,
            run_notes=run_notes,
        )
        if self.poster is None:
            return FlowOutcome(
                "dry_run",
                "not posted (--dry-run)",
                head,
                review_key=review_key,
                started_at=started_at,
                prepared=prepared,
                result=result,
            )
        await self.hooks.ensure_owner()
        now = await self.reader.pull_request(pr.number)
        ended: FlowOutcome | None = None
        if now.state != "open":
            reason = f"pull request {now.state} while reviewing"
            ended = FlowOutcome("skipped", reason, head, unreviewed=True)
        elif now.head_sha != head and await self.hooks.has_own_job(now.head_sha):
            ended = FlowOutcome("superseded", f"head moved on to {now.head_sha[:12]}", head)
        posted = None
        if ended is None:
            posted = await self.poster.post_review(
                pr.number, head, result.placement, run=target.run, fence=self.hooks.fence
            )
            if posted.outcome == "commit_moved":
                reason = "GitHub no longer accepts comments on this head"
                ended = FlowOutcome("superseded", reason, head)
        if ended is not None or posted is None:
            ended = ended or FlowOutcome("skipped", "not posted", head)
            check_id = await checkpoint.check_run_id()
            if check_id is not None:  # the check run must not stay "in progress" forever
                await self.poster.update_check(check_id, check_skipped(ended.reason))
            return ended
        info = SummaryInput(
            head_sha=head,
            model=" + ".join(result.models)
            or (self.settings.llm.main.model if self.settings.llm.main else "-"),
            chunk_summaries=result.chunk_summaries,
            incremental=incremental,
            base_sha=scope.since_sha if incremental else None,
            skipped_files=[*scope.skipped, *prepared.skipped],
            masked_secrets=prepared.masked,
            long_lines=prepared.long_lines,
            dropped_chunks=result.dropped,
            fallback_model=result.fallback_model,
            fallback_reason=result.fallback_reason,
            thinking=result.thinking,
            tokens=result.tokens,
            quota_line=await self.hooks.quota_line(),
            config_note=loaded.error,
            link_host=self.poster.link_host,
            token_ceiling=ceiling.limit if ceiling else None,
            run_notes=result.run_notes,
            refuted=result.refuted,
            round_notes=result.round_notes,
        )
        await self.poster.upsert_summary(pr.number, render_summary(posted.placement, info, cap=cap))
        check_id = await checkpoint.check_run_id()
        if check_id is not None:
            await self.poster.update_check(check_id, check_completed(posted.placement, info))
        await self.hooks.set_last_reviewed(head)
        log.info(
            "review_done",
            outcome=posted.outcome,
            inline=len(posted.placement.inline),
            in_summary=len(posted.placement.in_summary),
            seconds=round(time.time() - started_at, 1),
        )
        return FlowOutcome(
            "posted" if posted.outcome == "posted" else "already_posted",
            "review posted",
            head,
            posted.html_url,
            review_key=review_key,
            started_at=started_at,
            prepared=prepared,
            result=result,
        )

    async def _live_check(
        self, head: str, target_run: str | None, checkpoint: Checkpoint, total: int
    ) -> LiveCheck | None:
        if self.poster is None:
            return None
        live = LiveCheck(self.poster, total, interval=self.check_interval)
        check_id = await checkpoint.check_run_id()
        if check_id is None:
            # Found first: a crash between creating it and saving its id must
            # not leave one stuck "in progress" beside a second one.
            tag = check_external_id(head, target_run)
            check_id = await self.poster.find_open_check(head, tag)
            if check_id is None:
                check_id = await self.poster.start_check(head, live.first_update(), external_id=tag)
            await checkpoint.set_check_run_id(check_id)
        live.start(check_id)
        return live

    async def _deferred(self, live: LiveCheck | None, exc: ModelsUnavailable) -> None:
        if live is None or live.check_run_id is None or self.poster is None:
            return
        if isinstance(exc, QuotaPaused):
            line = await self.hooks.quota_line() or str(exc)
            update = check_quota_paused(line)
        else:
            update = check_deferred("; ".join(exc.reasons))
        await self.poster.update_check(live.check_run_id, update)

    async def _skip_check(self, head: str, reason: str) -> None:
        if self.poster is not None:
            await self.poster.start_check(head, check_skipped(reason))


def _both(first: Progress | None, second: Progress | None) -> Progress | None:
    """One progress callback feeding the live check run and a terminal line."""
    if first is None or second is None:
        return first or second

    async def report(done: int, total: int, usage: TokenUsage) -> None:
        for callback in (first, second):
            maybe = callback(done, total, usage)
            if maybe is not None:
                await maybe

    return report
