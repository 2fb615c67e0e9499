"""Both clients against fake servers over real HTTP: request bodies, headers, usage."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.model_replies import anthropic_ok, kimi_ok
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import FALLBACK_KEY, MAIN_KEY, MESSAGES, endpoint, llm_settings
from worker.config import LLMSettings
from worker.llm.anthropic import AnthropicClient, messages_url
from worker.llm.base import ChatRequest
from worker.llm.errors import AuthRefused, RequestRejected
from worker.llm.openai_compat import OpenAICompatClient
from worker.llm.requests import AUTO_THINKING_MIN_TOKENS, wants_thinking
from worker.llm.transport import open_http_client
from worker.version import user_agent


def _kimi_client(kimi: FakeKimi, http: httpx.AsyncClient, **llm: Any) -> OpenAICompatClient:
    settings = llm_settings(endpoint("main", kimi.base_url), **llm)
    assert settings.main is not None
    return OpenAICompatClient(settings.main, http, settings)


def _claude_client(
    claude: FakeAnthropic, http: httpx.AsyncClient, **llm: Any
) -> tuple[AnthropicClient, LLMSettings]:
    fallback = endpoint(
        "fallback",
        claude.base_url,
        provider="anthropic",
        model="claude-sonnet-4-5",
        key=FALLBACK_KEY,
    )
    settings = llm_settings(endpoint("main", "http://127.0.0.1:9/v1"), fallback, **llm)
    return AnthropicClient(fallback, http, settings), settings


def _request(thinking: bool = True) -> ChatRequest:
    return ChatRequest.build(MESSAGES, thinking=thinking)


# --- OpenAI-compatible (Kimi) -------------------------------------------
async def test_kimi_body_has_thinking_json_mode_and_no_temperature(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    await _kimi_client(kimi, http, max_completion_tokens=4096).complete(_request())
    body = kimi.requests[0].body
    assert body["thinking"] == {"type": "enabled"}
    assert body["response_format"] == {"type": "json_object"}
    assert body["max_completion_tokens"] == 4096
    assert "temperature" not in body
    assert "max_tokens" not in body
    assert body["messages"] == MESSAGES
    assert body["model"] == "kimi-k2.6"


async def test_kimi_body_with_thinking_disabled(kimi: FakeKimi, http: httpx.AsyncClient) -> None:
    await _kimi_client(kimi, http).complete(_request(thinking=False))
    assert kimi.requests[0].body["thinking"] == {"type": "disabled"}


def test_thinking_auto_is_off_for_small_chunks_and_on_for_large_ones() -> None:
    assert wants_thinking("auto", AUTO_THINKING_MIN_TOKENS - 1) is False
    assert wants_thinking("auto", AUTO_THINKING_MIN_TOKENS) is True
    assert wants_thinking("enabled", 10) is True
    assert wants_thinking("disabled", 100_000) is False


def test_reasoning_override_decides_thinking_over_the_mode() -> None:
    assert wants_thinking("disabled", 10, {"thinking": {"type": "enabled"}}) is True
    assert wants_thinking("enabled", 10**6, {"thinking": {"type": "disabled"}}) is False
    assert wants_thinking("auto", 10, {"other": 1}) is False


async def test_reasoning_override_is_merged_into_the_body_and_wins(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    override = {"thinking": {"type": "enabled", "budget_tokens": 25000}, "top_p": 0.95}
    client = _kimi_client(kimi, http, thinking="disabled", reasoning_override=override)
    thinking = wants_thinking("disabled", 10, override)
    await client.complete(_request(thinking=thinking))
    body = kimi.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 25000}
    assert body["top_p"] == 0.95
    assert body["response_format"] == {"type": "json_object"}


async def test_temperature_is_sent_only_when_overridden_and_kimi_accepts_one(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    reply = await _kimi_client(kimi, http, temperature_override=1.0).complete(_request())
    assert kimi.requests[0].body["temperature"] == 1.0
    assert reply.text


async def test_kimi_refuses_a_temperature_other_than_one(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    """The fake holds Kimi K2's rule; an override of 0.7 is a rejected request, not a retry."""
    with pytest.raises(RequestRejected, match="only 1 is allowed"):
        await _kimi_client(kimi, http, temperature_override=0.7).complete(_request())


