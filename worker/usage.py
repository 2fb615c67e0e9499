"""Token usage records in Redis: per quota window, per review, recent reviews.

Counts follow the OpenAI usage shape: `prompt` is every input token (cached
ones included), `cached` the part of `prompt` served from the provider's
cache, `completion` the output (reasoning included). A budget counts
`prompt + completion`. Anthropic callers pass `input + cache_read` as prompt.

Per key (`keys.usage(key_id)`): one HASH per quota window, kept one window
past its end, and one HASH per review, kept 30 days. When a review finishes,
its totals over the main and fallback keys go on the capped recent-reviews
list that `kimi-review usage` prints (`usage_report`, `render_usage`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from worker import keys

REVIEW_RECORD_TTL_SECONDS = 30 * 86400
RECENT_REVIEWS_KEPT = 100
_FIELDS = ("prompt", "completion", "cached", "calls")


class TokenCount(msgspec.Struct, frozen=True):
    """Tokens in (`prompt`, cached ones included), out, cached, and calls made."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    calls: int = 0

    @property
    def total(self) -> int:
        """What a budget counts: input plus output."""
        return self.prompt + self.completion

    def __add__(self, other: TokenCount) -> TokenCount:
        return TokenCount(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.cached + other.cached,
            self.calls + other.calls,
        )


class ReviewUsage(msgspec.Struct, frozen=True):
    """One finished review's token use, as `kimi-review usage` lists it."""

    review_key: str
    pr: str  # "owner/repo#12"
    model: str
    tokens: TokenCount
    fallback_used: bool
    duration_seconds: float
    finished_at: float  # epoch seconds


def _count(raw: dict[Any, Any]) -> TokenCount:
    values = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    return TokenCount(**{name: int(values.get(name, 0)) for name in _FIELDS})


class UsageLedger:
    """Token records of one provider key."""

    def __init__(self, redis: Redis, key_id: str) -> None:
        self._redis = redis
        self.key_id = key_id

    async def add_call(
        self,
        review_key: str,
        *,
        window_start: int,
        window_end: int,
        prompt: int,
        completion: int,
        cached: int,
        model: str,
    ) -> None:
        """Add one call's tokens to its quota window and to its review, atomically."""
        window = keys.usage_window(self.key_id, window_start)
        review = keys.usage_review(self.key_id, review_key)
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, value in (("prompt", prompt), ("completion", completion), ("cached", cached)):
                pipe.hincrby(window, name, value)
                pipe.hincrby(review, name, value)
            pipe.hincrby(window, "calls", 1)
            pipe.hincrby(review, "calls", 1)
            pipe.expireat(window, window_end + (window_end - window_start))
            pipe.hset(review, mapping={"model": model, "last_call": now})
            pipe.hsetnx(review, "first_call", str(now))
            pipe.expire(review, REVIEW_RECORD_TTL_SECONDS)
            await pipe.execute()

    async def window_tokens(self, window_start: int) -> TokenCount:
        raw = await cast("Any", self._redis.hgetall(keys.usage_window(self.key_id, window_start)))
        return _count(raw)

    async def review_tokens(self, review_key: str) -> TokenCount:
        raw = await cast("Any", self._redis.hgetall(keys.usage_review(self.key_id, review_key)))
        return _count(raw)

    async def review_model(self, review_key: str) -> str | None:
        raw = await cast(
            "Any", self._redis.hget(keys.usage_review(self.key_id, review_key), "model")
        )
        return None if raw is None else (raw.decode() if isinstance(raw, bytes) else str(raw))


async def finish_review(
    redis: Redis,
    review_key: str,
    *,
    pr: str,
    main_key_id: str,
    fallback_key_id: str | None,
    started_at: float,
    finished_at: float | None = None,
) -> ReviewUsage:
    """Total a review over both keys and put it on the recent-reviews list."""
    main = UsageLedger(redis, main_key_id)
    tokens = await main.review_tokens(review_key)
    model = await main.review_model(review_key)
    fallback_used = False
    if fallback_key_id is not None:
        fallback = UsageLedger(redis, fallback_key_id)
        extra = await fallback.review_tokens(review_key)
        fallback_used = extra.calls > 0
        tokens = tokens + extra
        if model is None or fallback_used:
            fallback_model = await fallback.review_model(review_key)
            model = f"{model} + {fallback_model}" if model and fallback_model else fallback_model
    finished = time.time() if finished_at is None else finished_at
    record = ReviewUsage(
        review_key=review_key,
        pr=pr,
        model=model or "-",
        tokens=tokens,
        fallback_used=fallback_used,
        duration_seconds=max(0.0, finished - started_at),
        finished_at=finished,
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(keys.recent_reviews(), msgspec.json.encode(record))
        pipe.ltrim(keys.recent_reviews(), 0, RECENT_REVIEWS_KEPT - 1)
        await pipe.execute()
    return record


_review_decoder = msgspec.json.Decoder(ReviewUsage)


async def recent_reviews(redis: Redis, limit: int = 10) -> list[ReviewUsage]:
    """The last `limit` finished reviews, newest first."""
    raw: Sequence[bytes] = await cast("Any", redis.lrange(keys.recent_reviews(), 0, limit - 1))
    return [_review_decoder.decode(item) for item in raw]


class UsageReport(msgspec.Struct, frozen=True):
    """What `kimi-review usage` prints (`--json` prints this Struct)."""

    window_start: str  # ISO 8601, UTC
    next_refresh: str
    used: TokenCount
    budget: int | None
    percent_of_budget: float | None
    reviews: list[ReviewUsage]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_report(
    *,
    window_start: int,
    window_end: int,
    used: TokenCount,
    budget: int | None,
    reviews: list[ReviewUsage],
) -> UsageReport:
    percent = None if budget is None else round(100.0 * used.total / budget, 1)
    return UsageReport(_iso(window_start), _iso(window_end), used, budget, percent, reviews)


def render_usage(report: UsageReport) -> str:
    """Plain text for a terminal."""
    u = report.used
    budget = (
        f"{u.total:,} of {report.budget:,} tokens ({report.percent_of_budget}%)"
        if report.budget is not None
        else f"{u.total:,} tokens (no budget set: API_LLM_QUOTA_TOKENS)"
    )
    lines = [
        f"Quota window: {report.window_start} .. {report.next_refresh} (next refresh)",
        f"Used: {budget}",
        f"  in {u.prompt:,} (cached {u.cached:,}), out {u.completion:,}, calls {u.calls:,}",
        "",
        "Last reviews:" if report.reviews else "No reviews recorded yet.",
    ]
    for r in report.reviews:
        t = r.tokens
        fallback = ", fallback used" if r.fallback_used else ""
        lines.append(
            f"  {_iso(r.finished_at)}  {r.pr}  {r.model}  in {t.prompt:,} "
            f"(cached {t.cached:,}) out {t.completion:,}  {r.duration_seconds:.0f}s{fallback}"
        )
    return "\n".join(lines)
