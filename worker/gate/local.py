"""In-process gates with the `ConcurrencyGate` interface, for runs without Redis.

`kimi-review review` runs one review in one process with no Redis: its cap
only has to hold inside that process. `LocalGate` keeps the Redis gate's
behaviour (round-robin between reviews, AIMD on 429) with asyncio futures;
`UnlimitedGate` is the gate of an endpoint whose cap is 0 (no cap).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar

from worker.gate import aimd, metrics

_ids = itertools.count()


class LocalGate:
    """Caps in-flight calls within this process; fair across reviews; AIMD."""

    def __init__(
        self, cap: int, *, name: str = "main", clock: Callable[[], float] = time.monotonic
    ) -> None:
        if cap < 1:
            raise ValueError("LocalGate needs a cap of at least 1 (0 = no cap: UnlimitedGate)")
        self.name = name
        self.cap = cap
        self._clock = clock
        self._aimd = aimd.initial_state(cap)
        self._in_flight = 0
        self._queue: list[tuple[int, int, str, asyncio.Future[None]]] = []
        self._virtual_time = 0
        self._turns: dict[str, int] = {}
        self._granted_ms: ContextVar[int | None] = ContextVar(
            f"local-gate-granted-{next(_ids)}", default=None
        )
        metrics.CONFIGURED_CAP.labels(name).set(cap)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._queue)  # cancelled waiters leave when reached

    @property
    def effective_cap(self) -> int:
        return aimd.effective_cap(self._aimd, self.cap)

    def hold(self, review_key: str) -> AbstractAsyncContextManager[None]:
        """Wait for a slot (round-robin across reviews), hold it, release it."""
        return self._hold(review_key)

    async def report_rate_limited(self) -> None:
        metrics.RATE_LIMITED.labels(self.name).inc()
        self._aimd = aimd.after_rate_limited(
            self._aimd, self.cap, now_ms=self._now_ms(), granted_ms=self._granted_ms.get()
        )
        self._observe()

    async def report_success(self) -> None:
        self._aimd = aimd.after_success(self._aimd, self.cap)
        self._dispatch()

    @asynccontextmanager
    async def _hold(self, review_key: str) -> AsyncIterator[None]:
        started = time.monotonic()
        await self._acquire(review_key)
        metrics.WAIT_SECONDS.labels(self.name).observe(time.monotonic() - started)
        self._granted_ms.set(self._now_ms())
        try:
            yield
        finally:
            self._in_flight -= 1
            self._dispatch()

    async def _acquire(self, review_key: str) -> None:
        if not self._queue and self._in_flight < self.effective_cap:
            self._in_flight += 1
            self._observe()
            return
        score = aimd.fair_score(self._virtual_time, self._turns.get(review_key, 0))
        self._turns[review_key] = score
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (score, next(_ids), review_key, future))
        self._observe()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, then cancelled
                self._in_flight -= 1
                self._dispatch()
            future.cancel()
            raise

    def _dispatch(self) -> None:
        while self._queue and self._in_flight < self.effective_cap:
            score, _, review_key, future = heapq.heappop(self._queue)
            if future.done():  # its waiter was cancelled
                continue
            self._virtual_time = score
            if self._turns.get(review_key, 0) <= score:
                self._turns.pop(review_key, None)
            self._in_flight += 1
            future.set_result(None)
        if not self._queue:
            self._turns.clear()
        self._observe()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _observe(self) -> None:
        metrics.observe_state(
            self.name,
            in_flight=self._in_flight,
            waiting=self.waiting,
            effective_cap=self.effective_cap,
        )


class UnlimitedGate:
    """The gate of an endpoint with no cap: counts calls for the metrics only."""

    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.in_flight = 0

    def hold(self, review_key: str) -> AbstractAsyncContextManager[None]:
        return self._hold()

    async def report_rate_limited(self) -> None:
        metrics.RATE_LIMITED.labels(self.name).inc()

    async def report_success(self) -> None:
        return None

    @asynccontextmanager
    async def _hold(self) -> AsyncIterator[None]:
        self.in_flight += 1
        metrics.IN_FLIGHT.labels(self.name).set(self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1
            metrics.IN_FLIGHT.labels(self.name).set(self.in_flight)
