"""A review deferred because no model can serve keeps the calls it already paid for.

In-process against the fakes: two chunks; the main model refuses one (quota,
no fallback: the review is deferred) while the other's thinking call is still
running. That call used to be cancelled, its answer lost though billed; now
it finishes and is checkpointed before the review is deferred, and the
resumed review does not pay for it again.
"""

from __future__ import annotations

import json
import threading
from typing import Any, cast

import redis.asyncio as aioredis

from tests.fakes.model_replies import Reply, kimi_ok, kimi_quota_exceeded
from tests.support.local_worker import PR, LocalWorld
from tests.support.review_world import (
    build_pull,
    chunk_of,
    many_files,
    review_answer,
    reviewing_responder,
)
from worker import keys
from worker.review_attempt import AttemptEnded, run_attempt
from worker.review_tasks import TaskStore

SLOW = "pkg/module_0.py"


async def _stored_chunks(world: LocalWorld, redis: aioredis.Redis) -> int:
    state = keys.review_state(world.repo.id, PR, world.repo.pulls[PR].head_sha)
    fields = cast("list[bytes]", await redis.hkeys(state))  # type: ignore[misc]
    return sum(1 for f in fields if f.startswith(b"chunk:"))


async def test_a_deferral_lets_the_calls_in_flight_finish_and_checkpoints_them(
    local_world: LocalWorld, redis: aioredis.Redis
) -> None:
    """A refusal on one chunk cancelled the other chunks' calls, thinking calls already
    billed included: a deferred review threw away answers it had paid for."""
    local_world.repo = build_pull(local_world.fake, changes=many_files(2, lines=40))
    refused = threading.Event()

    def responder(body: Any) -> Reply:
        chunk = chunk_of(body)
        if f"FILE {SLOW}" in chunk:
            refused.wait(10)  # still thinking when the other chunk is refused
            return kimi_ok(json.dumps(review_answer(chunk)))
        refused.set()
        return kimi_quota_exceeded()

    local_world.kimi.responder = responder
    ended = await _attempt(local_world)
    assert ended.ending == "retry"
    assert ended.outcome == "deferred"
    assert len(local_world.kimi.requests) == 2
    assert await _stored_chunks(local_world, redis) == 1

    # The key is topped up: the resumed review pays only for the refused chunk.
    await redis.delete(*[k async for k in redis.scan_iter(keys.breaker("*"))])
    local_world.kimi.responder = reviewing_responder
    assert (await _attempt(local_world)).ending == "done"
    assert len(local_world.kimi.requests) == 3
    assert len(local_world.reviews()) == 1


async def _attempt(world: LocalWorld) -> AttemptEnded:
    services = world.services(API_LLM_CHUNK_TOKENS="1000")
    try:
        tasks = TaskStore(services.redis)
        await tasks.acquire("kimi-review:test-lock", "me", 30)
        return await run_attempt(
            services, tasks, world.pr_task(), lock="kimi-review:test-lock", token="me"
        )
    finally:
        await tasks.release("kimi-review:test-lock", "me")
        await services.close()
