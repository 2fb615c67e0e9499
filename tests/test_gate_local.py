"""The in-process gates (one-shot CLI without Redis) and the gate factory."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from worker.config import load_settings
from worker.gate.local import LocalGate, UnlimitedGate
from worker.gate.redis import RedisGate, open_gate


async def test_local_gate_never_exceeds_its_cap() -> None:
    gate = LocalGate(4)
    now = peak = 0

    async def call(n: int) -> None:
        nonlocal now, peak
        async with gate.hold(f"review-{n % 3}"):
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.001)
            now -= 1

    await asyncio.gather(*(call(n) for n in range(60)))
    assert peak == 4
    assert (gate.in_flight, gate.waiting) == (0, 0)


async def test_a_cancelled_local_waiter_gives_its_turn_to_the_next() -> None:
    gate = LocalGate(1)
    release = asyncio.Event()
    order: list[str] = []

    async def call(name: str) -> None:
        async with gate.hold(name):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(call("first"))
    await asyncio.sleep(0)
    doomed = asyncio.create_task(call("doomed"))
    last = asyncio.create_task(call("last"))
    await asyncio.sleep(0)
    doomed.cancel()
    release.set()
    await asyncio.gather(first, last)
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert order == ["first", "last"]
    assert gate.in_flight == 0


async def test_an_unlimited_gate_never_waits() -> None:
    gate = UnlimitedGate()
    async with gate.hold("a"), gate.hold("b"), gate.hold("c"):
        assert gate.in_flight == 3


async def test_open_gate_picks_redis_local_or_unlimited(redis: aioredis.Redis) -> None:
    env = {
        "API_OPEN_AI_API_KEY": "sk-test-0123456789abcdef",
        "API_LLM_MAX_CONCURRENT_REQUESTS": "7",
    }
    endpoint = load_settings(env).llm.main
    assert endpoint is not None
    redis_gate = open_gate(endpoint, redis)
    assert isinstance(redis_gate, RedisGate)
    assert redis_gate.cap == 7
    assert isinstance(open_gate(endpoint, None), LocalGate)
    uncapped = load_settings({**env, "API_LLM_MAX_CONCURRENT_REQUESTS": "0"}).llm.main
    assert uncapped is not None
    assert isinstance(open_gate(uncapped, redis), UnlimitedGate)
