"""AIMD: the effective cap shrinks on 429 rate-limit and grows back on success."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
import redis.asyncio as aioredis

from tests.fakes.counting_server import CountingServer
from worker.gate import aimd as gate_aimd
from worker.gate.aimd import AimdState, after_rate_limited, after_success, effective_cap
from worker.gate.local import LocalGate
from worker.gate.redis import GateTiming, RedisGate


def test_a_rate_limit_shrinks_the_cap_multiplicatively() -> None:
    state = after_rate_limited(AimdState(cap=30.0), 30, now_ms=5000, granted_ms=4000)
    assert effective_cap(state, 30) == 22
    assert state.ceiling == 30


def test_calls_granted_before_a_decrease_do_not_shrink_the_cap_again() -> None:
    """Ten calls failing together are one congestion event, not ten."""
    once = after_rate_limited(AimdState(cap=30.0), 30, now_ms=5000, granted_ms=4000)
    again = after_rate_limited(once, 30, now_ms=5001, granted_ms=4500)
    assert again == once
    later = after_rate_limited(once, 30, now_ms=7000, granted_ms=6000)
    assert effective_cap(later, 30) < effective_cap(once, 30)


def test_the_cap_never_drops_below_one() -> None:
    state = AimdState(cap=30.0)
    for step in range(40):
        state = after_rate_limited(state, 30, now_ms=step * 10_000, granted_ms=None)
    assert effective_cap(state, 30) == 1


def test_successes_bring_the_cap_back_to_the_configured_one_and_no_further() -> None:
    state = after_rate_limited(AimdState(cap=30.0), 30, now_ms=1, granted_ms=None)
    for _ in range(2000):
        state = after_success(state, 30)
    assert state.cap == 30.0


def test_growth_slows_near_the_level_of_the_last_rate_limit() -> None:
    far = after_success(AimdState(cap=10.0, ceiling=20.0, last_decrease_ms=1), 30)
    near = after_success(AimdState(cap=19.0, ceiling=20.0, last_decrease_ms=1), 30)
    assert far.cap - 10.0 > 2 * (near.cap - 19.0)


def test_fair_scores_interleave_a_late_review_with_an_earlier_large_one() -> None:
    assert gate_aimd.fair_score(100, 3000) == 3001
    assert gate_aimd.fair_score(100, 0) == 101


async def test_the_redis_scripts_compute_the_same_cap_as_the_python_core(
    redis: aioredis.Redis,
) -> None:
    gate = RedisGate(redis, "aimd-key", cap=30)
    expected = AimdState(cap=30.0)
    try:
        await gate.report_rate_limited()  # first event: always applies
        expected = after_rate_limited(expected, 30, now_ms=1, granted_ms=None)
        for _ in range(37):
            await gate.report_success()
            expected = after_success(expected, 30)
        snapshot = await gate.snapshot()
        assert snapshot.aimd_cap == pytest.approx(expected.cap, rel=1e-9)
        async with gate.hold("review"):  # granted after the decrease: counts
            await gate.report_rate_limited()
        expected = after_rate_limited(expected, 30, now_ms=3, granted_ms=2)
        snapshot = await gate.snapshot()
        assert snapshot.aimd_cap == pytest.approx(expected.cap, rel=1e-9)
        assert snapshot.effective_cap == effective_cap(expected, 30)
    finally:
        await gate.close()


async def test_local_gate_shrinks_and_recovers_like_the_redis_gate() -> None:
    gate = LocalGate(10)
    async with gate.hold("r"):
        await gate.report_rate_limited()
    assert gate.effective_cap == 7
    for _ in range(200):
        await gate.report_success()
    assert gate.effective_cap == 10


async def test_aimd_settles_under_a_provider_limit_below_the_cap(redis: aioredis.Redis) -> None:
    """Cap 12 against a fake answering 429 above a hidden limit of 6."""
    server = CountingServer(hidden_limit=6).start()
    gate = RedisGate(redis, "aimd-run", cap=12, timing=GateTiming(poll_interval=0.2))
    outcomes: list[int] = []

    async def call(http: httpx.AsyncClient) -> None:
        while True:
            async with gate.hold("review"):
                response = await http.post("/v1/chat/completions", params={"sleep": 0.05})
                outcomes.append(response.status_code)
                if response.status_code == 200:
                    await gate.report_success()
                    return
                await gate.report_rate_limited()
            await asyncio.sleep(random.uniform(0.005, 0.02))

    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await asyncio.gather(*(call(http) for _ in range(240)))
        snapshot = await gate.snapshot()
    finally:
        await gate.close()
        server.stop()
    assert outcomes.count(200) == 240
    assert snapshot.effective_cap <= 7  # it went down and settled near the limit
    late = outcomes[len(outcomes) // 2 :]
    assert late.count(429) < len(late) * 0.05
