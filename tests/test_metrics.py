"""Pipeline metrics move when real calls go through the fakes (models, GitHub, Redis).

prometheus_client's registry is process-wide and other tests feed it too, so
every assertion compares a sample before and after the code under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from tests.fakes.github_helpers import AppKeys, app_tokens, reader_for
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from tests.fakes.model_gate import FakeQuota, RecordingSleep
from tests.fakes.model_replies import (
    kimi_context_too_long,
    kimi_ok,
    kimi_quota_exceeded,
    kimi_rate_limited,
)
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import FALLBACK_KEY, MESSAGES, Stack, build_stack, endpoint
from tests.fakes.model_stack import llm_settings as make_llm_settings
from tests.support.redis_server import free_port
from worker import keys
from worker import metrics as pipeline_metrics
from worker.github.auth import RepoRef, StaticTokenSource
from worker.github.client import GitHubReader
from worker.github.errors import GitHubNotFound, GitHubRequestFailed, GitHubUnavailable
from worker.github.pacing import WritePacer
from worker.github.rest import GitHubRest
from worker.llm.base import ChatRequest
from worker.llm.errors import ContextTooLong
from worker.secrets import Secret

TOKEN = "ghp_" + "m" * 36
PULL = "/repos/{o}/{r}/pulls/{n}"
COMMENTS = "/repos/{o}/{r}/issues/{n}/comments"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@contextmanager
def moved(name: str, **labels: str) -> Iterator[list[float]]:
    """Yields a one-item list filled, on exit, with how much the sample grew."""
    before = sample(name, **labels)
    delta: list[float] = []
    yield delta
    delta.append(sample(name, **labels) - before)


# --- model calls -----------------------------------------------------------------
def _stack(kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, **kw: object) -> Stack:
    fallback = endpoint(
        "fallback", claude.base_url, provider="anthropic", model="claude-x", key=FALLBACK_KEY
    )
    llm = make_llm_settings(endpoint("main", kimi.base_url), fallback)
    return build_stack(llm, http, sleep=RecordingSleep(), **kw)  # type: ignore[arg-type]


REQUEST = ChatRequest.build(MESSAGES, thinking=True)
LLM = "kimi_review_llm_request_seconds_count"


async def test_a_429_fails_over_and_the_fallback_call_is_timed_as_fallback(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    stack = _stack(kimi, claude, http)
    kimi.script(kimi_rate_limited(3600))  # longer than the failover will wait: fail over now
    main_429 = dict(provider="openai_compatible", role="main", outcome="rate_limited")
    fallback_ok = dict(provider="anthropic", role="fallback", outcome="ok")
    with (
        moved(LLM, **main_429) as limited,
        moved(LLM, **fallback_ok) as served_by_fallback,
        moved("kimi_review_llm_failovers_total", reason="rate_limited") as failovers,
        moved("kimi_review_llm_tokens_total", role="fallback", kind="prompt") as prompt,
        moved("kimi_review_llm_tokens_total", role="fallback", kind="cached") as cached,
    ):
        served = await stack.failover.call(REQUEST, "repo:1:abc")
    assert served.role == "fallback"
    assert (limited, served_by_fallback, failovers) == ([1], [1], [1])
    assert prompt == [served.reply.usage.prompt]
    assert cached == [served.reply.usage.cached]


async def test_an_answered_main_call_counts_its_latency_and_tokens(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    stack = _stack(kimi, claude, http)
    kimi.script(kimi_ok(prompt=1000, completion=70, cached=600))
    with (
        moved(LLM, provider="openai_compatible", role="main", outcome="ok") as ok,
        moved("kimi_review_llm_tokens_total", role="main", kind="completion") as completion,
        moved("kimi_review_llm_failovers_total", reason="rate_limited") as failovers,
    ):
        await stack.failover.call(REQUEST, "repo:1:abc")
    assert (ok, completion, failovers) == ([1], [70], [0])


async def test_a_quota_refusal_trips_the_breaker_and_later_calls_fail_over_without_a_call(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    stack = _stack(kimi, claude, http)
    kimi.script(kimi_quota_exceeded())
    with (
        moved("kimi_review_llm_breaker_trips_total", role="main", kind="quota") as trips,
        moved("kimi_review_llm_failovers_total", reason="quota") as failovers,
        moved(LLM, provider="openai_compatible", role="main", outcome="quota") as refused,
    ):
        await stack.failover.call(REQUEST, "repo:1:abc")
        await stack.failover.call(REQUEST, "repo:1:abc")  # the breaker skips main: no call
    assert (trips, failovers, refused) == ([1], [2], [1])
    assert len(kimi.requests) == 1


async def test_a_spent_token_budget_fails_over_with_reason_budget(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    stack = _stack(kimi, claude, http, main_quota=FakeQuota(allows=False))
    with moved("kimi_review_llm_failovers_total", reason="budget") as failovers:
        await stack.failover.call(REQUEST, "repo:1:abc")
    assert failovers == [1]
    assert kimi.requests == []


async def test_context_too_long_is_its_own_outcome_and_no_failover(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    stack = _stack(kimi, claude, http)
    kimi.script(kimi_context_too_long())
    main_ctx = dict(provider="openai_compatible", role="main", outcome="context_too_long")
    with moved(LLM, **main_ctx) as too_long, pytest.raises(ContextTooLong):
        await stack.failover.call(REQUEST, "repo:1:abc")
    assert too_long == [1]
    assert claude.requests == []


def test_every_error_kind_maps_to_a_bounded_outcome() -> None:
    assert pipeline_metrics.llm_outcome("agents_only") == "refused"
    assert pipeline_metrics.llm_outcome("server") == "server_error"
    assert pipeline_metrics.llm_outcome("something new") == "unknown"


# --- GitHub ------------------------------------------------------------------------
class RecordedTime:
    """A clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    fake_github.add_personal_token(TOKEN)
    repo = fake_github.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"a.py": "x = 1\n"}, branch="main")
    repo.commit({"a.py": "x = 2\n"}, parent=base, branch="feature")
    repo.open_pull(1, base="main", head="feature")
    return repo


