"""The gate's invariant across real worker processes, counted at the provider.

Two worker processes share cap 3 through Redis while a third process holding
two slots is SIGKILLed mid-call. The fake model server counts requests in
flight server-side: never more than the cap, and the dead holder's slots come
back once their leases expire (within the lease TTL of the kill).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.fakes.counting_server import CountingServer
from worker import keys

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
KEY = "process-key"
CAP = 3
LEASE_TTL = 1.5


@pytest.fixture
def server() -> Iterator[CountingServer]:
    running = CountingServer().start()
    yield running
    running.stop()


def _worker(redis_url: str, server: CountingServer, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.support.gate_worker", "--redis-url", redis_url]
    command += ["--key", KEY, "--cap", str(CAP), "--server", server.url]
    command += ["--lease-ttl", str(LEASE_TTL), "--poll", "0.2", *extra]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": "."}
    )


def _summary(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=90)
    assert process.returncode == 0
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def test_killed_holder_never_lets_in_flight_exceed_the_cap_and_its_slots_return(
    redis: aioredis.Redis, redis_url: str, server: CountingServer
) -> None:
    holder = _worker(
        redis_url, server, "--hold", "--calls", "2", "--sleep", "300", "--review", "holder"
    )
    assert holder.stdout is not None
    try:
        for _ in range(2):
            assert holder.stdout.readline().strip() == "holding"
        while server.snapshot().in_flight < 2:
            time.sleep(0.02)
        workers = [
            _worker(redis_url, server, "--calls", "25", "--sleep", "0.15", "--review", f"r{i}")
            for i in range(2)
        ]
        while await redis.zcard(keys.gate_waiters(KEY)) < 10:  # both are queued
            time.sleep(0.02)
        seconds, micros = await redis.time()
        killed_at_ms = seconds * 1000 + micros // 1000
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        leases: list[tuple[bytes, float]] = await redis.zrange(
            keys.gate_holders(KEY), 0, -1, withscores=True
        )
        dead_expiries = [score for member, score in leases if member.endswith(b"|holder")]
        assert len(dead_expiries) == 2
        results = [_summary(worker) for worker in workers]
    finally:
        if holder.poll() is None:
            holder.kill()
    counters = server.snapshot()
    assert counters.peak <= CAP
    assert sum(r["ok"] for r in results) == 50
    assert counters.abandoned == 2  # the killed holder's two calls
    # The lost leases expire within their TTL of the kill (they were renewed
    # while held, never for longer than the TTL) ...
    assert max(dead_expiries) <= killed_at_ms + LEASE_TTL * 1000
    # ... and come back: after the kill the workers used every slot again.
    kill_time = killed_at_ms / 1000
    assert max(level for at, level in counters.levels if at > kill_time) == CAP
    assert await redis.zcard(keys.gate_holders(KEY)) == 0
