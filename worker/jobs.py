"""arq job functions: thin adapters from a queued request to the review code.

Every job clears and rebinds structlog's contextvars so each log line carries
the delivery, repository, PR and head it belongs to.
"""

from __future__ import annotations

from typing import Any

import structlog

from worker.contract import ReviewRequest, decode_request

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
    """Review one pull request (the pipeline lands with the review-job issue).

    For now the job records what it received, so intake can be verified end
    to end with a real worker.
    """
    request = decode_request(payload)
    bind_job_context(ctx, request)
    log.info(
        "review_requested",
        trigger=request.trigger,
        action=request.action,
        command=request.command,
        draft=request.draft,
    )
    return "received"
