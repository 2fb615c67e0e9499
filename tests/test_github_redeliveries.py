"""The redelivery sweeper against the fake GitHub: what it asks for, once, and when it stops."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.fakes.github_helpers import AppKeys, app_tokens
from tests.fakes.github_server import FakeGitHub
from worker import keys
from worker.config import load_settings
from worker.github.errors import GitHubAuthError
from worker.github.redeliveries import SweepReport, redelivery_sweep_job, sweep_redeliveries

ATTEMPTS = "/app/hook/deliveries/{delivery_id}/attempts"
DAY = 86400.0


def seed(
    fake: FakeGitHub,
    delivery_id: int,
    *,
    status_code: int | None,
    age: float = 60.0,
    guid: str | None = None,
    redelivery: bool = False,
    event: str = "pull_request",
) -> str:
    """One delivery as `GET /app/hook/deliveries` shows it; returns its guid."""
    guid = guid or str(uuid.uuid4())
    ok = status_code is not None and 200 <= status_code < 300
    fake.written.deliveries.append(
        {
            "id": delivery_id,
            "guid": guid,
            "delivered_at": fake.iso(time.time() - age),
            "redelivery": redelivery,
            "duration": 0.27,
            "status": "OK" if ok else "Invalid HTTP Response: 503",
            "status_code": status_code,
            "event": event,
            "action": "opened" if event == "pull_request" else None,
            "installation_id": 7,
            "repository_id": 99,
            "throttled_at": None,
        }
    )
    return guid


@pytest.fixture
async def sweep(
    fake_github: FakeGitHub,
    github_app_keys: AppKeys,
    github_http: httpx.AsyncClient,
    redis: aioredis.Redis,
) -> Any:
    """`await sweep(**options)` runs one sweep as the worker would, against the fake."""
    tokens = app_tokens(fake_github, github_app_keys, github_http)

    async def run(**options: Any) -> SweepReport:
        options.setdefault("api_url", fake_github.url)
        return await sweep_redeliveries(
            redis, http=github_http, tokens=tokens, now=time.time(), **options
        )

    return run


async def test_failed_deliveries_are_redelivered_once(fake_github: FakeGitHub, sweep: Any) -> None:
    seed(fake_github, 1, status_code=503)
    seed(fake_github, 2, status_code=200)
    seed(fake_github, 3, status_code=0)  # GitHub's timeout / connection refused

    first = await sweep()
    assert sorted(fake_github.written.redelivered) == [1, 3]
    assert (first.listed, first.failed_seen, first.redelivered) == (3, 2, 2)

    second = await sweep()
    assert sorted(fake_github.written.redelivered) == [1, 3]
    assert (second.redelivered, second.already_asked) == (0, 2)


async def test_ask_mark_lives_as_long_as_deliveries_are_remembered(
    fake_github: FakeGitHub, sweep: Any, redis: aioredis.Redis
) -> None:
    guid = seed(fake_github, 5, status_code=502)
    await sweep()
    assert await redis.get(keys.redelivered(5)) == guid.encode()
    assert 0 < await redis.ttl(keys.redelivered(5)) <= keys.DELIVERY_TTL_SECONDS


async def test_succeeded_or_pending_redelivery_means_nothing_to_ask(
    fake_github: FakeGitHub, sweep: Any
) -> None:
    recovered = seed(fake_github, 10, status_code=503, age=600)
    seed(fake_github, 11, status_code=202, guid=recovered, redelivery=True)
    in_flight = seed(fake_github, 12, status_code=0, age=600)
    seed(fake_github, 13, status_code=None, guid=in_flight, redelivery=True)

    report = await sweep()
    assert fake_github.written.redelivered == []
    assert (report.failed_seen, report.recovered, report.pending) == (2, 1, 1)


async def test_a_failed_redelivery_asks_for_the_original_once(
    fake_github: FakeGitHub, sweep: Any
) -> None:
    """An operator's redelivery from the App settings failed too: one more ask, for the original."""
    guid = seed(fake_github, 20, status_code=503, age=600)
    seed(fake_github, 21, status_code=503, guid=guid, redelivery=True)

    await sweep()
    await sweep()
    assert fake_github.written.redelivered == [20]


