"""arq job functions: thin adapters from a queued request to the review runner.

The review job only records the review as a durable task and starts it
here when the PR is free; the review itself runs outside arq's job timeout
under a renewed lease (see worker/runner/runner.py). So the job takes
milliseconds, arq's timeout can stay short, and a review that takes many
minutes of thinking is never started twice by arq.

Every job clears and rebinds structlog's contextvars so each log line carries
the delivery, repository, PR and head it belongs to.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq import Retry
from redis.exceptions import RedisError

from worker.contract import ReviewRequest, decode_request
from worker.runner.runner import ReviewRunner

log = structlog.get_logger("kimi_review.jobs")


def bind_job_context(ctx: dict[str, Any], request: ReviewRequest) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=ctx.get("job_id"),
        job_try=ctx.get("job_try"),
        delivery=request.delivery_id,
        repo=request.repo_full_name,
        pr=request.pr_number,
        head_sha=request.head_sha,
    )


async def review_pull_request(ctx: dict[str, Any], payload: bytes) -> str:
    """Hand a review request to this worker's runner; returns what became of it."""
    request = decode_request(payload)
    bind_job_context(ctx, request)
    runner: ReviewRunner = ctx["runner"]
    try:
        state = await runner.submit(str(ctx["job_id"]), request)
    except RedisError as exc:
        # Not recorded yet: arq keeps the job and runs it again shortly.
        log.warning("review_not_recorded", error=str(exc))
        raise Retry(defer=5) from exc
    log.info(
        "review_requested",
        trigger=request.trigger,
        action=request.action,
        command=request.command,
        state=state,
    )
    return state
