"""The Redis gate inside one test process: caps, leases, cancellation, restarts.

Several `RedisGate` objects on one key stand for several worker processes
(each has its own process id, wake list and keeper). The cross-process test
with real processes and SIGKILL is in test_gate_processes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.support.redis_server import RedisServer
from worker import keys
from worker.gate.redis import GateTiming, RedisGate

KEY = "test-key"
FAST = GateTiming(lease_ttl=1.5, poll_interval=0.1, ticket_ttl=1.0, wake_block=1.0)


@pytest.fixture
async def gates(redis: aioredis.Redis) -> AsyncIterator[list[RedisGate]]:
    made = [RedisGate(redis, KEY, cap=3, name="main", timing=FAST) for _ in range(3)]
    yield made
    for gate in made:
        await gate.close()


class InFlight:
    """Counts concurrent holders as the callers see them."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def call(self, gate: RedisGate, review: str, seconds: float) -> None:
        async with gate.hold(review):
            self.now += 1
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(seconds)
            self.now -= 1


async def test_holders_across_gate_objects_never_exceed_the_cap(gates: list[RedisGate]) -> None:
    counter = InFlight()
    calls = [counter.call(gates[i % 3], f"review-{i % 2}", 0.02) for i in range(40)]
    await asyncio.gather(*calls)
    assert counter.peak == 3
    snapshot = await gates[0].snapshot()
    assert (snapshot.in_flight, snapshot.waiting) == (0, 0)


async def test_a_free_slot_is_granted_without_waiting(
    gates: list[RedisGate], redis: aioredis.Redis
) -> None:
    async with gates[0].hold("review"):
        assert await redis.zcard(keys.gate_holders(KEY)) == 1
        assert await redis.zcard(keys.gate_waiters(KEY)) == 0
    assert await redis.zcard(keys.gate_holders(KEY)) == 0


async def test_a_cancelled_waiter_leaves_the_queue(
    gates: list[RedisGate], redis: aioredis.Redis
) -> None:
    release = asyncio.Event()

    async def holder() -> None:
        async with gates[0].hold("big"):
            await release.wait()

    holders = [asyncio.create_task(holder()) for _ in range(3)]
    while await redis.zcard(keys.gate_holders(KEY)) < 3:
        await asyncio.sleep(0.01)
    waiter = asyncio.create_task(gates[1].hold("small").__aenter__())
    while await redis.zcard(keys.gate_waiters(KEY)) < 1:
        await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await redis.zcard(keys.gate_waiters(KEY)) == 0
    release.set()
    await asyncio.gather(*holders)
    assert await redis.zcard(keys.gate_holders(KEY)) == 0


async def test_a_cancelled_holder_releases_its_slot(
    gates: list[RedisGate], redis: aioredis.Redis
) -> None:
    entered = asyncio.Event()

    async def holder() -> None:
        async with gates[0].hold("review"):
            entered.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(holder())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await redis.zcard(keys.gate_holders(KEY)) == 0


async def test_a_long_call_keeps_its_lease_past_the_ttl(
    gates: list[RedisGate], redis: aioredis.Redis
) -> None:
    """Thinking calls run for minutes: the keeper must renew the lease meanwhile."""
    async with gates[0].hold("review"):
        first = await redis.zscore(keys.gate_holders(KEY), (await _only_holder(redis)))
        await asyncio.sleep(FAST.lease_ttl * 1.5)
        ticket = await _only_holder(redis)
        later = await redis.zscore(keys.gate_holders(KEY), ticket)
        assert first is not None
        assert later is not None
        assert later > first


async def test_a_waiter_is_woken_by_the_release_of_another_process(
    redis: aioredis.Redis,
) -> None:
    slow_poll = GateTiming(lease_ttl=30, poll_interval=30, ticket_ttl=60, wake_block=1)
    one = RedisGate(redis, KEY, cap=1, timing=slow_poll)
    two = RedisGate(redis, KEY, cap=1, timing=slow_poll)
    order: list[str] = []
    try:
        async with one.hold("a"):
            waiter = asyncio.create_task(_record(two, "b", order))
            while await redis.zcard(keys.gate_waiters(KEY)) < 1:
                await asyncio.sleep(0.01)
            order.append("a-released")
        # With a 30 s poll only the wake list can deliver this grant in time.
        await asyncio.wait_for(waiter, timeout=10)
        assert order == ["a-released", "b"]
    finally:
        await one.close()
        await two.close()


async def test_holders_survive_a_redis_restart_and_re_register_their_leases(
    private_redis: RedisServer,
) -> None:
    client = aioredis.Redis.from_url(private_redis.url)
    gate = RedisGate(client, KEY, cap=2, timing=FAST)
    other = RedisGate(client, KEY, cap=2, timing=FAST)
    try:
        async with gate.hold("review"):
            private_redis.stop()
            await asyncio.sleep(FAST.renew_interval * 1.5)  # renewals fail meanwhile
            private_redis.start()
            # The keeper notices the lost state and re-adds the lease.
            while await _holders_or_none(client) != 1:
                await asyncio.sleep(0.05)
            assert await client.exists(keys.gate_grace(KEY)) == 1
            async with other.hold("review-2"):  # granted once the grace ends
                assert await client.zcard(keys.gate_holders(KEY)) == 2
        assert await client.zcard(keys.gate_holders(KEY)) == 0
    finally:
        await gate.close()
        await other.close()
        await client.aclose()


async def test_a_waiter_keeps_waiting_through_a_redis_outage(private_redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(private_redis.url)
    gate = RedisGate(client, KEY, cap=1, timing=FAST)
    try:
        private_redis.stop()
        waiter = asyncio.create_task(_record(gate, "r", []))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        private_redis.start()
        await asyncio.wait_for(waiter, timeout=20)
    finally:
        await gate.close()
        await client.aclose()


async def _record(gate: RedisGate, name: str, order: list[str]) -> None:
    async with gate.hold(name):
        order.append(name)


async def _only_holder(redis: aioredis.Redis) -> bytes:
    members: list[bytes] = await redis.zrange(keys.gate_holders(KEY), 0, -1)
    assert len(members) == 1
    return members[0]


async def _holders_or_none(client: aioredis.Redis) -> int | None:
    try:
        return int(await client.zcard(keys.gate_holders(KEY)))
    except aioredis.ConnectionError:
        return None
