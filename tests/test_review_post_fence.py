"""A worker stalled between its lease check and the review POST never posts a second review.

In-process, two workers' services against the fakes. Worker A holds the PR's
lease (short, and with nobody renewing it: A is stalled) and stops after
listing the reviews and before posting its own; its lease runs out, worker B
takes the review over and posts it; then A wakes up. Before the fence A went
on and posted a second review of the same head.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.support.local_worker import LocalWorld
from worker.review_attempt import run_attempt
from worker.review_tasks import TaskStore

LOCK = "kimi-review:test-lock"


class StallAfterListingReviews(httpx.AsyncBaseTransport):
    """Lets requests through; holds the answer to the `nth` listing of reviews until told."""

    def __init__(self, nth: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._seen = 0
        self._nth = nth
        self.stalled = asyncio.Event()
        self.resume = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "GET" and request.url.path.endswith("/reviews"):
            self._seen += 1
            if self._seen == self._nth:
                await response.aread()
                self.stalled.set()
                await self.resume.wait()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_worker_stalled_before_posting_does_not_post_a_second_review(
    local_world: LocalWorld,
) -> None:
    """Between the lease check and the POST came a PR fetch, a paged list of reviews and
    the pacer's wait: a worker stalled there while another took over posted a second review."""
    a, b = local_world.services(), local_world.services()
    # The flow lists reviews once to find an earlier one, then again right before posting.
    stall = StallAfterListingReviews(nth=2)
    a.github_http = httpx.AsyncClient(transport=stall, timeout=10)
    try:
        store_a, store_b = TaskStore(a.redis), TaskStore(b.redis)
        assert await store_a.acquire(LOCK, "A", 3.0)
        task = local_world.pr_task()
        worker_a = asyncio.create_task(run_attempt(a, store_a, task, lock=LOCK, token="A"))
        await stall.stalled.wait()
        while not await store_b.acquire(LOCK, "B", 30.0):  # A's lease runs out
            await asyncio.sleep(0.05)
        ended_b = await run_attempt(b, store_b, task, lock=LOCK, token="B")
        assert (ended_b.ending, ended_b.outcome) == ("done", "posted")
        stall.resume.set()
        ended_a = await worker_a
    finally:
        stall.resume.set()
        await a.close()
        await b.close()
    assert ended_a.ending == "left"
    assert len(local_world.reviews()) == 1
