"""The Redis-wide concurrency gate: one cap per provider key across all workers.

`RedisGate.hold(review_key)` waits for a slot, holds it as a *lease* while the
model call runs, and releases it on exit, error or cancellation. The state
and its atomic scripts are described in worker/gate_lua.py; this module is
the asyncio side:

- A waiter runs one script (ENTER) and then sleeps on a future. Grants arrive
  on the process's wake LIST, read by one BLPOP listener per process, so a
  thousand waiters cost Redis nothing while they wait.
- One keeper task per process renews the process's leases every third of
  the lease TTL; while the process has waiters it also runs SYNC about once
  a second, the fallback for a missed wake-up and the moment an expired lease
  of a dead worker is reclaimed. A killed holder's slot is back within its
  lease TTL (plus one poll).
- The held leases are also renewed by a heartbeat thread with its own
  blocking Redis connection (worker/gate_heartbeat.py), so they outlive an
  event loop stalled past the TTL; a lease reported lost cancels its call
  at once (`GateLeaseLost`), so no call runs on a slot another worker took.
- Redis down or restarted: a holder never fails because of the gate (release
  and renew errors are logged; the call goes on). Waiters keep retrying with
  backoff until Redis answers. After a restart (the state is lost: no AOF)
  the first process that notices opens a grace period without grants while
  the surviving holders re-register their leases, so the cap still holds.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from contextvars import ContextVar
from typing import Any, cast

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from worker import gate_aimd, gate_lua, gate_metrics, keys
from worker.config import ModelEndpoint
from worker.gate_heartbeat import HeldLeases, LeaseHeartbeat
from worker.gate_local import LocalGate, UnlimitedGate
from worker.gate_timing import GateSnapshot, GateTiming
from worker.ports import ConcurrencyGate, GateLeaseLost
from worker.redis_client import sync_twin

__all__ = ["GateSnapshot", "GateTiming", "RedisGate", "open_gate"]
log = structlog.get_logger(__name__)

_LOST = -1
_EARLY_GRANT_MEMORY_S = 60.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _backoff(attempt: int) -> float:
    return min(2.0, 0.05 * 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter


class RedisGate:
    """`ConcurrencyGate` shared by every worker through Redis."""

    def __init__(
        self,
        redis: Redis,
        key_id: str,
        *,
        cap: int,
        name: str = "main",
        timing: GateTiming | None = None,
    ) -> None:
        if cap < 1:
            raise ValueError("RedisGate needs a cap of at least 1 (0 = no cap: UnlimitedGate)")
        self.name = name
        self.cap = cap
        self.timing = timing or GateTiming()
        self._redis = redis
        self._keys = [
            keys.gate_holders(key_id),
            keys.gate_waiters(key_id),
            keys.gate_waiter_expiry(key_id),
            keys.gate_review_turns(key_id),
            keys.gate_clock(key_id),
            keys.gate_aimd(key_id),
            keys.gate_epoch(key_id),
            keys.gate_grace(key_id),
        ]
        self._wake_prefix = keys.gate_wake_prefix(key_id)
        self._process = secrets.token_hex(6)
        self._scripts = {
            name: redis.register_script(gate_lua.script(body))
            for name, body in (
                ("enter", gate_lua.ENTER),
                ("leave", gate_lua.LEAVE),
                ("sync", gate_lua.SYNC),
                ("decrease", gate_lua.DECREASE),
                ("increase", gate_lua.INCREASE),
                ("peek", gate_lua.PEEK),
            )
        }
        self._epoch = ""
        self._held = HeldLeases()
        self._cut: set[str] = set()  # tickets whose holder was cancelled: lease lost
        self._heartbeat: LeaseHeartbeat | None = None
        self._waiting: dict[str, asyncio.Future[int]] = {}
        self._early: dict[str, tuple[int, float]] = {}
        self._granted_ms: ContextVar[int | None] = ContextVar(
            f"gate-granted-{name}-{self._process}", default=None
        )
        self._kick = asyncio.Event()
        self._blocking: Any = None  # the heartbeat thread's own client (redis.Redis)
        self._sync_sync: Any = None  # and the SYNC script on it
        self._tasks: list[asyncio.Task[None]] = []
        gate_metrics.CONFIGURED_CAP.labels(name).set(cap)

    # --- the ConcurrencyGate protocol ------------------------------------
    def hold(self, review_key: str) -> AbstractAsyncContextManager[None]:
        """Wait for a slot (round-robin across reviews), hold it, release it."""
        return self._hold(review_key)

    async def report_rate_limited(self) -> None:
        """429 rate-limit: shrink the effective cap, once per congestion event."""
        gate_metrics.RATE_LIMITED.labels(self.name).inc()
        granted = self._granted_ms.get()
        args = ["" if granted is None else granted, gate_aimd.DECREASE_FACTOR]
        await self._advise(
            "decrease", [*args, gate_aimd.DECREASE_GUARD_MS, gate_aimd.IDLE_RESET_MS]
        )

    async def report_success(self) -> None:
        """A call succeeded: grow the effective cap back toward the configured one."""
        await self._advise(
            "increase",
            [
                gate_aimd.CAREFUL_LOW,
                gate_aimd.CAREFUL_SLOWDOWN,
                gate_aimd.PROBE_MARGIN,
                gate_aimd.PROBE_SLOWDOWN,
                gate_aimd.IDLE_RESET_MS,
            ],
        )

    # --- operations -------------------------------------------------------
    async def snapshot(self) -> GateSnapshot:
        """Gate-wide in-flight, waiting and caps (for `doctor`, metrics, tests)."""
        out = await self._run("peek", [])
        return GateSnapshot(int(out[2]), int(out[3]), int(out[4]), float(_text(out[5])))

    async def close(self) -> None:
        """Stop this process's keeper and wake listener (leases end with their holds)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._heartbeat is not None:
            await asyncio.to_thread(self._heartbeat.stop)
            self._heartbeat = None
        if self._blocking is not None:
            self._blocking.close()
            self._blocking = self._sync_sync = None

    # --- inside -------------------------------------------------------------
    @asynccontextmanager
    async def _hold(self, review_key: str) -> AsyncIterator[None]:
        started = time.monotonic()
        ticket, granted_ms = await self._acquire(review_key)
        gate_metrics.WAIT_SECONDS.labels(self.name).observe(time.monotonic() - started)
        self._granted_ms.set(granted_ms)
        holder = asyncio.current_task()
        try:
            if not self._held.claim(ticket, holder):
                raise GateLeaseLost(f"{self.name} gate: the slot was lost before the call")
            yield
        except asyncio.CancelledError:
            if ticket not in self._cut:
                raise
            # Undo our own cancel (lease lost); one from the caller as well still wins.
            if holder is not None and holder.uncancel() > 0:
                raise
            raise GateLeaseLost(f"{self.name} gate: the slot's lease was lost") from None
        finally:
            self._cut.discard(ticket)
            self._held.discard(ticket)
            # Shielded: a second cancellation must not skip the release.
            await asyncio.shield(self._leave_quietly(ticket))

    async def _acquire(self, review_key: str) -> tuple[str, int]:
        self._start_background()
        attempt = 0
        while True:
            try:
                out = await self._run("enter", [self._process, review_key])
            except RedisError as exc:
                log.warning("gate_unavailable", gate=self.name, error=type(exc).__name__)
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                continue
            ticket, now_ms = _text(out[5]), int(out[1])
            if int(out[6]) == 1:
                self._held.add(ticket)
                return ticket, now_ms
            early = self._early.pop(ticket, None)
            if early is not None:
                self._held.add(ticket)
                return ticket, early[0]
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._waiting[ticket] = future
            self._kick.set()
            try:
                granted_ms = await future
            except asyncio.CancelledError:
                self._waiting.pop(ticket, None)
                self._held.discard(ticket)
                await asyncio.shield(self._leave_quietly(ticket))
                raise
            if granted_ms != _LOST:
                return ticket, granted_ms
            # The ticket vanished (Redis restarted, or this process stalled past
            # the ticket TTL): queue again.

    def _resolve(self, ticket: str, granted_ms: int, *, from_wake: bool) -> None:
        future = self._waiting.pop(ticket, None)
        if future is None:
            if from_wake:  # the grant overtook the waiter's own registration
                self._early[ticket] = (granted_ms, time.monotonic())
            return
        if future.done():
            return
        if granted_ms != _LOST:
            self._held.add(ticket)
        future.set_result(granted_ms)

    async def _leave_quietly(self, ticket: str) -> None:
        try:
            await self._run("leave", [ticket])
        except RedisError as exc:  # the lease expires on its own
            log.warning("gate_release_failed", gate=self.name, error=type(exc).__name__)

    async def _advise(self, script: str, args: Sequence[str | int | float]) -> None:
        try:
            await self._run(script, args)
        except RedisError as exc:  # AIMD is advice: never fail a call over it
            log.warning("gate_aimd_failed", gate=self.name, error=type(exc).__name__)

    async def _run(self, script: str, extra: Sequence[str | int | float]) -> list[Any]:
        out: list[Any] = await self._scripts[script](keys=self._keys, args=self._argv(extra))
        self._epoch = _text(out[0])
        gate_metrics.observe_state(
            self.name, in_flight=int(out[2]), waiting=int(out[3]), effective_cap=int(out[4])
        )
        return out

    def _renew_blocking(self, tickets: list[str]) -> list[str]:
        """The heartbeat thread's SYNC of held leases (no waiters); the lost ones."""
        if self._sync_sync is None:
            self._blocking = sync_twin(self._redis)
            self._sync_sync = self._blocking.register_script(gate_lua.script(gate_lua.SYNC))
        out: list[Any] = self._sync_sync(keys=self._keys, args=self._argv([len(tickets), *tickets]))
        self._epoch = _text(out[0])
        return [_text(raw) for raw in out[5]]

    def _argv(self, extra: Sequence[str | int | float]) -> list[str | int | float]:
        t = self.timing
        return [
            self.cap,
            int(t.lease_ttl * 1000),
            int(t.ticket_ttl * 1000),
            self._epoch,
            secrets.token_hex(8),
            int(t.grace_seconds * 1000),
            self._wake_prefix,
            int(max(60.0, 4 * t.wake_block) * 1000),
            *extra,
        ]

    def _start_background(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._keep(), name=f"gate-keeper-{self.name}"),
                asyncio.create_task(self._listen(), name=f"gate-wake-{self.name}"),
            ]
        if self._heartbeat is None:
            self._heartbeat = LeaseHeartbeat(
                self._held,
                self._renew_blocking,
                self._leases_lost,
                loop=asyncio.get_running_loop(),
                interval=self.timing.renew_interval,
                stall_limit=self.timing.stall_limit,
                name=self.name,
            )
            self._heartbeat.start()

    def _leases_lost(self, tickets: list[str]) -> None:
        """On the loop: cut each call whose lease is gone, so the cap holds."""
        for ticket in tickets:
            held, holder = self._held.discard(ticket)
            if not held:
                continue  # released meanwhile
            gate_metrics.LEASES_LOST.labels(self.name).inc()
            log.warning("gate_lease_lost", gate=self.name, call_cancelled=holder is not None)
            if holder is not None and not holder.done():
                self._cut.add(ticket)
                holder.cancel()

    async def _listen(self) -> None:
        wake_key = self._wake_prefix + self._process
        attempt = 0
        while True:
            try:
                item = await cast(
                    "Awaitable[list[Any] | None]",
                    self._redis.blpop([wake_key], timeout=max(1, round(self.timing.wake_block))),
                )
            except RedisError as exc:
                log.warning("gate_wake_failed", gate=self.name, error=type(exc).__name__)
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                continue
            attempt = 0
            if item is not None:
                ticket, _, granted = _text(item[1]).rpartition("\t")
                self._resolve(ticket, int(granted), from_wake=True)

    async def _keep(self) -> None:
        last_sync = time.monotonic()
        while True:
            polling = bool(self._waiting)
            interval = self.timing.poll_interval if polling else self.timing.renew_interval
            interval *= random.uniform(0.8, 1.0)  # noqa: S311 - spread the processes' polls
            pause = max(0.0, last_sync + interval - time.monotonic())
            self._kick.clear()
            if self._heartbeat is not None:
                self._heartbeat.loop_seen = time.monotonic()
            if polling:
                await asyncio.sleep(pause)
            else:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), pause)
                if self._kick.is_set():
                    continue  # a waiter arrived: poll from now on
            if self._held or self._waiting:
                await self._sync()
            last_sync = time.monotonic()
            self._forget_old_early_grants()

    async def _sync(self) -> None:
        held, waiting = self._held.snapshot(), list(self._waiting)
        try:
            out = await self._run("sync", [len(held), *held, *waiting])
        except RedisError as exc:
            log.warning("gate_renew_failed", gate=self.name, error=type(exc).__name__)
            return
        self._leases_lost([_text(raw) for raw in out[5]])
        for ticket, raw in zip(waiting, out[6], strict=True):
            status = _text(raw)
            if status != "w":
                self._resolve(ticket, _LOST if status == "x" else int(status), from_wake=False)

    def _forget_old_early_grants(self) -> None:
        horizon = time.monotonic() - _EARLY_GRANT_MEMORY_S
        for ticket in [t for t, (_, seen) in self._early.items() if seen < horizon]:
            del self._early[ticket]


def open_gate(
    endpoint: ModelEndpoint,
    redis: Redis | None,
    *,
    timing: GateTiming | None = None,
) -> ConcurrencyGate:
    """The gate for one endpoint: Redis-wide for workers, in-process without Redis.

    `max_concurrent == 0` means no cap (API_LLM_MAX_CONCURRENT_REQUESTS=0).
    """
    if endpoint.max_concurrent == 0:
        return UnlimitedGate(endpoint.role)
    if redis is None:
        return LocalGate(endpoint.max_concurrent, name=endpoint.role)
    return RedisGate(
        redis, endpoint.key_id, cap=endpoint.max_concurrent, name=endpoint.role, timing=timing
    )
