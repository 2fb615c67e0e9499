"""The breaker in Redis: one worker's refusal is every worker's, across processes and outages."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from tests.fakes.model_replies import kimi_code_membership
from tests.fakes.model_servers import FakeKimi
from tests.fakes.model_stack import FALLBACK_KEY, MAIN_KEY
from tests.support.redis_server import RedisServer
from worker import keys
from worker.llm.breaker import LocalBreaker, RedisBreaker

ROOT = Path(__file__).resolve().parents[1]


def _worker(redis_url: str, main: FakeKimi, fallback: FakeKimi) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fakes.model_worker",
            redis_url,
            main.base_url,
            fallback.base_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def test_a_refusal_seen_by_one_worker_process_is_skipped_by_another(
    redis: aioredis.Redis, redis_url: str
) -> None:
    with FakeKimi(api_key=MAIN_KEY) as main, FakeKimi(api_key=FALLBACK_KEY) as fallback:
        main.script(kimi_code_membership())  # only the first call is refused
        first = await asyncio.to_thread(_worker, redis_url, main, fallback)
        second = await asyncio.to_thread(_worker, redis_url, main, fallback)
    assert first["role"] == "fallback"
    assert first["notes"] == ["fallback served (kimi-k2.6): main over quota"]
    assert second["role"] == "fallback"  # main would have answered: the breaker kept it away
    assert len(main.requests) == 1
    assert len(fallback.requests) == 2


async def test_trip_is_visible_to_every_breaker_on_the_same_redis(redis: aioredis.Redis) -> None:
    one, other = RedisBreaker(redis), RedisBreaker(redis)
    await one.trip("k1", kind="quota", reason="main over quota", cooldown=120)
    trip = await other.tripped("k1")
    assert trip is not None
    assert (trip.kind, trip.reason) == ("quota", "main over quota")
    assert 100 < trip.remaining <= 120
    assert await other.tripped("k2") is None
    assert await redis.exists(keys.breaker("k1")) == 1


async def test_breaker_closes_by_itself_after_the_cooldown(redis: aioredis.Redis) -> None:
    breaker = RedisBreaker(redis)
    await breaker.trip("k1", kind="auth", reason="key refused", cooldown=0.05)
    await asyncio.sleep(0.2)
    assert await RedisBreaker(redis).tripped("k1") is None
    assert await breaker.tripped("k1") is None


async def test_a_worker_remembers_its_own_trip_through_a_redis_outage(
    private_redis: RedisServer,
) -> None:
    client = aioredis.Redis.from_url(private_redis.url, socket_connect_timeout=1)
    try:
        breaker = RedisBreaker(client)
        await breaker.trip("k1", kind="quota", reason="main over quota", cooldown=60)
        private_redis.stop()
        with capture_logs() as logs:
            remembered = await breaker.tripped("k1")
            await breaker.trip("k2", kind="auth", reason="key refused", cooldown=60)
        assert remembered is not None
        assert remembered.kind == "quota"
        assert await breaker.tripped("k2") is not None
        assert {e["event"] for e in logs} == {"breaker_redis_unreachable"}
        # A process that never saw the refusal calls main (and would learn it again).
        assert await RedisBreaker(client).tripped("k1") is None
    finally:
        await client.aclose()


async def test_local_breaker_expires_on_its_clock() -> None:
    now = [100.0]
    breaker = LocalBreaker(clock=lambda: now[0])
    await breaker.trip("k", kind="quota", reason="r", cooldown=10)
    trip = await breaker.tripped("k")
    assert trip is not None
    assert trip.remaining == pytest.approx(10)
    now[0] += 10.5
    assert await breaker.tripped("k") is None


async def test_deleting_the_breaker_key_retries_main_at_once_in_the_worker_that_tripped_it(
    redis: aioredis.Redis,
) -> None:
    """The README's "DEL the key to retry main at once" was ignored by the worker that saw
    the refusal: its local memory of the trip outlived the Redis key for the whole cool-down."""
    breaker = RedisBreaker(redis)
    await breaker.trip("k1", kind="quota", reason="main over quota", cooldown=300)
    await redis.delete(keys.breaker("k1"))
    assert await breaker.tripped("k1") is None
    assert await RedisBreaker(redis).tripped("k1") is None
