"""Builds the model-call path against fake servers, the way a worker would.

Settings objects are built directly (not from the environment) so a test can
use short timeouts; everything else is the product's own code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakes.model_gate import CountingGate, FakeQuota, RecordingSleep
from worker.config import LLMSettings, ModelEndpoint, Plan, Provider, detect_plan
from worker.llm.breaker import Breaker, LocalBreaker
from worker.llm.build import client_for
from worker.llm.failover import Failover, RetryPolicy, Route
from worker.review.chunk_review import ChunkReviewer
from worker.secrets import Secret

MAIN_KEY = "sk-kimi-test-main-0123456789abcdef"
FALLBACK_KEY = "sk-ant-test-fallback-0123456789abcdef"
MESSAGES = [
    {"role": "system", "content": "You review code. Answer with one JSON object."},
    {"role": "user", "content": "src/app.py\n  3 + for i in range(len(xs) - 1):"},
]


def endpoint(
    role: str,
    base_url: str,
    *,
    provider: Provider = "openai_compatible",
    model: str = "kimi-k2.6",
    key: str = MAIN_KEY,
    plan: Plan | None = None,
) -> ModelEndpoint:
    """`plan` pretends the fake's URL is a given product (for plan-specific advice)."""
    plan = plan or detect_plan(base_url, provider)
    return ModelEndpoint(role, provider, model, base_url, Secret(key), 0, plan)  # type: ignore[arg-type]


def llm_settings(
    main: ModelEndpoint, fallback: ModelEndpoint | None = None, **overrides: Any
) -> LLMSettings:
    values: dict[str, Any] = {"breaker_cooldown": 300, "max_completion_tokens": 32768}
    values.update(overrides)
    return LLMSettings(main=main, fallback=fallback, **values)


def short_timeouts(read: float = 5.0) -> httpx.AsyncClient:
    """Like transport.open_http_client, with a read timeout a test can afford to hit."""
    return httpx.AsyncClient(timeout=httpx.Timeout(read, connect=2.0))


@dataclass
class Stack:
    reviewer: ChunkReviewer
    failover: Failover
    main_gate: CountingGate
    fallback_gate: CountingGate
    main_quota: FakeQuota
    sleep: Callable[[float], Awaitable[None]]
    breaker: Breaker
    llm: LLMSettings
    notes: list[str] = field(default_factory=list)


def build_stack(
    llm: LLMSettings,
    http: httpx.AsyncClient,
    *,
    breaker: Breaker | None = None,
    main_gate: CountingGate | None = None,
    policy: RetryPolicy | None = None,
    main_quota: FakeQuota | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Stack:
    assert llm.main is not None
    main_gate = main_gate or CountingGate()
    fallback_gate = CountingGate()
    main_quota = main_quota or FakeQuota()
    sleep = sleep or RecordingSleep()
    breaker = breaker or LocalBreaker()
    main = Route(client_for(llm.main, http, llm), main_gate, main_quota)
    fallback = None
    if llm.fallback is not None:
        fallback = Route(client_for(llm.fallback, http, llm), fallback_gate)
    failover = Failover(
        main,
        fallback,
        breaker,
        cooldown=llm.breaker_cooldown,
        policy=policy,
        sleep=sleep,
        jitter=lambda: 0.5,
    )
    reviewer = ChunkReviewer(failover, llm)
    return Stack(reviewer, failover, main_gate, fallback_gate, main_quota, sleep, breaker, llm)
