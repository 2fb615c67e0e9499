"""A circuit breaker per model key, shared by every worker through Redis.

Once an endpoint answers a refusal that will not go away by retrying (quota
spent, key refused, Kimi Code's coding-agents-only rule), one worker trips
the breaker and every worker then skips that endpoint for the cool-down
(API_LLM_BREAKER_COOLDOWN, default 300 s) instead of each paying a refused
call to learn it again. When the key expires the next call probes the
endpoint; a fresh refusal trips it again.

The Redis key is `worker.keys.breaker(key_id)`: `key_id` is a hash, never the
key. Each process also remembers trips it saw itself, so a Redis outage or
outage never lets a worker start a call it already knows will be refused:
a Redis error degrades to that local view, with a warning. That memory is
used only while Redis cannot be reached: when Redis answers without the key
(expired, or deleted by an operator to retry main at once), it is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

import msgspec
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from worker import keys

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BreakerTrip:
    """Why an endpoint is skipped, and for how much longer (seconds)."""

    kind: str
    reason: str
    remaining: float


class Breaker(Protocol):
    async def tripped(self, key_id: str) -> BreakerTrip | None:
        """The open trip for this key, or None when calls may go to it."""
        ...

    async def trip(self, key_id: str, *, kind: str, reason: str, cooldown: float) -> None:
        """Skip this key everywhere for `cooldown` seconds."""
        ...


class _Stored(msgspec.Struct):
    kind: str
    reason: str


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(_Stored)


class LocalBreaker:
    """In-process breaker: for the one-shot CLI (no Redis), and as RedisBreaker's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open: dict[str, tuple[float, str, str]] = {}

    async def tripped(self, key_id: str) -> BreakerTrip | None:
        entry = self._open.get(key_id)
        if entry is None:
            return None
        deadline, kind, reason = entry
        remaining = deadline - self._clock()
        if remaining <= 0:
            del self._open[key_id]
            return None
        return BreakerTrip(kind, reason, remaining)

    async def trip(self, key_id: str, *, kind: str, reason: str, cooldown: float) -> None:
        self._open[key_id] = (self._clock() + cooldown, kind, reason)

    def forget(self, key_id: str) -> None:
        """Drop a remembered trip (Redis, the shared truth, no longer holds it)."""
        self._open.pop(key_id, None)


class RedisBreaker:
    """Breaker state in Redis (SET with an expiry), seen by every worker at once."""

    def __init__(self, redis: aioredis.Redis, local: LocalBreaker | None = None) -> None:
        self._redis = redis
        self._local = local or LocalBreaker()

    async def tripped(self, key_id: str) -> BreakerTrip | None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(keys.breaker(key_id))
                pipe.pttl(keys.breaker(key_id))
                raw, ttl_ms = await pipe.execute()
        except RedisError as exc:
            log.warning("breaker_redis_unreachable", key_id=key_id, error=str(exc))
            return await self._local.tripped(key_id)
        if raw is None:
            # Redis answered and holds no trip: it expired, or an operator deleted
            # the key to retry main at once. The local memory must not outlive it.
            self._local.forget(key_id)
            return None
        try:
            stored = _decoder.decode(raw)
        except msgspec.MsgspecError:
            stored = _Stored("unknown", "breaker set with an unreadable value")
        remaining = ttl_ms / 1000 if isinstance(ttl_ms, int) and ttl_ms > 0 else 0.0
        return BreakerTrip(stored.kind, stored.reason, remaining)

    async def trip(self, key_id: str, *, kind: str, reason: str, cooldown: float) -> None:
        await self._local.trip(key_id, kind=kind, reason=reason, cooldown=cooldown)
        value = _encoder.encode(_Stored(kind, reason))
        try:
            await self._redis.set(keys.breaker(key_id), value, px=max(1, int(cooldown * 1000)))
        except RedisError as exc:
            log.warning("breaker_redis_unreachable", key_id=key_id, error=str(exc))