async def test_failures_older_than_the_lookback_are_ignored(
    fake_github: FakeGitHub, sweep: Any
) -> None:
    seed(fake_github, 30, status_code=503, age=3 * DAY + 60)
    old_original = seed(fake_github, 31, status_code=503, age=3 * DAY + 30)
    seed(fake_github, 32, status_code=503, guid=old_original, redelivery=True)

    report = await sweep()
    assert fake_github.written.redelivered == []
    assert (report.failed_seen, report.skipped_old) == (2, 2)


async def test_paging_stops_at_deliveries_older_than_the_lookback(
    fake_github: FakeGitHub, sweep: Any
) -> None:
    for delivery_id in range(1, 201):  # ids 101..200 recent, 1..100 four days old
        seed(fake_github, delivery_id, status_code=200, age=60 if delivery_id > 100 else 4 * DAY)
    seed(fake_github, 201, status_code=200)

    report = await sweep()
    assert (report.pages, report.listed) == (2, 200)
    assert len(fake_github.calls_to("GET", "/app/hook/deliveries")) == 2


async def test_pagination_is_followed_by_cursor(fake_github: FakeGitHub, sweep: Any) -> None:
    for delivery_id in range(1, 251):
        seed(fake_github, delivery_id, status_code=500)

    report = await sweep(max_redeliveries=1000)
    assert (report.pages, report.listed, report.redelivered) == (3, 250, 250)
    assert sorted(fake_github.written.redelivered) == list(range(1, 251))
    cursors = [c.query.get("cursor") for c in fake_github.calls_to("GET", "/app/hook/deliveries")]
    assert cursors == [None, ["v1_150"], ["v1_50"]]


async def test_max_pages_bounds_the_listing(fake_github: FakeGitHub, sweep: Any) -> None:
    for delivery_id in range(1, 251):
        seed(fake_github, delivery_id, status_code=200)

    report = await sweep(max_pages=2)
    assert (report.pages, report.listed) == (2, 200)


async def test_redeliveries_per_run_are_bounded(fake_github: FakeGitHub, sweep: Any) -> None:
    for delivery_id in range(1, 31):
        seed(fake_github, delivery_id, status_code=503)

    first = await sweep(max_redeliveries=20)
    assert (first.redelivered, first.deferred) == (20, 10)
    assert sorted(fake_github.written.redelivered) == list(range(11, 31))  # newest first

    second = await sweep(max_redeliveries=20)
    assert (second.redelivered, second.already_asked) == (10, 20)
    assert sorted(fake_github.written.redelivered) == list(range(1, 31))


async def test_ping_is_never_redelivered(fake_github: FakeGitHub, sweep: Any) -> None:
    seed(fake_github, 40, status_code=0, event="ping")

    report = await sweep()
    assert fake_github.written.redelivered == []
    assert report.failed_seen == 0


async def test_concurrent_sweeps_ask_once_per_delivery(fake_github: FakeGitHub, sweep: Any) -> None:
    for delivery_id in range(1, 41):
        seed(fake_github, delivery_id, status_code=503)

    reports = await asyncio.gather(*(sweep(max_redeliveries=100) for _ in range(3)))
    assert sorted(fake_github.written.redelivered) == list(range(1, 41))
    assert sum(r.redelivered for r in reports) == 40
    assert sum(r.already_asked for r in reports) == 80


async def test_server_error_on_redeliver_is_retried_next_run(
    fake_github: FakeGitHub, sweep: Any, redis: aioredis.Redis
) -> None:
    seed(fake_github, 50, status_code=503)
    seed(fake_github, 51, status_code=503)
    fake_github.fail_next("POST", ATTEMPTS, 502)  # the first ask: delivery 51 (newest first)

    first = await sweep()
    assert (first.errors, first.redelivered) == (1, 1)
    assert fake_github.written.redelivered == [50]
    assert await redis.exists(keys.redelivered(51)) == 0

    second = await sweep()
    assert (second.redelivered, second.already_asked) == (1, 1)
    assert fake_github.written.redelivered == [50, 51]