async def test_every_kimi_call_carries_the_honest_user_agent_and_bearer_key(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    client = _kimi_client(kimi, http)
    await client.complete(_request())
    await client.complete(_request())
    assert [r.user_agent for r in kimi.requests] == [user_agent(), user_agent()]
    assert user_agent().startswith("kimi-review/")
    assert kimi.requests[0].headers["authorization"] == f"Bearer {MAIN_KEY}"


async def test_the_workers_shared_client_sends_the_user_agent_too(kimi: FakeKimi) -> None:
    settings = llm_settings(endpoint("main", kimi.base_url))
    async with open_http_client(settings) as http:
        assert settings.main is not None
        await OpenAICompatClient(settings.main, http, settings).complete(_request())
    assert kimi.requests[0].user_agent == user_agent()


async def test_kimi_usage_reads_top_level_cached_tokens(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(kimi_ok(prompt=1000, completion=200, cached=700))
    reply = await _kimi_client(kimi, http).complete(_request())
    assert (reply.usage.prompt, reply.usage.completion, reply.usage.cached) == (1000, 200, 700)


async def test_openai_style_cached_tokens_are_read_too(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(kimi_ok(prompt=1000, cached=640, openai_style_cache=True))
    reply = await _kimi_client(kimi, http).complete(_request())
    assert reply.usage.cached == 640


async def test_reasoning_content_is_measured_never_kept(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    secret_thoughts = "I should not be posted anywhere"
    kimi.script(kimi_ok(reasoning=secret_thoughts))
    reply = await _kimi_client(kimi, http).complete(_request())
    assert reply.reasoning_chars == len(secret_thoughts)
    assert secret_thoughts not in repr(reply)


async def test_wrong_key_is_an_auth_error_that_does_not_show_the_key(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    settings = llm_settings(endpoint("main", kimi.base_url, key="sk-wrong-0123456789abcdef"))
    assert settings.main is not None
    with pytest.raises(AuthRefused) as caught:
        await OpenAICompatClient(settings.main, http, settings).complete(_request())
    assert "sk-wrong" not in str(caught.value)
    assert "HTTP 401 invalid_authentication_error" in str(caught.value)


# --- Anthropic ------------------------------------------------------------
async def test_anthropic_body_has_only_fields_the_messages_api_knows(
    claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    client, _ = _claude_client(claude, http, max_completion_tokens=8000)
    await client.complete(_request(thinking=True))
    recorded = claude.requests[0]
    body = recorded.body
    assert set(body) == {"model", "max_tokens", "messages", "system", "thinking"}
    assert body["system"] == MESSAGES[0]["content"]
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] == 8000
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert recorded.headers["x-api-key"] == FALLBACK_KEY
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert recorded.user_agent == user_agent()
    assert recorded.path == "/v1/messages"


async def test_anthropic_without_thinking_sends_no_thinking_field(
    claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    client, _ = _claude_client(claude, http)
    await client.complete(_request(thinking=False))
    assert "thinking" not in claude.requests[0].body


async def test_anthropic_budget_comes_from_the_override_within_the_apis_bounds(
    claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    override = {"thinking": {"type": "enabled", "budget_tokens": 50_000}}
    client, _ = _claude_client(
        claude, http, max_completion_tokens=20_000, reasoning_override=override
    )
    await client.complete(_request())
    body = claude.requests[0].body
    assert body["thinking"]["budget_tokens"] == 19_999
    assert "top_p" not in body


async def test_fake_anthropic_refuses_unknown_fields_like_the_real_one(
    claude: FakeAnthropic,
) -> None:
    """An OpenAI-shaped body (response_format) is refused: the fake's rule is real."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{claude.base_url}/v1/messages",
            json={"model": "c", "max_tokens": 10, "messages": [], "response_format": {}},
            headers={"x-api-key": FALLBACK_KEY, "anthropic-version": "2023-06-01"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "response_format: Extra inputs are not permitted"


async def test_anthropic_usage_adds_cache_reads_and_writes_to_the_prompt(
    claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    claude.script(anthropic_ok(input_tokens=100, output_tokens=50, cache_read=900, cache_write=30))
    client, _ = _claude_client(claude, http)
    reply = await client.complete(_request())
    assert (reply.usage.prompt, reply.usage.completion, reply.usage.cached) == (1030, 50, 900)
    assert reply.reasoning_chars == len("Checking the loop.")
    assert "Checking the loop." not in reply.text


def test_anthropic_url_is_built_from_the_host_root() -> None:
    assert messages_url("https://api.anthropic.com") == "https://api.anthropic.com/v1/messages"
    assert messages_url("https://proxy.example/v1/") == "https://proxy.example/v1/messages"