@pytest.fixture
async def rest(fake_github: FakeGitHub, repo: FakeRepo) -> AsyncIterator[GitHubRest]:
    time_ = RecordedTime()
    pacer = WritePacer(clock=time_.clock, sleep=time_.sleep)
    ref = RepoRef(repo.owner, repo.name, repo.id, repo.installation_id)
    async with httpx.AsyncClient(timeout=10) as http:
        yield GitHubRest(
            ref, StaticTokenSource(Secret(TOKEN)), http, api_url=fake_github.url, pacer=pacer
        )


GH = "kimi_review_github_requests_total"
COMMENT = {"body": "hello"}


async def test_a_github_4xx_write_is_counted_by_status_class(
    fake_github: FakeGitHub, rest: GitHubRest
) -> None:
    fake_github.fail_next("POST", COMMENTS, 422)
    path = f"{rest.repo_path}/issues/1/comments"
    refused_4xx = moved(GH, method="POST", kind="write", status="4xx")
    with refused_4xx as refused, pytest.raises(GitHubRequestFailed):
        await rest.request("POST", path, json=COMMENT, what="commenting")
    assert refused == [1]


async def test_a_secondary_rate_limit_is_counted_and_its_retry_after_observed(
    fake_github: FakeGitHub, rest: GitHubRest
) -> None:
    fake_github.secondary_rate_limit_next("POST", COMMENTS, retry_after=2)
    with (
        moved("kimi_review_github_rate_limited_total", kind="write") as limited,
        moved("kimi_review_github_rate_limit_waits_total", reason="retry_after") as waits,
        moved("kimi_review_github_wait_seconds_sum", reason="retry_after") as waited,
        moved(GH, method="POST", kind="write", status="2xx") as created,
    ):
        await rest.request("POST", f"{rest.repo_path}/issues/1/comments", json=COMMENT, what="t")
    assert (limited, waits, waited, created) == ([1], [1], [2.0], [1])


async def test_write_pacing_waits_are_observed(rest: GitHubRest) -> None:
    path = f"{rest.repo_path}/issues/1/comments"
    with (
        moved("kimi_review_github_rate_limit_waits_total", reason="pacing") as waits,
        moved("kimi_review_github_wait_seconds_sum", reason="pacing") as waited,
    ):
        await rest.request("POST", path, json=COMMENT, what="first")
        await rest.request("POST", path, json=COMMENT, what="second, one second later")
    assert (waits, waited) == ([1], [1.0])