async def test_refused_redelivery_is_not_asked_again(fake_github: FakeGitHub, sweep: Any) -> None:
    seed(fake_github, 60, status_code=503)
    fake_github.fail_next("POST", ATTEMPTS, 422)

    first = await sweep()
    second = await sweep()
    assert (first.refused, second.already_asked) == (1, 1)
    assert len(fake_github.calls_to("POST", ATTEMPTS)) == 1


@pytest.mark.parametrize("status", [429, 403])
async def test_rate_limit_on_redeliver_stops_the_run(
    fake_github: FakeGitHub, sweep: Any, status: int
) -> None:
    for delivery_id in (70, 71, 72):
        seed(fake_github, delivery_id, status_code=503)
    fake_github.fail_next("POST", ATTEMPTS, status, headers={"Retry-After": "60"})

    started = time.monotonic()
    first = await sweep()
    assert time.monotonic() - started < 5  # no sleeping inside a cron
    assert (first.stopped, first.retry_after) == ("rate_limited", 60.0)
    assert (first.redelivered, first.deferred) == (0, 3)
    assert len(fake_github.calls_to("POST", ATTEMPTS)) == 1

    second = await sweep()  # nothing was asked, so everything is asked now
    assert sorted(fake_github.written.redelivered) == [70, 71, 72]
    assert second.stopped is None


async def test_rate_limit_on_listing_stops_before_asking(
    fake_github: FakeGitHub, sweep: Any
) -> None:
    seed(fake_github, 80, status_code=503)
    fake_github.secondary_rate_limit_next("GET", "/app/hook/deliveries", retry_after=30)

    report = await sweep()
    assert (report.stopped, report.retry_after, report.listed) == ("rate_limited", 30.0, 0)
    assert fake_github.calls_to("POST", ATTEMPTS) == []


async def test_github_unreachable_stops_the_run(sweep: Any) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    report = await sweep(api_url=f"http://127.0.0.1:{port}")
    assert (report.stopped, report.errors) == ("github_unavailable", 1)


async def test_refused_app_credentials_raise(fake_github: FakeGitHub, sweep: Any) -> None:
    fake_github.fail_next("GET", "/app/hook/deliveries", 401)
    with pytest.raises(GitHubAuthError):
        await sweep()


def _job_ctx(
    fake: FakeGitHub, redis: aioredis.Redis, http: httpx.AsyncClient, tokens: Any
) -> dict[str, Any]:
    settings = load_settings({"API_OPEN_AI_API_KEY": "sk-test", "GITHUB_API_URL": fake.url})
    return {"redis": redis, "settings": settings, "http": http, "app_tokens": tokens}


async def test_job_without_a_github_app_skips(
    fake_github: FakeGitHub, redis: aioredis.Redis, github_http: httpx.AsyncClient
) -> None:
    ctx = _job_ctx(fake_github, redis, github_http, None)
    assert await redelivery_sweep_job(ctx) == "skipped: no GitHub App"
    assert fake_github.calls == []


async def test_job_sweeps_with_the_workers_clients(
    fake_github: FakeGitHub,
    github_app_keys: AppKeys,
    redis: aioredis.Redis,
    github_http: httpx.AsyncClient,
) -> None:
    seed(fake_github, 90, status_code=503)
    tokens = app_tokens(fake_github, github_app_keys, github_http)
    ctx = _job_ctx(fake_github, redis, github_http, tokens)

    assert await redelivery_sweep_job(ctx) == "redelivered 1 of 1 failed guids"
    fake_github.fail_next("GET", "/app/hook/deliveries", 401)
    assert (await redelivery_sweep_job(ctx)).startswith("failed: listing webhook deliveries")
