"""Failover between the main model and the fallback, row by row of DESIGN.md's table.

| main answers                          | do                                                    |
| 429 rate limit / overloaded           | wait (hinted time, else backoff with jitter), retry   |
|                                       | main within a small budget, then fallback             |
| 429 quota, 402, 403 limit             | fallback now; breaker opens for every worker          |
| 403 access_terminated_error           | same, and the log says Kimi Code serves coding agents |
|                                       | only and a bot uses the developer API                 |
| 401 / 403 auth                        | same, and the log says which endpoint refused the key |
| 5xx, timeout, reset                   | one retry, then fallback                              |
| 400 context too long                  | `ContextTooLong` to the caller, who splits the chunk  |
| both unavailable                      | `ModelsUnavailable` with a retry-after hint           |

Unlike PR-Agent (falls back on any exception, no backoff, ignores
Retry-After) and Kodus (fails over on 402 but never on 429), every error is
classified first. The breaker is checked before every call, including after
waiting at the concurrency gate and after a rate-limit wait, so no new call
starts on an endpoint once a refusal is known. A retry resends the same
frozen `ChatRequest`, hence the same body.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import structlog

from worker import pipeline_metrics
from worker.config import ModelEndpoint
from worker.llm.advice import AGENTS_ONLY, auth_advice, short_reason
from worker.llm.base import ChatRequest, ModelClient, ModelReply, Role
from worker.llm.breaker import Breaker
from worker.llm.errors import (
    AgentsOnlyRefusal,
    AuthRefused,
    ModelCallError,
    ModelsUnavailable,
    QuotaExhausted,
    QuotaPaused,
    RateLimited,
    RequestRejected,
    ServerFailed,
    TransportFailed,
)
from worker.ports import CALL_WATCH, ConcurrencyGate, GateLeaseLost, QuotaGuard

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one endpoint is tried before failing over. Small on purpose."""

    rate_limit_retries: int = 3  # retries after 429 rate limit / overloaded
    max_wait: float = 60.0  # a longer hinted wait fails over at once
    backoff_base: float = 2.0  # seconds; doubled per retry when no wait is hinted
    backoff_cap: float = 30.0
    transient_retries: int = 1  # 5xx, timeout, reset
    transient_pause: float = 1.0

    def backoff(self, attempt: int, jitter: float) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random (jitter in [0, 1))."""
        ceiling = min(self.backoff_cap, self.backoff_base * float(2**attempt))
        return ceiling / 2 + jitter * ceiling / 2


@runtime_checkable
class KnowsRefresh(Protocol):
    """Optional extra of a QuotaGuard: when the spent window refreshes."""

    async def next_refresh(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint and the collaborators its calls go through."""

    client: ModelClient
    gate: ConcurrencyGate
    quota: QuotaGuard | None = None  # main: the window's budget; fallback: usage records only


@dataclass(frozen=True, slots=True)
class Served:
    """An answer, which endpoint gave it, and notes for the review summary."""

    reply: ModelReply
    role: Role
    model: str
    notes: tuple[str, ...] = ()


class _Unavailable(Exception):
    """This endpoint cannot serve this call now (internal to the failover).

    `kind` is the error kind behind it: the reason's wording, and the failover metric's label.
    """

    def __init__(self, role: Role, kind: str, retry_after: float | None) -> None:
        self.reason = short_reason(role, kind)
        super().__init__(self.reason)
        self.retry_after = retry_after
        self.kind = kind


def _earliest(hints: list[float | None]) -> float | None:
    known = [h for h in hints if h is not None]
    return min(known) if known else None


