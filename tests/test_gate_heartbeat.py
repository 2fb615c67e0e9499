"""Gate leases outlive a stalled event loop, and a call whose lease is lost is cut.

A lost lease used to be only logged: a worker whose event loop stalled past
the lease TTL (Python code hogging it, a blocking call) kept its call
running while another worker took its slot, so the fleet-wide cap was
exceeded. Leases are now renewed by a heartbeat thread with its own Redis
connection, and a call whose lease is known lost is cancelled at once.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
import redis.asyncio as aioredis

from tests.fakes.model_gate import CountingGate
from tests.fakes.model_servers import FakeKimi
from tests.fakes.model_stack import MESSAGES, build_stack, endpoint, llm_settings
from worker import keys
from worker.gate import GateTiming, RedisGate
from worker.ports import GateLeaseLost

KEY = "heartbeat-key"
SHORT = GateTiming(lease_ttl=0.6, poll_interval=0.05, ticket_ttl=1.0, wake_block=1.0)


def _stalled_holder(redis_url: str, holding: threading.Event, released: threading.Event) -> None:
    """Worker A, in a thread with its own loop: holds the slot, then blocks its loop."""

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        gate = RedisGate(client, KEY, cap=1, name="main", timing=SHORT)
        try:
            async with gate.hold("review-a"):
                holding.set()
                time.sleep(SHORT.lease_ttl * 4)  # the stall under test: the loop is blocked
                released.set()
        finally:
            await gate.close()
            await client.aclose()

    asyncio.run(main())


async def test_a_worker_whose_loop_stalls_past_the_lease_keeps_its_slot(
    redis: aioredis.Redis, redis_url: str
) -> None:
    """Its lease expired while its loop was blocked, and another worker took the slot."""
    holding, released = threading.Event(), threading.Event()
    stalled = threading.Thread(target=_stalled_holder, args=(redis_url, holding, released))
    stalled.start()
    other = RedisGate(redis, KEY, cap=1, name="main", timing=SHORT)
    try:
        assert await asyncio.to_thread(holding.wait, 10)
        async with other.hold("review-b"):
            granted_while_a_held = not released.is_set()
    finally:
        await asyncio.to_thread(stalled.join, 10)
        await other.close()
    assert not granted_while_a_held


async def test_a_call_whose_lease_is_lost_is_cancelled_at_once(redis: aioredis.Redis) -> None:
    """A lost lease was only logged: the call went on, over the cap."""
    gate = RedisGate(redis, KEY, cap=1, name="main", timing=SHORT)

    async def call() -> None:
        async with gate.hold("review"):
            await redis.delete(keys.gate_holders(KEY))  # its lease is gone (purged)
            await asyncio.sleep(30)

    try:
        with pytest.raises(GateLeaseLost):
            await asyncio.wait_for(call(), timeout=10)
    finally:
        await gate.close()


class LosesFirstLease(CountingGate):
    """A gate whose first slot is lost as the call starts."""

    def __init__(self) -> None:
        super().__init__(on_acquire=self._first_lost)
        self._lost = False

    async def _first_lost(self) -> None:
        if not self._lost:
            self._lost = True
            raise GateLeaseLost("main gate: the slot's lease was lost")


async def test_a_call_cut_for_a_lost_lease_is_sent_again_with_a_new_slot(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    gate = LosesFirstLease()
    stack = build_stack(llm_settings(endpoint("main", kimi.base_url)), http, main_gate=gate)
    result = await stack.reviewer.review_chunk(MESSAGES, chunk_tokens=5000, review_key="r")
    assert result.role == "main"
    assert len(kimi.requests) == 1
