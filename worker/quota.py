"""Quota windows, the main key's token budget (`QuotaGuard`) and the per-review ceiling.

Kimi plans refresh on fixed cycles counted from activation (7 days on the
Code plans) and unused quota does not carry over: windows are
`[anchor + k*length, anchor + (k+1)*length)`. The anchor is
API_LLM_QUOTA_ANCHOR, or else the first use, stored in Redis so every worker
agrees. When the window's budget (API_LLM_QUOTA_TOKENS) is spent,
`allows_new_work()` turns False: calls already running finish and are
recorded (the count may pass the budget by what they use), new work goes to
the fallback or waits for `status().window.end` ("in-progress tasks
complete, new tasks pause", as Kimi itself behaves).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis

from worker import keys
from worker.config import QuotaSettings, Settings
from worker.usage import (
    TokenCount,
    UsageLedger,
    UsageReport,
    build_report,
    recent_reviews,
)


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    """One quota window, in epoch seconds: [start, end)."""

    start: int
    end: int

    @property
    def refreshes_at(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)


def window_at(anchor: int, length: int, now: float) -> QuotaWindow:
    """The window containing `now` for cycles of `length` seconds from `anchor`."""
    index = math.floor((now - anchor) / length)
    start = anchor + index * length
    return QuotaWindow(start, start + length)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    window: QuotaWindow
    used: TokenCount
    budget: int | None

    @property
    def spent(self) -> bool:
        return self.budget is not None and self.used.total >= self.budget

    @property
    def percent(self) -> float | None:
        return None if self.budget is None else 100.0 * self.used.total / self.budget


class QuotaExhausted(Exception):
    """The main key's token budget for this window is spent; new work must wait."""

    def __init__(self, status: QuotaStatus) -> None:
        self.status = status
        self.refreshes_at = status.window.refreshes_at
        super().__init__(
            f"token budget spent: {status.used.total} of {status.budget} tokens "
            f"(API_LLM_QUOTA_TOKENS) in this window; it refreshes at "
            f"{self.refreshes_at:%Y-%m-%d %H:%M} UTC"
        )


def pause_notice(status: QuotaStatus) -> str:
    """The PR comment when a review waits for the quota window to refresh."""
    return (
        f"kimi-review has used this period's token budget "
        f"({status.used.total:,} of {status.budget or 0:,} tokens). Reviews already "
        f"running finish; this one will run when the budget refreshes at "
        f"{status.window.refreshes_at:%Y-%m-%d %H:%M} UTC."
    )


def quota_line(status: QuotaStatus) -> str:
    """The summary's quota line: share of the budget used (or tokens spent) and the refresh."""
    refresh = f"refreshes {status.window.refreshes_at:%Y-%m-%d %H:%M} UTC"
    if status.budget is None:
        return f"{status.used.total:,} tokens used this window (no budget set); {refresh}"
    return (
        f"{status.percent or 0.0:.0f}% of this window's budget used "
        f"({status.used.total:,} of {status.budget:,} tokens); {refresh}"
    )


