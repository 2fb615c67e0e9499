"""Keeps a process's gate leases alive from a thread, whatever its event loop is doing.

The Redis gate's leases were renewed by an asyncio task: a worker whose
event loop stalled past the lease TTL (CPU-bound Python, a blocking call, a
long GC pause) lost its slots while its calls were still running, and
another worker took them: more calls in flight than the cap. The heartbeat
renews the held leases every third of the TTL from a daemon thread with its
own blocking Redis connection, so a lease lives exactly as long as its
process does. The asyncio keeper still renews too (and handles waiters).

A lease the renewal reports lost (Redis purged it: this process could not
reach Redis for a whole TTL) is handed to the event loop, which cancels the
call holding it at once. A loop that has not run for `stall_limit` seconds
is taken as wedged for good: its leases are no longer renewed, so its slots
come back to the fleet one TTL later.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


class HeldLeases:
    """The tickets this process holds and the task holding each, shared with the thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, asyncio.Task[object] | None] = {}

    def add(self, ticket: str) -> None:
        with self._lock:
            self._held.setdefault(ticket, None)

    def claim(self, ticket: str, task: asyncio.Task[object] | None) -> bool:
        """Name the task holding `ticket`; False if the lease was lost meanwhile."""
        with self._lock:
            if ticket not in self._held:
                return False
            self._held[ticket] = task
            return True

    def discard(self, ticket: str) -> tuple[bool, asyncio.Task[object] | None]:
        """(was it held, its holder)."""
        with self._lock:
            if ticket not in self._held:
                return False, None
            return True, self._held.pop(ticket)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def __contains__(self, ticket: object) -> bool:
        with self._lock:
            return ticket in self._held

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._held)


class LeaseHeartbeat:
    """A daemon thread calling `renew(tickets) -> lost tickets` every `interval` seconds."""

    def __init__(
        self,
        held: HeldLeases,
        renew: Callable[[list[str]], list[str]],
        on_lost: Callable[[list[str]], None],
        *,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        stall_limit: float,
        name: str,
    ) -> None:
        self._held = held
        self._renew = renew
        self._on_lost = on_lost
        self._loop = loop
        self._interval = interval
        self._stall_limit = stall_limit
        self._name = name
        self._stop = threading.Event()
        self.loop_seen = time.monotonic()  # set by the asyncio keeper on every round
        self._thread = threading.Thread(target=self._run, name=f"gate-heartbeat-{name}")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        wedged = False
        while not self._stop.wait(self._interval):
            tickets = self._held.snapshot()
            if not tickets:
                continue
            if time.monotonic() - self.loop_seen > self._stall_limit:
                if not wedged:  # once: the slots are released to the fleet by expiry
                    log.error("gate_loop_wedged", gate=self._name, held=len(tickets))
                wedged = True
                continue
            wedged = False
            try:
                lost = self._renew(tickets)
            except (RedisError, OSError) as exc:
                log.warning("gate_heartbeat_failed", gate=self._name, error=type(exc).__name__)
                continue
            if lost:
                try:
                    self._loop.call_soon_threadsafe(self._on_lost, lost)
                except RuntimeError:  # the loop is closed: nothing left to cancel
                    return
