"""WORKER_MAX_REVIEWS holds when reviews arrive at the same moment.

The Docker smoke test (deploy/smoke.sh) sent two pull requests at once to
two workers with WORKER_MAX_REVIEWS=1: one worker started both reviews and
the other stayed idle. Both arq jobs checked the number of running reviews
before either was counted, since the check and the start are separated by
Redis round trips.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.support.env import product_env
from worker.config import load_settings
from worker.contract import ReviewRequest
from worker.runner.runner import ReviewRunner
from worker.runner.services import WorkerServices


def _request(pr: int) -> ReviewRequest:
    return ReviewRequest(
        delivery_id=f"d-{pr}",
        trigger="pull_request",
        action="opened",
        repo_id=1000,
        repo_full_name="octo/widgets",
        pr_number=pr,
        installation_id=77,
        head_sha=f"{pr:040x}",
    )


async def test_reviews_submitted_at_once_start_no_more_than_max_reviews(
    redis: aioredis.Redis, redis_url: str
) -> None:
    settings = load_settings(product_env(redis_url, WORKER_MAX_REVIEWS="1"))
    services = WorkerServices.open(settings)
    runner = ReviewRunner(services)
    try:
        outcomes = await asyncio.gather(
            *(runner.submit(f"review:1000:{pr}:{pr:040x}", _request(pr)) for pr in (9, 10, 11))
        )
        assert sorted(outcomes) == ["started", "waiting", "waiting"]
        assert runner.running == 1
    finally:
        await runner.close()
        await services.close()
