"""The last step of one review: post it once, then the sticky summary and the check run.

Split from `worker.review.flow` because it is a job of its own: the model has
answered and nothing more is paid; what is left is to check the PR still
wants this review (still open, no newer head with its own job), post ONE
review under the posting fence, and say what was done (summary, check run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from worker.config import Settings
from worker.github.client import GitHubReader
from worker.publish.check_run import check_completed, check_skipped
from worker.publish.poster import PostedReview, ReviewPoster
from worker.publish.summary import SummaryInput, render_summary
from worker.review.conclude import ReviewResult
from worker.review.hooks import ReviewHooks
from worker.review.outcome import FlowOutcome, ReviewRun
from worker.review.pipeline import Ceiling
from worker.review.prepare import PreparedReview

log = structlog.get_logger("kimi_review.flow")


@dataclass(slots=True)
class Finish:
    """Posts one concluded review with the flow's clients (see the module docstring)."""

    settings: Settings
    reader: GitHubReader
    poster: ReviewPoster
    hooks: ReviewHooks

    async def post(
        self,
        run: ReviewRun,
        prepared: PreparedReview,
        result: ReviewResult,
        ceiling: Ceiling | None,
    ) -> FlowOutcome:
        """Post the review, the summary and the completed check run; or say why not."""
        await self.hooks.ensure_owner()
        posted, ended = await self._post_review(run, result)
        if ended is not None or posted is None:
            ended = ended or FlowOutcome("skipped", "not posted", run.head)
            check_id = await run.checkpoint.check_run_id()
            if check_id is not None:  # the check run must not stay "in progress" forever
                await self.poster.update_check(check_id, check_skipped(ended.reason))
            return ended
        info = await self._summary_input(run, prepared, result, ceiling)
        summary = render_summary(posted.placement, info, cap=run.plan.max_comments)
        await self.poster.upsert_summary(run.pr.number, summary)
        check_id = await run.checkpoint.check_run_id()
        if check_id is not None:
            await self.poster.update_check(check_id, check_completed(posted.placement, info))
        await self.hooks.set_last_reviewed(run.head)
        log.info(
            "review_done",
            outcome=posted.outcome,
            inline=len(posted.placement.inline),
            in_summary=len(posted.placement.in_summary),
            seconds=round(time.time() - run.started_at, 1),
        )
        return FlowOutcome(
            "posted" if posted.outcome == "posted" else "already_posted",
            "review posted",
            run.head,
            posted.html_url,
            review_key=run.review_key,
            started_at=run.started_at,
            prepared=prepared,
            result=result,
        )

    async def _post_review(
        self, run: ReviewRun, result: ReviewResult
    ) -> tuple[PostedReview | None, FlowOutcome | None]:
        """Post unless the PR closed or moved on while the model worked; the end if not."""
        now = await self.reader.pull_request(run.pr.number)
        if now.state != "open":
            reason = f"pull request {now.state} while reviewing"
            return None, FlowOutcome("skipped", reason, run.head, unreviewed=True)
        if now.head_sha != run.head and await self.hooks.has_own_job(now.head_sha):
            reason = f"head moved on to {now.head_sha[:12]}"
            return None, FlowOutcome("superseded", reason, run.head)
        posted = await self.poster.post_review(
            run.pr.number, run.head, result.placement, run=run.target.run, fence=self.hooks.fence
        )
        if posted.outcome == "commit_moved":
            reason = "GitHub no longer accepts comments on this head"
            return posted, FlowOutcome("superseded", reason, run.head)
        return posted, None

    async def _summary_input(
        self,
        run: ReviewRun,
        prepared: PreparedReview,
        result: ReviewResult,
        ceiling: Ceiling | None,
    ) -> SummaryInput:
        """Everything the summary and the check run report about how the review was made."""
        main = self.settings.llm.main
        return SummaryInput(
            head_sha=run.head,
            model=" + ".join(result.models) or (main.model if main else "-"),
            chunk_summaries=result.chunk_summaries,
            incremental=run.incremental,
            base_sha=run.scope.since_sha if run.incremental else None,
            skipped_files=[*run.scope.skipped, *prepared.skipped],
            masked_secrets=prepared.masked,
            long_lines=prepared.long_lines,
            dropped_chunks=result.dropped,
            fallback_model=result.fallback_model,
            fallback_reason=result.fallback_reason,
            thinking=result.thinking,
            tokens=result.tokens,
            quota_line=await self.hooks.quota_line(),
            config_note=run.loaded.error,
            link_host=self.poster.link_host,
            token_ceiling=ceiling.limit if ceiling else None,
            run_notes=result.run_notes,
            refuted=result.refuted,
            round_notes=result.round_notes,
        )
