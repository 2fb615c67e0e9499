"""Pacing of content-creating GitHub requests (POST, PATCH, PUT, DELETE), per installation.

GitHub's secondary rate limits ask integrations to send content-creating
requests serially, at least one second apart, and no more than 80 a minute:
https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#pause-between-mutative-requests
https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits

One `WritePacer` is shared by every poster of a worker process; it keeps one
lane per installation, so two reviews on the same installation wait for each
other and reviews on different installations do not. The clock and the sleep
are injected so tests record the waits instead of sleeping them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

from worker import metrics

MIN_INTERVAL_SECONDS: Final = 1.0
PER_MINUTE: Final = 80
WINDOW_SECONDS: Final = 60.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class _Lane:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.sent: deque[float] = deque()  # start times of the last minute's writes


class WritePacer:
    """Serialises writes per installation and spaces them within GitHub's limits."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        min_interval: float = MIN_INTERVAL_SECONDS,
        per_minute: int = PER_MINUTE,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._min_interval = min_interval
        self._per_minute = max(1, per_minute)
        self._lanes: dict[int | str, _Lane] = {}

    def wait_needed(self, lane_key: int | str) -> float:
        """Seconds before the next write of this lane may go (0 when it may go now)."""
        lane = self._lanes.get(lane_key)
        if lane is None or not lane.sent:
            return 0.0
        now = self.clock()
        while lane.sent and now - lane.sent[0] >= WINDOW_SECONDS:
            lane.sent.popleft()
        if not lane.sent:
            return 0.0
        wait = lane.sent[-1] + self._min_interval - now
        if len(lane.sent) >= self._per_minute:
            wait = max(wait, lane.sent[0] + WINDOW_SECONDS - now)
        return max(0.0, wait)

    @asynccontextmanager
    async def turn(self, lane_key: int | str) -> AsyncIterator[None]:
        """Hold this installation's lane for one write, after waiting out its spacing."""
        lane = self._lanes.setdefault(lane_key, _Lane())
        async with lane.lock:
            wait = self.wait_needed(lane_key)
            if wait > 0:
                metrics.observe_github_wait("pacing", wait)
                await self.sleep(wait)
            lane.sent.append(self.clock())
            yield
