"""Usage records and the data `kimi-review usage` prints."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import redis.asyncio as aioredis

from worker.config import QuotaSettings
from worker.quota import RedisQuota, usage_report
from worker.usage import TokenCount, UsageLedger, finish_review, recent_reviews, render_usage

# In the future: window records expire (EXPIREAT) by the real clock.
T0 = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
SETTINGS = QuotaSettings(
    tokens=10_000, window_seconds=7 * 86400, anchor=datetime.fromtimestamp(T0, UTC)
)


async def test_a_review_total_adds_main_and_fallback_calls(redis: aioredis.Redis) -> None:
    main = RedisQuota(redis, "main", SETTINGS, clock=lambda: T0 + 60)
    fallback = RedisQuota(redis, "fb", QuotaSettings(), clock=lambda: T0 + 60)
    await main.record("rev", prompt=1000, completion=200, cached=400, model="kimi-k2.6")
    await main.record("rev", prompt=500, completion=100, cached=0, model="kimi-k2.6")
    await fallback.record("rev", prompt=300, completion=50, cached=0, model="claude")
    record = await finish_review(
        redis,
        "rev",
        pr="o/r#7",
        main_key_id="main",
        fallback_key_id="fb",
        started_at=T0,
        finished_at=T0 + 90,
    )
    assert (record.tokens.prompt, record.tokens.completion, record.tokens.cached) == (
        1800,
        350,
        400,
    )
    assert record.tokens.calls == 3
    assert record.fallback_used
    assert record.model == "kimi-k2.6 + claude"
    assert record.duration_seconds == 90


async def test_the_usage_report_shows_the_window_budget_and_last_ten_reviews(
    redis: aioredis.Redis,
) -> None:
    quota = RedisQuota(redis, "main", SETTINGS, clock=lambda: T0 + 86400)
    for n in range(12):
        await quota.record(f"rev-{n}", prompt=200, completion=50, cached=100, model="kimi-k2.6")
        await finish_review(
            redis,
            f"rev-{n}",
            pr=f"o/r#{n}",
            main_key_id="main",
            fallback_key_id=None,
            started_at=T0,
            finished_at=T0 + n,
        )
    report = await usage_report(redis, "main", SETTINGS, clock=lambda: T0 + 86400)
    assert report.used.total == 12 * 250
    assert report.percent_of_budget == 30.0
    assert report.next_refresh == "2030-01-08T00:00:00Z"
    assert [r.pr for r in report.reviews] == [f"o/r#{n}" for n in range(11, 1, -1)]
    assert not report.reviews[0].fallback_used
    text = render_usage(report)
    assert "3,000 of 10,000 tokens (30.0%)" in text
    assert "o/r#11" in text
    assert "o/r#1 " not in text
    decoded = msgspec.json.decode(msgspec.json.encode(report))
    assert decoded["reviews"][0]["tokens"]["cached"] == 100


async def test_the_usage_command_does_not_claim_the_anchor(redis: aioredis.Redis) -> None:
    """Reading usage before any call must not start the quota cycle."""
    await usage_report(redis, "main", QuotaSettings(tokens=5), clock=lambda: T0)
    quota = RedisQuota(redis, "main", QuotaSettings(tokens=5), clock=lambda: T0 + 500)
    assert (await quota.window()).start == int(T0 + 500)


async def test_recent_reviews_are_capped(redis: aioredis.Redis) -> None:
    ledger = UsageLedger(redis, "main")
    assert await ledger.review_tokens("none") == TokenCount()
    for n in range(105):
        await finish_review(
            redis, f"r{n}", pr="o/r#1", main_key_id="main", fallback_key_id=None, started_at=T0
        )
    assert len(await recent_reviews(redis, limit=1000)) == 100
