"""The one shared httpx client per worker, and one POST that turns failures into typed errors.

Timeouts are sized for thinking calls: a non-streamed Kimi K2 answer with
thinking on can take minutes before its first byte, so the read timeout is
API_LLM_TIMEOUT (default 900 s) while connecting stays short (10 s) so a dead
host fails over quickly. Connections are pooled and kept alive across calls;
the concurrency gate, not the pool, bounds how many are in flight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from worker.config import LLMSettings, ModelEndpoint
from worker.llm.classify import ProviderError, classify_response
from worker.llm.errors import TransportFailed, error_for
from worker.secrets import scrub
from worker.version import user_agent

CONNECT_TIMEOUT: Final = 10.0
WRITE_TIMEOUT: Final = 60.0
KEEPALIVE_CONNECTIONS: Final = 100
ANTHROPIC_VERSION: Final = "2023-06-01"  # https://docs.anthropic.com/en/api/versioning


def open_http_client(llm: LLMSettings) -> httpx.AsyncClient:
    """Create the worker's shared client (open in on_startup, `aclose()` in on_shutdown)."""
    timeout = httpx.Timeout(
        connect=CONNECT_TIMEOUT, read=float(llm.request_timeout), write=WRITE_TIMEOUT, pool=None
    )
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS)
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        headers={"User-Agent": user_agent()},
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class RawAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    *,
    endpoint: ModelEndpoint,
    headers: Mapping[str, str],
    body: bytes,
) -> RawAnswer:
    """POST `body`; a 2xx comes back, anything else raises the matching `ModelCallError`."""
    sent = {**headers, "Content-Type": "application/json"}
    return await send(http, "POST", url, endpoint=endpoint, headers=sent, body=body)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    endpoint: ModelEndpoint,
    headers: Mapping[str, str],
    body: bytes | None = None,
) -> RawAnswer:
    """One request with the honest User-Agent; non-2xx answers raise a `ModelCallError`."""
    sent_headers = {**headers, "User-Agent": user_agent()}
    secret = (endpoint.api_key.reveal(),)
    try:
        response = await http.request(method, url, content=body, headers=sent_headers)
    except httpx.TimeoutException as exc:
        detail = ProviderError("transport", None, None, f"timed out: {type(exc).__name__}")
        raise TransportFailed(detail, endpoint) from exc
    except httpx.TransportError as exc:
        reason = scrub(str(exc) or type(exc).__name__, secret)
        detail = ProviderError("transport", None, None, f"connection failed: {reason}")
        raise TransportFailed(detail, endpoint) from exc
    answer = RawAnswer(response.status_code, dict(response.headers), response.content)
    if 200 <= answer.status < 300:
        return answer
    detail = classify_response(answer.status, answer.headers, answer.body, known_secrets=secret)
    raise error_for(detail, endpoint)


def auth_headers(endpoint: ModelEndpoint) -> dict[str, str]:
    """The provider's authentication headers (Bearer for OpenAI-compatible, x-api-key for
    Anthropic, with the API version it requires)."""
    key = endpoint.api_key.reveal()
    if endpoint.provider == "anthropic":
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
    return {"Authorization": f"Bearer {key}"}
