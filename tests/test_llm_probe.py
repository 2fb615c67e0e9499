"""`doctor`'s endpoint probe: GET /models with the key, the same advice as for chat calls."""

from __future__ import annotations

import httpx

from tests.fakes.model_replies import kimi_code_agents_only
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import FALLBACK_KEY, MAIN_KEY, endpoint
from tests.support.redis_server import free_port
from worker.llm.probe import probe_endpoint
from worker.version import user_agent


async def test_probe_passes_when_the_key_works_and_the_model_is_offered(
    http: httpx.AsyncClient,
) -> None:
    with FakeKimi(api_key=MAIN_KEY) as kimi:
        result = await probe_endpoint(endpoint("main", kimi.base_url), http)
    assert result.ok
    assert result.note is None
    assert result.url == f"{kimi.base_url}/models"
    assert kimi.requests[0].user_agent == user_agent()


async def test_probe_notes_a_model_the_endpoint_does_not_list(http: httpx.AsyncClient) -> None:
    with FakeKimi(api_key=MAIN_KEY, models=("kimi-k2.5",)) as kimi:
        result = await probe_endpoint(endpoint("main", kimi.base_url, model="kimi-k9"), http)
    assert result.ok
    assert result.note == "model kimi-k9 is not in the endpoint's list (offered: kimi-k2.5)"


async def test_probe_names_the_endpoint_that_refused_the_key(http: httpx.AsyncClient) -> None:
    with FakeKimi(api_key="sk-other-0123456789abcdef") as kimi:
        result = await probe_endpoint(endpoint("main", kimi.base_url, plan="moonshot"), http)
    assert not result.ok
    assert result.problem is not None
    assert "HTTP 401" in result.problem
    assert result.advice is not None
    assert "looks like a Kimi Code Plan key" in result.advice
    assert MAIN_KEY not in f"{result.problem} {result.advice}"


async def test_probe_explains_the_coding_agents_only_refusal(http: httpx.AsyncClient) -> None:
    with FakeKimi(api_key=MAIN_KEY, models_refusal=kimi_code_agents_only()) as kimi:
        result = await probe_endpoint(endpoint("main", kimi.base_url, plan="kimi_code"), http)
    assert result.advice is not None
    assert "https://api.moonshot.ai/v1" in result.advice


async def test_probe_of_anthropic_uses_its_headers(http: httpx.AsyncClient) -> None:
    with FakeAnthropic(api_key=FALLBACK_KEY) as claude:
        fallback = endpoint(
            "fallback",
            claude.base_url,
            provider="anthropic",
            model="claude-sonnet-4-5",
            key=FALLBACK_KEY,
        )
        result = await probe_endpoint(fallback, http)
    assert result.ok
    assert claude.requests[0].path == "/v1/models"
    assert claude.requests[0].headers["anthropic-version"] == "2023-06-01"


async def test_probe_of_a_dead_url_says_which_variable_to_check(http: httpx.AsyncClient) -> None:
    dead = endpoint("fallback", f"http://127.0.0.1:{free_port()}/v1")
    result = await probe_endpoint(dead, http)
    assert result.problem is not None
    assert "connection failed" in result.problem
    assert result.advice is not None
    assert "API_LLM_FALLBACK_BASE_URL" in result.advice