async def test_no_answer_at_all_is_counted_as_transport(repo: FakeRepo) -> None:
    ref = RepoRef(repo.owner, repo.name, repo.id, repo.installation_id)
    async with httpx.AsyncClient(timeout=2) as http:
        dead = GitHubRest(
            ref,
            StaticTokenSource(Secret(TOKEN)),
            http,
            api_url=f"http://127.0.0.1:{free_port()}",
            pacer=WritePacer(),
        )
        no_answer = moved(GH, method="GET", kind="read", status="transport")
        with no_answer as unanswered, pytest.raises(GitHubUnavailable):
            await dead.request("GET", dead.repo_path, what="reading the repo")
    assert unanswered == [1]


@pytest.fixture
def app_reader(
    fake_github: FakeGitHub,
    repo: FakeRepo,
    github_app_keys: AppKeys,
    github_http: httpx.AsyncClient,
) -> GitHubReader:
    return reader_for(fake_github, repo, app_tokens(fake_github, github_app_keys, github_http))


async def test_pygithub_reads_are_counted_as_reads(
    fake_github: FakeGitHub, app_reader: GitHubReader
) -> None:
    with (
        moved(GH, method="GET", kind="read", status="2xx") as ok,
        moved(GH, method="GET", kind="read", status="4xx") as missing,
    ):
        await app_reader.pull_request(1)
        with pytest.raises(GitHubNotFound):
            await app_reader.pull_request(404)
    assert (ok, missing) == ([1], [1])


async def test_a_pygithub_rate_limit_with_a_short_retry_after_is_waited_and_counted(
    fake_github: FakeGitHub, app_reader: GitHubReader
) -> None:
    fake_github.fail_next("GET", PULL, 429, headers={"Retry-After": "0"})
    with (
        moved("kimi_review_github_rate_limited_total", kind="read") as limited,
        moved("kimi_review_github_rate_limit_waits_total", reason="retry_after") as waits,
    ):
        assert (await app_reader.pull_request(1)).number == 1
    assert (limited, waits) == ([1], [1])


# --- review jobs -----------------------------------------------------------------------
async def test_queue_depth_reads_arqs_queue_and_the_deferred_set(
    redis: aioredis.Redis,
) -> None:
    await redis.zadd(keys.QUEUE, {"review:1:1:a": 1, "review:1:2:b": 2, "command:1:3:9": 3})
    await redis.zadd("kimi-review:test-deferred", {"review:1:4:c": 1})
    await pipeline_metrics.observe_queue_depth(redis, deferred_key="kimi-review:test-deferred")
    assert sample("kimi_review_queue_depth") == 3
    assert sample("kimi_review_deferred_reviews") == 1
    await redis.zrem(keys.QUEUE, "review:1:1:a")
    await pipeline_metrics.observe_queue_depth(redis)
    assert sample("kimi_review_queue_depth") == 2
    assert sample("kimi_review_deferred_reviews") == 1, "untouched without a deferred key"


async def test_an_unreachable_redis_keeps_the_last_queue_depth() -> None:
    pipeline_metrics.QUEUE_DEPTH.set(5)
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=1)
    try:
        await pipeline_metrics.observe_queue_depth(dead)
    finally:
        await dead.aclose()
    assert sample("kimi_review_queue_depth") == 5


def test_a_tracked_review_counts_its_outcome_and_leaves_progress_as_it_was() -> None:
    running = sample("kimi_review_reviews_in_progress")
    with (
        moved("kimi_review_reviews_total", outcome="posted") as posted,
        moved("kimi_review_review_seconds_count", outcome="posted") as timed,
        pipeline_metrics.track_review() as review,
    ):
        assert sample("kimi_review_reviews_in_progress") == running + 1
        review.outcome = "posted"
    assert (posted, timed) == ([1], [1])
    assert sample("kimi_review_reviews_in_progress") == running


def test_a_review_that_raises_without_an_outcome_counts_as_failed() -> None:
    with (
        moved("kimi_review_reviews_total", outcome="failed") as failed,
        pytest.raises(RuntimeError),
        pipeline_metrics.track_review(),
    ):
        raise RuntimeError("boom")
    assert failed == [1]


def test_chunks_are_counted_by_where_their_answer_came_from() -> None:
    with (
        moved("kimi_review_chunks_total", source="model") as paid,
        moved("kimi_review_chunks_total", source="checkpoint") as resumed,
    ):
        pipeline_metrics.observe_chunks("model", 3)
        pipeline_metrics.observe_chunks("checkpoint")
    assert (paid, resumed) == ([3], [1])


def test_status_classes_are_bounded() -> None:
    assert [pipeline_metrics.status_class(s) for s in (201, 304, 403, 502, None, 999)] == [
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "transport",
        "transport",
    ]
