"""Assembles the model-call path from Settings: clients, routes, the failover between them.

Called once per worker (arq `on_startup`) or once per one-shot CLI run, with
the shared httpx client (worker.llm.transport.open_http_client), a breaker
(RedisBreaker for workers, LocalBreaker without Redis) and the gates and
quota guards built by worker.gate.redis / worker.quota.
"""

from __future__ import annotations

import httpx

from worker.call_guards import ConcurrencyGate, QuotaGuard
from worker.config import LLMSettings, ModelEndpoint
from worker.llm.anthropic import AnthropicClient
from worker.llm.base import ModelClient
from worker.llm.breaker import Breaker
from worker.llm.failover import Failover, RetryPolicy, Route
from worker.llm.openai_compat import OpenAICompatClient


def client_for(endpoint: ModelEndpoint, http: httpx.AsyncClient, llm: LLMSettings) -> ModelClient:
    """The client for an endpoint's explicit provider (never guessed from the model name)."""
    if endpoint.provider == "anthropic":
        return AnthropicClient(endpoint, http, llm)
    return OpenAICompatClient(endpoint, http, llm)


def build_failover(
    llm: LLMSettings,
    *,
    http: httpx.AsyncClient,
    breaker: Breaker,
    main_gate: ConcurrencyGate,
    fallback_gate: ConcurrencyGate | None = None,
    main_quota: QuotaGuard | None = None,
    fallback_quota: QuotaGuard | None = None,
    policy: RetryPolicy | None = None,
) -> Failover:
    """Everything between a request and a model's reply: routes, gates, quotas, breaker."""
    if llm.main is None:
        raise ValueError("API_OPEN_AI_API_KEY: required: the key for the main model")
    main = Route(client_for(llm.main, http, llm), main_gate, main_quota)
    fallback = None
    if llm.fallback is not None:
        if fallback_gate is None:
            raise ValueError("a fallback model is configured but no gate was given for it")
        fallback = Route(client_for(llm.fallback, http, llm), fallback_gate, fallback_quota)
    return Failover(main, fallback, breaker, cooldown=llm.breaker_cooldown, policy=policy)
