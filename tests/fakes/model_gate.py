"""Trivial in-test stand-ins for the ports the failover calls: a gate and a quota guard.

The real Redis gate and quota guard are another module's (worker.gate.redis,
worker.quota); these only count what the failover asks of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime


class CountingGate:
    """Lets every call through at once; counts holds and AIMD reports.

    `on_acquire` runs while "waiting" for the slot, before the call: a test
    uses it to change the world during the wait (another worker trips the breaker).
    """

    def __init__(self, on_acquire: Callable[[], Awaitable[None]] | None = None) -> None:
        self.on_acquire = on_acquire
        self.holds: list[str] = []
        self.rate_limited = 0
        self.successes = 0
        self.in_flight = 0

    @asynccontextmanager
    async def hold(self, review_key: str) -> AsyncIterator[None]:
        if self.on_acquire is not None:
            await self.on_acquire()
        self.holds.append(review_key)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def report_rate_limited(self) -> None:
        self.rate_limited += 1

    async def report_success(self) -> None:
        self.successes += 1


@dataclass
class UsageRecord:
    review_key: str
    prompt: int
    completion: int
    cached: int
    model: str


@dataclass
class FakeQuota:
    """A QuotaGuard whose answer the test sets; it also knows when the window refreshes."""

    allows: bool = True
    refreshes_at: datetime | None = None
    records: list[UsageRecord] = field(default_factory=list)

    async def allows_new_work(self) -> bool:
        return self.allows

    async def record(
        self, review_key: str, *, prompt: int, completion: int, cached: int, model: str
    ) -> None:
        self.records.append(UsageRecord(review_key, prompt, completion, cached, model))

    async def next_refresh(self) -> datetime | None:
        return self.refreshes_at


class RecordingSleep:
    """Replaces asyncio.sleep in the failover: records each wait, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
