"""The one shared httpx client per worker, and one POST that turns failures into typed errors.

Timeouts are sized for thinking calls: a non-streamed Kimi K2 answer with
thinking on can take minutes before its first byte, so the read timeout is
API_LLM_TIMEOUT (default 900 s) while connecting stays short (10 s) so a dead
host fails over quickly. Connections are pooled and kept alive across calls;
the concurrency gate, not the pool, bounds how many are in flight.

A per-read timeout alone lets a server that dribbles one byte at a time hold
a call (and a gate slot) forever, and a non-streamed body is read whole. So
every call also has a total deadline, `DEADLINE_FACTOR` times the client's
read timeout (API_LLM_TIMEOUT: a thinking answer may take that long to start,
and as long again to arrive), and its body is streamed and abandoned past a
cap on bytes (`answer_cap`: `ANSWER_BYTES_PER_TOKEN` per completion token
asked, at least `ANSWER_FLOOR_BYTES`). Over the deadline is a timeout; a 2xx
over the cap is a server failure; both are one retry, then the fallback.
An error answer's body is read up to `ERROR_BODY_BYTES` only: its start is
all the classification needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from worker.config import LLMSettings, ModelEndpoint
from worker.llm.classify import ProviderError, classify_response
from worker.llm.errors import ServerFailed, TransportFailed, error_for
from worker.secrets import scrub
from worker.version import user_agent

CONNECT_TIMEOUT: Final = 10.0
WRITE_TIMEOUT: Final = 60.0
KEEPALIVE_CONNECTIONS: Final = 100
ANTHROPIC_VERSION: Final = "2023-06-01"  # https://docs.anthropic.com/en/api/versioning
DEADLINE_FACTOR: Final = 2.0  # a call's total deadline, in per-read timeouts (API_LLM_TIMEOUT)
# A completion token is a few bytes of UTF-8, up to ~18 once JSON-escaped as \uXXXX;
# the answer and the reasoning share the tokens asked for.
ANSWER_BYTES_PER_TOKEN: Final = 32
ANSWER_FLOOR_BYTES: Final = 4 * 1024 * 1024
DEFAULT_ANSWER_CAP: Final = ANSWER_FLOOR_BYTES  # what a call without settings reads (probes)
ERROR_BODY_BYTES: Final = 64 * 1024


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


def answer_cap(llm: LLMSettings) -> int:
    """The most bytes of one model answer read before it counts as a server failure."""
    return max(ANSWER_FLOOR_BYTES, ANSWER_BYTES_PER_TOKEN * llm.max_completion_tokens)


def call_deadline(http: httpx.AsyncClient) -> float | None:
    """Seconds one call may take in all: DEADLINE_FACTOR per-read timeouts (None: no limit)."""
    read = http.timeout.read
    return None if read is None else DEADLINE_FACTOR * read


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
    max_bytes: int = DEFAULT_ANSWER_CAP,
) -> RawAnswer:
    """POST `body`; a 2xx comes back, anything else raises the matching `ModelCallError`."""
    sent = {**headers, "Content-Type": "application/json"}
    return await send(
        http, "POST", url, endpoint=endpoint, headers=sent, body=body, max_bytes=max_bytes
    )


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    endpoint: ModelEndpoint,
    headers: Mapping[str, str],
    body: bytes | None = None,
    max_bytes: int = DEFAULT_ANSWER_CAP,
) -> RawAnswer:
    """One request with the honest User-Agent, within the deadline and `max_bytes`.

    Non-2xx answers raise the matching `ModelCallError`.
    """
    sent_headers = {**headers, "User-Agent": user_agent()}
    secret = (endpoint.api_key.reveal(),)
    deadline = call_deadline(http)
    try:
        async with asyncio.timeout(deadline):
            async with http.stream(method, url, content=body, headers=sent_headers) as response:
                ok = response.is_success
                cap = max_bytes if ok else ERROR_BODY_BYTES
                payload, whole = await _read_capped(response, cap, prefix=not ok)
                answer = RawAnswer(response.status_code, dict(response.headers), payload)
    except TimeoutError as exc:  # asyncio.timeout: the total deadline
        why = f"timed out: no complete answer within {deadline:g}s"
        raise TransportFailed(ProviderError("transport", None, None, why), endpoint) from exc
    except httpx.TimeoutException as exc:
        detail = ProviderError("transport", None, None, f"timed out: {type(exc).__name__}")
        raise TransportFailed(detail, endpoint) from exc
    except httpx.TransportError as exc:
        reason = scrub(str(exc) or type(exc).__name__, secret)
        detail = ProviderError("transport", None, None, f"connection failed: {reason}")
        raise TransportFailed(detail, endpoint) from exc
    if ok and not whole:
        why = f"answer over {max_bytes:,} bytes: not read further"
        raise ServerFailed(ProviderError("server", answer.status, None, why), endpoint)
    if ok:
        return answer
    detail = classify_response(answer.status, answer.headers, answer.body, known_secrets=secret)
    raise error_for(detail, endpoint)


async def _read_capped(response: httpx.Response, cap: int, *, prefix: bool) -> tuple[bytes, bool]:
    """(at most `cap` bytes of the body, whether that is all of it).

    Unless the first `cap` bytes are of use (`prefix`: an error answer's
    start), a declared Content-Length over the cap is believed without
    reading. The cap counts decoded bytes, so a compressed answer cannot
    inflate past it.
    """
    declared = response.headers.get("content-length", "")
    if not prefix and declared.isdigit() and int(declared) > cap:
        return b"", False
    received = bytearray()
    async for piece in response.aiter_bytes():
        received += piece
        if len(received) > cap:
            return bytes(received[:cap]), False
    return bytes(received), True


def auth_headers(endpoint: ModelEndpoint) -> dict[str, str]:
    """The provider's authentication headers (Bearer for OpenAI-compatible, x-api-key for
    Anthropic, with the API version it requires)."""
    key = endpoint.api_key.reveal()
    if endpoint.provider == "anthropic":
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
    return {"Authorization": f"Bearer {key}"}
