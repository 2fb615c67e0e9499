"""Prometheus metrics of the review pipeline: model calls, GitHub calls, review jobs.

Everything lands in prometheus_client's process-wide registry, which a worker
serves on METRICS_PORT (worker.main). As in worker.gate.metrics, label values
are roles and classes from small fixed sets (`main`/`fallback`, `4xx`,
`rate_limited`), never a key, a URL, a path or a repository: a label with
unbounded values would grow the registry without end. The `observe_*`
helpers are cheap (no I/O) so they can sit on every call path; only
`observe_queue_depth` talks to Redis, and it is meant for a periodic task.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Literal

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter, Gauge, Histogram
from redis.exceptions import RedisError

from worker import keys

log = structlog.get_logger(__name__)

# --- model calls ---------------------------------------------------------------
# Thinking calls on a large chunk take minutes, so the buckets reach 15 min.
LLM_BUCKETS: Final = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300, 450, 600, 900)
LLM_SECONDS = Histogram(
    "kimi_review_llm_request_seconds",
    "Duration of one model call (the HTTP request only; the gate wait is gate_wait_seconds)",
    ["provider", "role", "outcome"],
    buckets=LLM_BUCKETS,
)
LLM_FAILOVERS = Counter(
    "kimi_review_llm_failovers_total",
    "Calls sent to the fallback model because the main one could not serve, by why",
    ["reason"],
)
LLM_TOKENS = Counter(
    "kimi_review_llm_tokens_total",
    "Tokens of answered model calls (cached is the part of prompt read from cache)",
    ["role", "kind"],
)
LLM_BREAKER_TRIPS = Counter(
    "kimi_review_llm_breaker_trips_total",
    "Breaker trips by this worker: the endpoint is skipped by every worker for the cool-down",
    ["role", "kind"],
)

# worker.llm.classify.ErrorKind -> the `outcome` / `reason` label value.
_OUTCOME_BY_KIND: Final[dict[str, str]] = {
    "rate_limited": "rate_limited",
    "quota": "quota",
    "agents_only": "refused",
    "auth": "auth",
    "server": "server_error",
    "transport": "transport",
    "context_too_long": "context_too_long",
    "rejected": "rejected",
}


def llm_outcome(kind: str) -> str:
    """The label value for an error kind; `unknown` for anything else (an unreadable trip)."""
    return _OUTCOME_BY_KIND.get(kind, "unknown")


def observe_llm_call(provider: str, role: str, kind: str | None, seconds: float) -> None:
    """One model call took `seconds`: `kind` is None when it answered, else its error kind."""
    outcome = "ok" if kind is None else llm_outcome(kind)
    LLM_SECONDS.labels(provider, role, outcome).observe(max(0.0, seconds))


def observe_failover(reason: str) -> None:
    """The fallback is tried; `reason` is an error kind, or `budget` (main's window spent)."""
    LLM_FAILOVERS.labels(reason if reason == "budget" else llm_outcome(reason)).inc()


def observe_tokens(role: str, *, prompt: int, completion: int, cached: int) -> None:
    """Tokens one answered call consumed, as the provider reported them."""
    LLM_TOKENS.labels(role, "prompt").inc(max(0, prompt))
    LLM_TOKENS.labels(role, "completion").inc(max(0, completion))
    LLM_TOKENS.labels(role, "cached").inc(max(0, cached))


def observe_breaker_trip(role: str, kind: str) -> None:
    """This worker opened the breaker of an endpoint (quota, refused, auth)."""
    LLM_BREAKER_TRIPS.labels(role, llm_outcome(kind)).inc()


# --- GitHub --------------------------------------------------------------------
GITHUB_REQUESTS = Counter(
    "kimi_review_github_requests_total",
    "GitHub REST answers by method, read/write and status class (transport = no answer)",
    ["method", "kind", "status"],
)
GITHUB_RATE_LIMITED = Counter(
    "kimi_review_github_rate_limited_total",
    "403/429 rate-limit answers from GitHub, whether waited out or passed to the job",
    ["kind"],
)
GITHUB_WAITS = Counter(
    "kimi_review_github_rate_limit_waits_total",
    "Waits before a GitHub request: our write pacing, or a short Retry-After slept out",
    ["reason"],
)
GITHUB_WAIT_SECONDS = Histogram(
    "kimi_review_github_wait_seconds",
    "Seconds waited before a GitHub request, by reason (pacing, retry_after)",
    ["reason"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"})
# HTTP's safe methods read; everything else creates or changes content.
_READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

GitHubWaitReason = Literal["pacing", "retry_after"]


def github_kind(method: str) -> str:
    """`read` for safe methods, `write` for the rest (what GitHub's secondary limits watch)."""
    return "read" if method.upper() in _READ_METHODS else "write"


def status_class(status: int | None) -> str:
    """`2xx` ... `5xx`; `transport` when no HTTP answer came (timeout, reset)."""
    if status is None or not 100 <= status <= 599:
        return "transport"
    return f"{status // 100}xx"


def observe_github_request(method: str, status: int | None) -> None:
    """One GitHub request and its answer's status (None: no answer at all)."""
    upper = method.upper()
    label = upper if upper in _METHODS else "OTHER"
    GITHUB_REQUESTS.labels(label, github_kind(upper), status_class(status)).inc()


def observe_github_rate_limited(method: str) -> None:
    """GitHub answered a rate limit (primary or secondary) to this request."""
    GITHUB_RATE_LIMITED.labels(github_kind(method)).inc()


def observe_github_failure(method: str, status: int | None, *, rate_limited: bool) -> None:
    """A request that failed with `status` (None: a transport error), maybe a rate limit."""
    observe_github_request(method, status)
    if rate_limited:
        observe_github_rate_limited(method)


def observe_github_wait(reason: GitHubWaitReason, seconds: float) -> None:
    """A wait before a GitHub request: write pacing, or a Retry-After slept out."""
    GITHUB_WAITS.labels(reason).inc()
    GITHUB_WAIT_SECONDS.labels(reason).observe(max(0.0, seconds))


# --- review jobs ---------------------------------------------------------------
ReviewOutcome = Literal[
    "posted", "already_posted", "skipped", "deferred", "gave_up", "superseded", "failed"
]
ChunkSource = Literal["model", "checkpoint"]

REVIEWS = Counter("kimi_review_reviews_total", "Review jobs finished, by outcome", ["outcome"])
REVIEW_SECONDS = Histogram(
    "kimi_review_review_seconds",
    "Duration of one review job, by outcome",
    ["outcome"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600),
)
CHUNKS = Counter(
    "kimi_review_chunks_total",
    "Chunk answers a review used: model (paid for now) or checkpoint (saved by an earlier run)",
    ["source"],
)
REVIEWS_IN_PROGRESS = Gauge(
    "kimi_review_reviews_in_progress", "Review jobs running in this worker process"
)
QUEUE_DEPTH = Gauge(
    "kimi_review_queue_depth",
    "Jobs in arq's queue (ready and scheduled), across all workers",
)
DEFERRED_REVIEWS = Gauge(
    "kimi_review_deferred_reviews", "Reviews waiting for a model or GitHub to be available again"
)


def observe_review(outcome: ReviewOutcome, seconds: float) -> None:
    """One review job ended with `outcome` after `seconds`."""
    REVIEWS.labels(outcome).inc()
    REVIEW_SECONDS.labels(outcome).observe(max(0.0, seconds))


@dataclass(slots=True)
class ReviewTracking:
    """Set `outcome` before leaving `track_review`; left unset, the job counts as `failed`."""

    started: float
    outcome: ReviewOutcome = "failed"


@contextmanager
def track_review() -> Iterator[ReviewTracking]:
    """In progress while the block runs; on exit (even by exception) outcome and duration."""
    REVIEWS_IN_PROGRESS.inc()
    tracking = ReviewTracking(time.monotonic())
    try:
        yield tracking
    finally:
        REVIEWS_IN_PROGRESS.dec()
        observe_review(tracking.outcome, time.monotonic() - tracking.started)


def observe_chunks(source: ChunkSource, count: int = 1) -> None:
    """Chunk answers a review used; a `checkpoint` answer was not paid for again."""
    CHUNKS.labels(source).inc(max(0, count))


async def observe_queue_depth(redis: aioredis.Redis, *, deferred_key: str | None = None) -> None:
    """Set the queue gauges from Redis (ZCARD of arq's queue, and of `deferred_key` if given).

    arq keeps every queued job in one ZSET scored by when it may run, so the
    depth includes jobs scheduled for later. A Redis error keeps the last
    values, with a warning: metrics never fail the task that refreshes them.
    """
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zcard(keys.QUEUE)
            if deferred_key is not None:
                pipe.zcard(deferred_key)
            sizes = await pipe.execute()
    except RedisError as exc:
        log.warning("queue_depth_unreadable", error=str(exc))
        return
    QUEUE_DEPTH.set(int(sizes[0]))
    if deferred_key is not None:
        DEFERRED_REVIEWS.set(int(sizes[1]))
