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

import structlog

from worker.config import Settings
from worker.diff.tokens import TokenEstimator
from worker.github.client import GitHubReader
from worker.github.models import PullRequestInfo
from worker.llm.base import TokenUsage
from worker.llm.errors import ModelsUnavailable, QuotaPaused
from worker.publish import messages
from worker.publish.check_run import (
    check_deferred,
    check_external_id,
    check_quota_paused,
    check_skipped,
    check_waiting_for_maintainer,
)
from worker.publish.live_check import LiveCheck
from worker.publish.poster import ReviewPoster
from worker.repo_config.plan import ReviewPlan, decide
from worker.repo_config.read import LoadedConfig, read_repo_config
from worker.review.chunk_review import ChunkReviewer
from worker.review.conclude import conclude_review
from worker.review.finish import Finish
from worker.review.hooks import Checkpoint, ReviewHooks
from worker.review.instructions import collect_instructions, github_base_reader, instructions_line
from worker.review.outcome import FlowOutcome, ReviewDeferred, ReviewRun, ReviewTarget
from worker.review.pipeline import Ceiling, ChunkOutcomes, Progress, review_chunks
from worker.review.prepare import PreparedReview, ReviewOptions, prepare_review
from worker.review.prompt import InstructionFile
from worker.review.repo_context import ReviewContext, github_head_source
from worker.review.scope import ReviewScope, review_scope
from worker.review.spend import changed_lines, waits_for_maintainer

log = structlog.get_logger("kimi_review.flow")


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
        checkpoint = self.hooks.checkpoint(head, target.run)
        started_at = await checkpoint.started_at(time.time())
        review_key = f"{self.repository}#{pr.number}@{head[:12]}" + (
            f":{target.run}" if target.run else ""
        )
        run = ReviewRun(pr, head, target, loaded, plan, scope, checkpoint, started_at, review_key)
        prepared, instructions = await self._prepare(run)
        context = await self._context(run, prepared)
        run_notes = [n for n in (context.note, instructions_line(instructions)) if n]
        # The repository's `review_max_tokens` may lower the operator's ceiling.
        ceiling = self.ceiling.lowered(plan.review_max_tokens) if self.ceiling else None
        outcomes = await self._review_chunks(run, prepared, context, ceiling)
        earlier = frozenset[str]()
        if self.poster is not None:
            earlier = await self.poster.earlier_fingerprints(pr.number)
        result = conclude_review(
            prepared,
            outcomes,
            cap=plan.max_comments,
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
        finish = Finish(self.settings, self.reader, self.poster, self.hooks)
        return await finish.post(run, prepared, result, ceiling)

    async def _prepare(self, run: ReviewRun) -> tuple[PreparedReview, tuple[InstructionFile, ...]]:
        """The chunks and the prompt's context; the instruction files they were given."""
        config = run.loaded.config
        estimator = await run.checkpoint.estimator(TokenEstimator())
        # Instruction files come from the BASE commit: a PR cannot instruct its own review.
        base_files = github_base_reader(self.reader, run.pr.base_sha)
        pr_paths = [f.path for f in run.scope.pr_files.files]
        instructions = await collect_instructions(base_files, pr_paths)
        options = ReviewOptions(
            budget_tokens=self.settings.llm.chunk_tokens,
            include=config.include,
            exclude=config.exclude,
            extra_instructions=config.extra_instructions,
            language=config.language,
            instruction_files=instructions,
        )
        # Parsing, masking and chunking a big PR takes seconds of CPU: off the
        # event loop, so lease renewals and other reviews keep running.
        prepared = await asyncio.to_thread(
            prepare_review,
            run.scope.files,
            title=run.pr.title,
            description=run.pr.body,
            repository=self.repository,
            options=options,
            estimator=estimator,
            anchor_files=run.scope.pr_files.files if run.incremental else None,
        )
        return prepared, instructions

    async def _context(self, run: ReviewRun, prepared: PreparedReview) -> ReviewContext:
        """The head's code that explains each chunk (none when the settings say so)."""
        # No chunk to explain (every file skipped): no archive to download.
        targeted = self.settings.llm.context == "targeted" and bool(prepared.chunks)
        return await ReviewContext.open(
            github_head_source(self.reader, run.head) if targeted else None,
            focus=[f.path for f in run.scope.files],
            chunk_chars=prepared.estimator.chars_for(self.settings.llm.chunk_tokens),
            where=f"the head {run.head[:7]}",
        )

    async def _review_chunks(
        self,
        run: ReviewRun,
        prepared: PreparedReview,
        context: ReviewContext,
        ceiling: Ceiling | None,
    ) -> ChunkOutcomes:
        """Every chunk through the model under a live check run; defer when none serves."""
        total = len(prepared.chunks)
        live = await self._live_check(run.head, run.target.run, run.checkpoint, total)
        try:
            return await review_chunks(
                prepared,
                self.reviewer,
                review_key=run.review_key,
                store=run.checkpoint,
                progress=_both(live.progress if live else None, self.progress),
                ceiling=ceiling,
                thinking=run.plan.thinking,
                context=context,
            )
        except ModelsUnavailable as exc:
            await self._deferred(live, exc)
            paused = isinstance(exc, QuotaPaused)
            raise ReviewDeferred(str(exc), exc.retry_after, paused=paused) from exc
        finally:
            if live is not None:
                await live.stop()

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
