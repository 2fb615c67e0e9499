"""The cheap endpoint check behind `kimi-review doctor`: GET /models with the real key.

A probe costs no tokens. It proves the URL answers, the key is accepted by
that endpoint, and says whether the configured model is offered. Failures
are classified like chat calls, so the advice is the same: a Kimi Code
refusal points to the developer API, a refused key names the endpoint and
the plan the key seems to belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx
import msgspec

from worker.config import ModelEndpoint
from worker.llm.advice import AGENTS_ONLY, auth_advice, key_variable, url_variable
from worker.llm.errors import ModelCallError
from worker.llm.transport import auth_headers, send
from worker.secrets import redact_url


class _Model(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_Model] = msgspec.field(default_factory=list)


_decoder: Final = msgspec.json.Decoder(_ModelList)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One endpoint's check. `problem` set means doctor fails; `advice` says how to fix it."""

    role: str
    url: str  # the URL tried, credentials redacted
    problem: str | None = None
    advice: str | None = None
    note: str | None = None  # not a failure (e.g. the model is not in the listing)

    @property
    def ok(self) -> bool:
        return self.problem is None


def models_url(endpoint: ModelEndpoint) -> str:
    root = endpoint.base_url.rstrip("/")
    if endpoint.provider == "anthropic" and not root.endswith("/v1"):
        root += "/v1"
    return f"{root}/models"


def _advice(exc: ModelCallError, endpoint: ModelEndpoint) -> str:
    if exc.kind == "agents_only":
        return AGENTS_ONLY
    if exc.kind == "auth":
        return auth_advice(endpoint)
    if exc.kind == "quota":
        return f"the key behind {key_variable(endpoint)} has no balance or plan left"
    if exc.kind == "transport":
        return f"nothing answered: check {url_variable(endpoint)} and the network"
    if exc.kind == "rejected" and endpoint.provider == "openai_compatible":
        return f"{url_variable(endpoint)} should be the API root that ends in /v1"
    return "the endpoint answered an error: try again, or check the provider's status page"


async def probe_endpoint(endpoint: ModelEndpoint, http: httpx.AsyncClient) -> ProbeResult:
    """GET the endpoint's model list with its key; never raises for an endpoint's failure."""
    url = models_url(endpoint)
    shown = redact_url(url)
    try:
        answer = await send(http, "GET", url, endpoint=endpoint, headers=auth_headers(endpoint))
    except ModelCallError as exc:
        return ProbeResult(endpoint.role, shown, exc.describe(), _advice(exc, endpoint))
    try:
        offered = [m.id for m in _decoder.decode(answer.body).data]
    except (msgspec.MsgspecError, RecursionError):
        return ProbeResult(endpoint.role, shown, note="the model list could not be read")
    if endpoint.model in offered:
        return ProbeResult(endpoint.role, shown)
    listed = ", ".join(sorted(offered)[:20]) or "none"
    return ProbeResult(
        endpoint.role,
        shown,
        note=f"model {endpoint.model} is not in the endpoint's list (offered: {listed})",
    )