class Failover:
    """Calls the main model, and the fallback when the main one cannot serve."""

    def __init__(
        self,
        main: Route,
        fallback: Route | None,
        breaker: Breaker,
        *,
        cooldown: float,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.main = main
        self.fallback = fallback
        self._breaker = breaker
        self._cooldown = cooldown
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter

    async def call(self, request: ChatRequest, review_key: str) -> Served:
        """Answer `request`; raise ContextTooLong, ModelsUnavailable or QuotaPaused."""
        reasons: list[str] = []
        hints: list[float | None] = []
        paused = await self._main_paused()
        if paused is not None:
            if self.fallback is None:
                raise paused
            reasons.append("main over its token budget for this window")
            hints.append(paused.retry_after)
            cause = "budget"
        else:
            try:
                reply = await self._serve(self.main, request, review_key)
            except _Unavailable as exc:
                reasons.append(exc.reason)
                hints.append(exc.retry_after)
                cause = exc.kind
            else:
                return Served(reply, "main", self.main.client.endpoint.model)
        if self.fallback is None:
            raise ModelsUnavailable(reasons, _earliest(hints))
        pipeline_metrics.observe_failover(cause)
        try:
            reply = await self._serve(self.fallback, request, review_key)
        except _Unavailable as exc:
            reasons.append(exc.reason)
            hints.append(exc.retry_after)
            raise ModelsUnavailable(reasons, _earliest(hints)) from None
        model = self.fallback.client.endpoint.model
        note = f"fallback served ({model}): {reasons[0]}"
        return Served(reply, "fallback", model, (note,))

    async def _main_paused(self) -> QuotaPaused | None:
        guard = self.main.quota
        if guard is None or await guard.allows_new_work():
            return None
        refreshes_at = await guard.next_refresh() if isinstance(guard, KnowsRefresh) else None
        wait = None
        if refreshes_at is not None:
            wait = max(0.0, (refreshes_at - datetime.now(UTC)).total_seconds())
        return QuotaPaused(refreshes_at, wait)

    async def _check_breaker(self, endpoint: ModelEndpoint) -> None:
        trip = await self._breaker.tripped(endpoint.key_id)
        if trip is not None:
            raise _Unavailable(endpoint.role, trip.kind, trip.remaining)

    async def _serve(self, route: Route, request: ChatRequest, review_key: str) -> ModelReply:
        endpoint = route.client.endpoint
        rate_limited = transient = 0
        while True:
            await self._check_breaker(endpoint)
            try:
                async with route.gate.hold(review_key):
                    await self._check_breaker(endpoint)  # the wait at the gate may be long
                    watch = CALL_WATCH.get()
                    if watch is not None:  # a review being deferred starts no new call
                        watch.begin()
                    with pipeline_metrics.timed_llm_call(endpoint.provider, endpoint.role):
                        reply = await route.client.complete(request)
            except RateLimited as exc:
                await route.gate.report_rate_limited()
                wait = exc.retry_after
                if wait is None:
                    wait = self._policy.backoff(rate_limited, self._jitter())
                if rate_limited >= self._policy.rate_limit_retries or wait > self._policy.max_wait:
                    log.warning("model_rate_limited_giving_up", error=exc.describe(), wait=wait)
                    raise _Unavailable(endpoint.role, exc.kind, wait) from exc
                rate_limited += 1
                log.info("model_rate_limited_waiting", error=exc.describe(), wait=wait)
                await self._sleep(wait)
            except (QuotaExhausted, AgentsOnlyRefusal, AuthRefused) as exc:
                await self._refused(exc, endpoint)
                raise _Unavailable(endpoint.role, exc.kind, self._cooldown) from exc
            except (ServerFailed, TransportFailed) as exc:
                if transient >= self._policy.transient_retries:
                    log.warning("model_call_failed", error=exc.describe())
                    raise _Unavailable(endpoint.role, exc.kind, None) from exc
                transient += 1
                log.info("model_call_retrying", error=exc.describe())
                await self._sleep(self._policy.transient_pause)
            except GateLeaseLost as exc:
                # The call was cut so the cap holds: like a dropped connection.
                if transient >= self._policy.transient_retries:
                    log.warning("model_call_lease_lost", error=str(exc))
                    raise _Unavailable(endpoint.role, "lease_lost", None) from exc
                transient += 1
                log.info("model_call_retrying", error=str(exc))
            except RequestRejected as exc:
                # No traceback: the provider's message is the whole story.
                log.error("model_request_rejected", error=exc.describe())  # noqa: TRY400
                raise _Unavailable(endpoint.role, exc.kind, None) from exc
            else:
                await route.gate.report_success()
                u = reply.usage
                pipeline_metrics.observe_tokens(
                    endpoint.role, prompt=u.prompt, completion=u.completion, cached=u.cached
                )
                if route.quota is not None:
                    await route.quota.record(
                        review_key,
                        prompt=u.prompt,
                        completion=u.completion,
                        cached=u.cached,
                        model=endpoint.model,
                    )
                return reply

    async def _refused(self, exc: ModelCallError, endpoint: ModelEndpoint) -> None:
        """Log what the operator must do, and skip this key everywhere for the cool-down."""
        if isinstance(exc, AgentsOnlyRefusal):
            log.error("model_refused_not_a_coding_agent", advice=AGENTS_ONLY, error=exc.describe())
        elif isinstance(exc, AuthRefused):
            log.error("model_key_refused", advice=auth_advice(endpoint), error=exc.describe())
        else:
            log.warning("model_quota_exhausted", error=exc.describe(), cooldown=self._cooldown)
        await self._breaker.trip(
            endpoint.key_id, kind=exc.kind, reason=exc.describe(), cooldown=self._cooldown
        )
        pipeline_metrics.observe_breaker_trip(endpoint.role, exc.kind)
