"""Every row of the README's failover table, against fake servers over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.fakes.model_gate import CountingGate, FakeQuota, RecordingSleep
from tests.fakes.model_replies import (
    Reply,
    anthropic_error,
    gateway_html,
    hang,
    kimi_code_agents_only,
    kimi_code_limit,
    kimi_code_membership,
    kimi_context_too_long,
    kimi_ok,
    kimi_overloaded,
    kimi_quota_exceeded,
    kimi_rate_limited,
    kimi_unauthorized,
    reset,
    server_error,
)
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import (
    FALLBACK_KEY,
    MAIN_KEY,
    MESSAGES,
    Stack,
    build_stack,
    endpoint,
    llm_settings,
)
from worker.llm.breaker import LocalBreaker
from worker.llm.errors import ContextTooLong, ModelsUnavailable, QuotaPaused
from worker.review.chunk_review import ChunkResult
from worker.version import user_agent

COOLDOWN = 300


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


def _stack(
    kimi: FakeKimi,
    claude: FakeAnthropic | None,
    http: httpx.AsyncClient,
    sleep: RecordingSleep,
    *,
    main_plan: Any = None,
    **kw: Any,
) -> Stack:
    fallback = None
    if claude is not None:
        fallback = endpoint(
            "fallback",
            claude.base_url,
            provider="anthropic",
            model="claude-sonnet-4-5",
            key=FALLBACK_KEY,
        )
    llm = llm_settings(
        endpoint("main", kimi.base_url, plan=main_plan), fallback, breaker_cooldown=COOLDOWN
    )
    return build_stack(llm, http, sleep=sleep, **kw)


async def _review(stack: Stack, review_key: str = "repo:1:abc") -> ChunkResult:
    return await stack.reviewer.review_chunk(MESSAGES, chunk_tokens=5000, review_key=review_key)


# --- 429 rate limit / overloaded: wait, retry main within a budget, then fallback --------
async def test_rate_limited_main_waits_the_hinted_time_then_serves(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_rate_limited(3))
    result = await _review(stack)
    assert (result.role, result.model) == ("main", "kimi-k2.6")
    assert sleep.waits == [3.0]
    assert len(kimi.requests) == 2
    assert claude.requests == []
    assert stack.main_gate.rate_limited == 1
    assert result.notes == ()


async def test_a_retry_sends_the_same_request(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_rate_limited(1), server_error(500))
    await _review(stack)
    first, *retries = [r.raw for r in kimi.requests]
    assert len(retries) == 2
    assert all(raw == first for raw in retries)


async def test_retry_after_header_wins_over_the_text(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_rate_limited(3, {"Retry-After": "5"}))
    await _review(stack)
    assert sleep.waits == [5.0]


async def test_overloaded_without_a_hint_backs_off_exponentially_with_jitter(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_overloaded(), kimi_overloaded())
    result = await _review(stack)
    assert result.role == "main"
    # jitter fixed at 0.5: 2 s ceiling -> 1.5 s, 4 s ceiling -> 3.0 s
    assert sleep.waits == [1.5, 3.0]


async def test_persistent_rate_limit_fails_over_after_a_small_budget(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(*[kimi_rate_limited(1)] * 4)
    result = await _review(stack)
    assert result.role == "fallback"
    assert result.model == "claude-sonnet-4-5"
    assert len(kimi.requests) == 4  # the first call and three retries
    assert sleep.waits == [1.0, 1.0, 1.0]
    assert result.notes == ("fallback served (claude-sonnet-4-5): main rate-limited",)
    # A rate limit is no refusal: the next chunk tries main again.
    assert (await _review(stack)).role == "main"


async def test_a_hinted_wait_longer_than_the_budget_fails_over_at_once(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_rate_limited(600))
    result = await _review(stack)
    assert result.role == "fallback"
    assert sleep.waits == []
    assert len(kimi.requests) == 1


async def test_rate_limited_with_no_fallback_defers_with_the_hint(
    kimi: FakeKimi, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, None, http, sleep)
    kimi.script(kimi_rate_limited(600))
    with pytest.raises(ModelsUnavailable) as caught:
        await _review(stack)
    assert caught.value.retry_after == 600.0
    assert caught.value.reasons == ("main rate-limited",)


# --- refusals: fallback now, breaker opens for every worker -----------------------------
@pytest.mark.parametrize(
    ("refusal", "kind", "note"),
    [
        (kimi_quota_exceeded(), "quota", "main over quota"),
        (kimi_code_membership(), "quota", "main over quota"),
        (kimi_code_limit(), "quota", "main over quota"),
        (
            kimi_code_agents_only(),
            "agents_only",
            "main refused: Kimi Code serves coding agents only",
        ),
        (kimi_unauthorized(), "auth", "main key refused"),
    ],
)
async def test_refusal_fails_over_now_and_opens_the_breaker(
    kimi: FakeKimi,
    claude: FakeAnthropic,
    http: httpx.AsyncClient,
    sleep: RecordingSleep,
    refusal: Reply,
    kind: str,
    note: str,
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(refusal)
    first = await _review(stack)
    assert first.role == "fallback"
    assert first.notes == (f"fallback served (claude-sonnet-4-5): {note}",)
    assert sleep.waits == []
    assert stack.llm.main is not None
    trip = await stack.breaker.tripped(stack.llm.main.key_id)
    assert trip is not None
    assert trip.kind == kind
    assert trip.remaining == pytest.approx(COOLDOWN, abs=5)
    second = await _review(stack)
    assert second.role == "fallback"
    assert len(kimi.requests) == 1  # no new call started on main once the refusal was known


async def test_agents_only_refusal_says_plainly_a_bot_uses_the_developer_api(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    """Recognised from the body although the base URL is not api.kimi.com."""
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_code_agents_only())
    with capture_logs() as logs:
        await _review(stack)
    refusal = next(e for e in logs if e["event"] == "model_refused_not_a_coding_agent")
    assert refusal["log_level"] == "error"
    assert "serves approved coding agents only" in refusal["advice"]
    assert "API_OPENAI_FORCE_BASE_URL=https://api.moonshot.ai/v1" in refusal["advice"]
    assert "access_terminated_error" in refusal["error"]


async def test_auth_refusal_logs_which_endpoint_the_key_belongs_to_without_the_key(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    """A Kimi Code key (sk-kimi-...) sent to the developer API is named as such."""
    stack = _stack(kimi, claude, http, sleep, main_plan="moonshot")
    kimi.script(kimi_unauthorized())
    with capture_logs() as logs:
        await _review(stack)
    refusal = next(e for e in logs if e["event"] == "model_key_refused")
    assert "Kimi developer API (api.moonshot.ai)" in refusal["advice"]
    assert "looks like a Kimi Code Plan key" in refusal["advice"]
    assert "API_OPEN_AI_API_KEY" in refusal["advice"]
    assert all(MAIN_KEY not in repr(entry) for entry in logs)


# --- 5xx, timeout, reset: one retry, then fallback ---------------------------------------
@pytest.mark.parametrize(
    "failure", [server_error(500), server_error(503), gateway_html(502), reset()]
)
async def test_one_server_failure_is_retried_on_main(
    kimi: FakeKimi,
    claude: FakeAnthropic,
    http: httpx.AsyncClient,
    sleep: RecordingSleep,
    failure: Reply,
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(failure)
    result = await _review(stack)
    assert result.role == "main"
    assert len(kimi.requests) == 2
    assert claude.requests == []


@pytest.mark.parametrize("failure", [server_error(500), gateway_html(502), reset()])
async def test_a_second_server_failure_fails_over(
    kimi: FakeKimi,
    claude: FakeAnthropic,
    http: httpx.AsyncClient,
    sleep: RecordingSleep,
    failure: Reply,
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(failure, failure)
    result = await _review(stack)
    assert result.role == "fallback"
    assert len(kimi.requests) == 2
    assert len(claude.requests) == 1
    assert stack.llm.main is not None
    assert await stack.breaker.tripped(stack.llm.main.key_id) is None


async def test_timeouts_are_retried_once_then_fail_over(
    kimi: FakeKimi, claude: FakeAnthropic, sleep: RecordingSleep
) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3, connect=2)) as impatient:
        stack = _stack(kimi, claude, impatient, sleep)
        kimi.script(hang(1.5), hang(1.5))
        result = await _review(stack)
    assert result.role == "fallback"
    assert len(kimi.requests) == 2


# --- 400 context too long: the caller splits the chunk -----------------------------------
async def test_context_too_long_goes_back_to_the_caller_not_to_the_fallback(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_context_too_long())
    with pytest.raises(ContextTooLong, match="exceeded model token limit"):
        await _review(stack)
    assert claude.requests == []
    assert len(kimi.requests) == 1


# --- both unavailable: defer with a hint ----------------------------------------------
async def test_both_unavailable_defers_the_job_with_the_earliest_retry_hint(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_quota_exceeded())
    claude.script(
        *[anthropic_error(529, "overloaded_error", "Overloaded", {"retry-after": "20"})] * 4
    )
    with pytest.raises(ModelsUnavailable) as caught:
        await _review(stack)
    assert caught.value.reasons == ("main over quota", "fallback rate-limited")
    assert caught.value.retry_after == 20.0


async def test_fallback_refusal_opens_the_fallbacks_own_breaker(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(kimi_quota_exceeded())
    claude.script(anthropic_error(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ModelsUnavailable) as caught:
        await _review(stack)
    assert caught.value.retry_after == pytest.approx(COOLDOWN, abs=5)
    with pytest.raises(ModelsUnavailable):
        await _review(stack)
    assert (len(kimi.requests), len(claude.requests)) == (1, 1)


# --- quota window spent (QuotaGuard) ----------------------------------------------------
async def test_spent_quota_window_sends_new_work_to_the_fallback(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep, main_quota=FakeQuota(allows=False))
    result = await _review(stack)
    assert result.role == "fallback"
    assert kimi.requests == []
    assert result.notes == (
        "fallback served (claude-sonnet-4-5): main over its token budget for this window",
    )


async def test_spent_quota_window_without_fallback_pauses_until_the_refresh(
    kimi: FakeKimi, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    refresh = datetime.now(UTC) + timedelta(hours=5)
    stack = _stack(
        kimi, None, http, sleep, main_quota=FakeQuota(allows=False, refreshes_at=refresh)
    )
    with pytest.raises(QuotaPaused) as caught:
        await _review(stack)
    assert caught.value.refreshes_at == refresh
    assert caught.value.retry_after == pytest.approx(5 * 3600, abs=60)
    assert kimi.requests == []


async def test_main_usage_is_recorded_against_the_window(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    quota = FakeQuota()
    stack = _stack(kimi, claude, http, sleep, main_quota=quota)
    kimi.script(kimi_ok(prompt=1000, completion=200, cached=600))
    result = await _review(stack, review_key="repo:7:abc")
    assert [(r.review_key, r.prompt, r.completion, r.cached, r.model) for r in quota.records] == [
        ("repo:7:abc", 1000, 200, 600, "kimi-k2.6")
    ]
    assert (result.usage.prompt, result.usage.completion, result.usage.cached) == (1000, 200, 600)
    assert stack.main_gate.successes == 1


# --- the breaker is checked after the wait at the gate ------------------------------------
async def test_breaker_is_checked_again_after_waiting_at_the_gate(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    """Another worker learns of a refusal while this one waits for a slot: no call on main."""
    breaker = LocalBreaker()
    main_key_id = endpoint("main", kimi.base_url).key_id

    async def another_worker_trips_the_breaker() -> None:
        await breaker.trip(main_key_id, kind="quota", reason="seen elsewhere", cooldown=60)

    gate = CountingGate(on_acquire=another_worker_trips_the_breaker)
    stack = _stack(kimi, claude, http, sleep, breaker=breaker, main_gate=gate)
    result = await _review(stack)
    assert result.role == "fallback"
    assert kimi.requests == []
    assert gate.in_flight == 0


async def test_every_call_main_retry_and_fallback_carries_the_user_agent(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    stack = _stack(kimi, claude, http, sleep)
    kimi.script(server_error(500), server_error(500))
    await _review(stack)
    agents = [r.user_agent for r in (*kimi.requests, *claude.requests)]
    assert agents == [user_agent()] * 3


async def test_openai_compatible_fallback_gets_kimi_bodies(
    kimi: FakeKimi, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    """Kimi Code refusing the bot, the developer API (another key) serves as fallback."""
    with FakeKimi(api_key=FALLBACK_KEY) as developer_api:
        fallback = endpoint("fallback", developer_api.base_url, key=FALLBACK_KEY)
        llm = llm_settings(endpoint("main", kimi.base_url, plan="kimi_code"), fallback)
        stack = build_stack(llm, http, sleep=sleep)
        kimi.script(kimi_code_agents_only())
        result = await _review(stack)
    assert (result.role, result.model) == ("fallback", "kimi-k2.6")
    body = developer_api.requests[0].body
    assert body["thinking"] == {"type": "enabled"}
    assert body["response_format"] == {"type": "json_object"}
    assert developer_api.requests[0].user_agent == user_agent()


async def test_a_retry_waits_the_hinted_time_for_real(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    """With the real asyncio.sleep, the retry reaches the server no sooner than hinted.

    Only a lower bound is asserted: a slow machine cannot make it fail.
    """
    llm = llm_settings(endpoint("main", kimi.base_url))
    stack = build_stack(llm, http, sleep=asyncio.sleep)
    kimi.script(kimi_rate_limited(1))
    await _review(stack)
    first, retry = kimi.requests
    assert retry.arrived - first.arrived >= 1.0
