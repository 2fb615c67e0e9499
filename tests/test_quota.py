"""Quota windows: anchors, roll-over, the budget pause, the per-review ceiling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from worker import keys
from worker.config import QuotaSettings
from worker.quota import QuotaExhausted, RedisQuota, ReviewCeiling, pause_notice, window_at

DAY = 86400
WEEK = 7 * DAY
# In the future: window records expire (EXPIREAT) by the real clock.
ANCHOR = datetime(2030, 1, 1, tzinfo=UTC)
T0 = ANCHOR.timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_windows_roll_every_cycle_from_the_anchor() -> None:
    anchor = int(T0)
    assert window_at(anchor, WEEK, T0) == window_at(anchor, WEEK, T0 + WEEK - 1)
    assert window_at(anchor, WEEK, T0 + WEEK).start == anchor + WEEK
    assert window_at(anchor, WEEK, T0 + 3.5 * WEEK).end == anchor + 4 * WEEK


def test_a_time_before_the_anchor_falls_in_the_cycle_before_it() -> None:
    assert window_at(int(T0), 5 * 3600, T0 - 1).end == int(T0)


async def test_budget_spent_pauses_new_work_until_the_window_rolls_over(
    redis: aioredis.Redis,
) -> None:
    clock = Clock(T0 + DAY)
    quota = RedisQuota(
        redis, "k", QuotaSettings(tokens=1000, window_seconds=WEEK, anchor=ANCHOR), clock=clock
    )
    assert await quota.allows_new_work()
    await quota.record("r1", prompt=700, completion=200, cached=300, model="kimi-k2.6")
    assert await quota.allows_new_work()  # 900 of 1000
    # A call already running finishes and is counted, past the budget.
    await quota.record("r1", prompt=250, completion=50, cached=0, model="kimi-k2.6")
    assert not await quota.allows_new_work()
    with pytest.raises(QuotaExhausted) as raised:
        await quota.ensure_new_work_allowed()
    assert raised.value.refreshes_at == datetime(2030, 1, 8, tzinfo=UTC)
    assert "2030-01-08 00:00 UTC" in pause_notice(raised.value.status)
    clock.now = T0 + WEEK  # unused quota does not carry over, used quota neither
    assert await quota.allows_new_work()
    assert (await quota.status()).used.total == 0


async def test_without_a_configured_anchor_the_first_use_is_stored_and_shared(
    redis: aioredis.Redis,
) -> None:
    settings = QuotaSettings(tokens=10, window_seconds=5 * 3600)
    first = RedisQuota(redis, "k", settings, clock=Clock(T0 + 100))
    later = RedisQuota(redis, "k", settings, clock=Clock(T0 + 3 * 3600))
    assert (await first.window()).start == int(T0 + 100)
    assert (await later.window()).start == int(T0 + 100)
    assert await redis.get(keys.usage_anchor("k")) == str(int(T0 + 100)).encode()


async def test_no_budget_never_pauses(redis: aioredis.Redis) -> None:
    quota = RedisQuota(redis, "k", QuotaSettings(), clock=Clock(T0))
    await quota.record("r", prompt=10**9, completion=10**9, cached=0, model="m")
    assert await quota.allows_new_work()


async def test_the_review_ceiling_counts_running_reservations_and_both_keys(
    redis: aioredis.Redis,
) -> None:
    """Parallel chunks: each reserves its estimate, so they cannot all pass the ceiling."""
    ceiling = ReviewCeiling(redis, 10_000, ["main", "fallback"])
    assert await ceiling.reserve("r", 4000)
    assert await ceiling.reserve("r", 4000)
    assert not await ceiling.reserve("r", 4000)  # 12,000 would pass the ceiling
    fallback = RedisQuota(redis, "fallback", QuotaSettings(), clock=Clock(T0))
    await fallback.record("r", prompt=3000, completion=500, cached=0, model="other")
    await ceiling.release("r", 4000)  # that call used 3,500 on the fallback key
    assert not await ceiling.reserve("r", 3000)  # 4,000 + 3,500 + 3,000
    assert await ceiling.reserve("r", 2000)
    assert await ceiling.reserve("another-review", 9000)


async def test_a_repository_may_lower_the_ceiling_but_never_raise_it(
    redis: aioredis.Redis,
) -> None:
    ceiling = ReviewCeiling(redis, 10_000, ["main"])
    lowered = ceiling.lowered(5_000)
    assert lowered.limit == 5_000
    assert await lowered.reserve("r", 4000)
    assert not await lowered.reserve("r", 2000)  # 6,000 would pass the repository's 5,000
    assert ceiling.lowered(50_000).limit == 10_000
    assert ReviewCeiling(redis, None, ["main"]).lowered(3_000).limit == 3_000


async def test_no_ceiling_admits_everything(redis: aioredis.Redis) -> None:
    ceiling = ReviewCeiling(redis, None, ["main"])
    assert await ceiling.reserve("r", 10**9)


async def test_a_spent_window_tells_the_failover_when_it_refreshes(redis: aioredis.Redis) -> None:
    """The failover reads `next_refresh` (KnowsRefresh) to defer a paused review until then."""
    from worker.llm.failover import KnowsRefresh

    anchor = datetime(2031, 1, 1, tzinfo=UTC)
    settings = QuotaSettings(tokens=100, window_seconds=7 * 86400, anchor=anchor)
    quota = RedisQuota(redis, "refresh", settings, clock=lambda: anchor.timestamp() + 3600)
    assert isinstance(quota, KnowsRefresh)
    assert await quota.next_refresh() == datetime(2031, 1, 8, tzinfo=UTC)
