"""Fairness across reviews: a large review does not starve a small one behind it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import redis.asyncio as aioredis

from worker import keys
from worker.gate.local import LocalGate
from worker.gate.redis import GateTiming, RedisGate

Hold = Callable[[str], AbstractAsyncContextManager[None]]


async def _grant_order(hold: Hold, queued: Callable[[], Awaitable[int]]) -> list[str]:
    """A blocker holds the one slot; 30 `large` calls queue, then 3 `small`."""
    order: list[str] = []
    release = asyncio.Event()

    async def blocker() -> None:
        async with hold("blocker"):
            await release.wait()

    async def call(review: str) -> None:
        async with hold(review):
            order.append(review)

    tasks = [asyncio.create_task(blocker())]
    await asyncio.sleep(0.05)
    tasks += [asyncio.create_task(call("large")) for _ in range(30)]
    while await queued() < 30:
        await asyncio.sleep(0.01)
    tasks += [asyncio.create_task(call("small")) for _ in range(3)]
    while await queued() < 33:
        await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(*tasks)
    return order


async def test_a_small_review_alternates_with_a_large_one_queued_before_it(
    redis: aioredis.Redis,
) -> None:
    gate = RedisGate(redis, "fair", cap=1, timing=GateTiming(poll_interval=0.2))

    async def queued() -> int:
        return int(await redis.zcard(keys.gate_waiters("fair")))

    try:
        order = await _grant_order(gate.hold, queued)
    finally:
        await gate.close()
    assert order[:6] == ["large", "small"] * 3
    assert order.count("large") == 30


async def test_the_local_gate_serves_reviews_round_robin_too() -> None:
    gate = LocalGate(1)

    async def queued() -> int:
        return gate.waiting

    order = await _grant_order(gate.hold, queued)
    assert order[:6] == ["large", "small"] * 3


async def test_the_fair_queue_state_is_dropped_once_nobody_waits(redis: aioredis.Redis) -> None:
    gate = RedisGate(redis, "fair-clean", cap=1)
    try:
        async with gate.hold("a"):
            pass
    finally:
        await gate.close()
    assert await redis.exists(keys.gate_review_turns("fair-clean")) == 0