class RedisQuota:
    """`QuotaGuard` of one key: records every call, enforces the window budget."""

    def __init__(
        self,
        redis: Redis,
        key_id: str,
        settings: QuotaSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._key_id = key_id
        self._settings = settings
        self._clock = clock
        self.ledger = UsageLedger(redis, key_id)

    async def window(self, *, store_anchor: bool = True) -> QuotaWindow:
        """The current window; stores the anchor on first use when none is configured.

        `store_anchor=False` (the `usage` command) reads without claiming: with
        no anchor yet, the window would start now.
        """
        now = self._clock()
        anchor = self._settings.anchor
        anchor_key = keys.usage_anchor(self._key_id)
        if anchor is not None:
            start = int(anchor.timestamp())
        elif store_anchor:
            # SET NX GET: the first worker's clock wins, later ones read it.
            previous = await cast("Any", self._redis.set(anchor_key, int(now), nx=True, get=True))
            start = int(now) if previous is None else int(previous)
        else:
            stored = await cast("Any", self._redis.get(anchor_key))
            start = int(now) if stored is None else int(stored)
        return window_at(start, self._settings.window_seconds, now)

    async def next_refresh(self) -> datetime:
        """When the current window ends (the failover's `KnowsRefresh`): a paused
        review is deferred until then."""
        return (await self.window()).refreshes_at

    async def status(self, *, store_anchor: bool = True) -> QuotaStatus:
        window = await self.window(store_anchor=store_anchor)
        used = await self.ledger.window_tokens(window.start)
        return QuotaStatus(window, used, self._settings.tokens)

    async def allows_new_work(self) -> bool:
        if self._settings.tokens is None:
            return True
        return not (await self.status()).spent

    async def ensure_new_work_allowed(self) -> None:
        """Raise QuotaExhausted (with the refresh time) once the budget is spent."""
        if self._settings.tokens is None:
            return
        status = await self.status()
        if status.spent:
            raise QuotaExhausted(status)

    async def record(
        self, review_key: str, *, prompt: int, completion: int, cached: int, model: str
    ) -> None:
        window = await self.window()
        await self.ledger.add_call(
            review_key,
            window_start=window.start,
            window_end=window.end,
            prompt=prompt,
            completion=completion,
            cached=cached,
            model=model,
        )


# Reserve before a call, so parallel chunks cannot all start under the
# ceiling and end far above it. Used = recorded tokens on every key + tokens
# reserved by calls still running.
_RESERVE = r"""
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
for i = 2, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'prompt', 'completion')
  used = used + tonumber(v[1] or '0') + tonumber(v[2] or '0')
end
if used + tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""


class ReviewCeiling:
    """API_LLM_REVIEW_MAX_TOKENS: what one review may spend over all its keys.

    `reserve(review, estimate)` before a chunk's call: False means the chunk
    is left out (and named in the summary); after the call, whatever
    happened, `release(review, estimate)`: the recorded usage now counts.
    """

    def __init__(self, redis: Redis, ceiling: int | None, key_ids: Sequence[str]) -> None:
        self._redis = redis
        self.ceiling = ceiling
        self._key_ids = list(key_ids)
        self._reserved = keys.usage_review_reserved(self._key_ids[0])
        self._script = redis.register_script(_RESERVE)

    @property
    def limit(self) -> int | None:
        return self.ceiling

    def lowered(self, limit: int | None) -> ReviewCeiling:
        """The same ceiling (same Redis keys) at `limit` when that is lower: never raised."""
        if limit is None or (self.ceiling is not None and limit >= self.ceiling):
            return self
        lowered = copy.copy(self)
        lowered.ceiling = limit
        return lowered

    async def reserve(self, review_key: str, estimate: int) -> bool:
        if self.ceiling is None:
            return True
        review_keys = [keys.usage_review(key_id, review_key) for key_id in self._key_ids]
        admitted = await self._script(
            keys=[self._reserved, *review_keys], args=[review_key, estimate, self.ceiling]
        )
        return int(admitted) == 1

    async def release(self, review_key: str, estimate: int) -> None:
        if self.ceiling is None:
            return
        await cast("Any", self._redis.hincrby(self._reserved, review_key, -estimate))


def open_quota_guards(
    redis: Redis, settings: Settings
) -> tuple[RedisQuota | None, RedisQuota | None]:
    """(main, fallback) guards: the budget applies to the main key only."""
    main = fallback = None
    if settings.llm.main is not None:
        main = RedisQuota(redis, settings.llm.main.key_id, settings.quota)
    if settings.llm.fallback is not None:
        unbudgeted = QuotaSettings(tokens=None, window_seconds=settings.quota.window_seconds)
        fallback = RedisQuota(redis, settings.llm.fallback.key_id, unbudgeted)
    return main, fallback


async def usage_report(
    redis: Redis,
    key_id: str,
    settings: QuotaSettings,
    *,
    clock: Callable[[], float] = time.time,
    reviews: int = 10,
) -> UsageReport:
    """What `kimi-review usage` prints: this window's use, budget, last reviews."""
    status = await RedisQuota(redis, key_id, settings, clock=clock).status(store_anchor=False)
    return build_report(
        window_start=status.window.start,
        window_end=status.window.end,
        used=status.used,
        budget=status.budget,
        reviews=await recent_reviews(redis, reviews),
    )
