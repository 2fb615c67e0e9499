"""Pure classification of a provider's error answer: what happened, and how long to wait.

Inputs are the HTTP status, headers and body; no I/O. Kimi and Anthropic both
answer errors as `{"error": {"type": ..., "message": ...}}` (Anthropic adds a
top-level `"type": "error"`). The status alone is not enough:

- developer API (api.moonshot.ai): 429 `exceeded_current_quota_error` is a
  spent balance (quota), while 429 `rate_limit_reached_error` and
  `engine_overloaded_error` are rate limits whose wait is in the message text
  ("... please try again after 1 seconds");
  https://platform.moonshot.ai/docs/api/chat#error-codes
- Kimi Code (api.kimi.com/coding): 402 membership not verified, 403 usage limit
  for the billing cycle, 403 `access_terminated_error` (coding agents only),
  429 "usage limit for this period" (the 5-hour window) is a quota too;
  https://www.kimi.com/code/docs/en/kimi-code/error-reference.html
- Anthropic: 529 `overloaded_error`, 429 `rate_limit_error` with Retry-After,
  `billing_error`; https://docs.anthropic.com/en/api/errors
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

import msgspec

from worker.secrets import scrub

ErrorKind = Literal[
    "rate_limited",  # wait and retry the same endpoint, within a budget
    "quota",  # balance, plan or period limit spent: fail over, open the breaker
    "agents_only",  # Kimi Code refuses non-agent clients: fail over, open the breaker
    "auth",  # key refused: fail over, open the breaker
    "server",  # 5xx: one retry, then fail over
    "transport",  # timeout, reset, refused connection: one retry, then fail over
    "context_too_long",  # split the chunk, not a failover
    "rejected",  # any other 4xx: the request itself is wrong; fail over, no retry
]

MESSAGE_LIMIT: Final = 500

_RATE_LIMIT_TYPES: Final = frozenset(
    {"rate_limit_reached_error", "engine_overloaded_error", "rate_limit_error", "overloaded_error"}
)
_QUOTA_TYPES: Final = frozenset({"exceeded_current_quota_error", "billing_error"})
_QUOTA_WORDS: Final = re.compile(
    r"quota|usage limit|billing|balance|suspended|membership|credit", re.IGNORECASE
)
_CREDIT_WORDS: Final = re.compile(r"credit balance", re.IGNORECASE)
_AGENTS_ONLY_WORDS: Final = re.compile(r"only available for coding agents", re.IGNORECASE)
_CONTEXT_WORDS: Final = re.compile(
    r"context.length|context window|maximum context|token limit|too many tokens"
    r"|prompt is too long|exceeds limit|request_too_large|too large",
    re.IGNORECASE,
)
_WAIT_IN_TEXT: Final = re.compile(
    r"(?:try again|retry)\s+(?:after|in)\s+(\d+(?:\.\d+)?)\s*"
    r"(ms|milliseconds?|s\b|secs?\b|seconds?|m\b|mins?\b|minutes?)?",
    re.IGNORECASE,
)


class _ErrorObject(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorObject | str | None = None


_envelope_decoder: Final = msgspec.json.Decoder(_ErrorEnvelope)


@dataclass(frozen=True, slots=True)
class ProviderError:
    """What a provider said when it refused a call, scrubbed and classified."""

    kind: ErrorKind
    status: int | None
    error_type: str | None
    message: str
    retry_after: float | None = None
    request_id: str | None = None


def error_fields(body: bytes) -> tuple[str | None, str]:
    """(error.type, error.message) from an error body; the raw text when it is not JSON."""
    try:
        envelope = _envelope_decoder.decode(body)
    except (msgspec.MsgspecError, RecursionError):  # nested too deeply: not an envelope
        return None, body.decode("utf-8", "replace").strip()[:MESSAGE_LIMIT]
    if isinstance(envelope.error, _ErrorObject):
        return envelope.error.type, envelope.error.message or ""
    return None, envelope.error or ""


def _seconds_from_text(message: str) -> float | None:
    match = _WAIT_IN_TEXT.search(message)
    if match is None:
        return None
    unit = (match[2] or "s").lower()
    if unit.startswith(("ms", "milli")):
        return float(match[1]) / 1000
    if unit.startswith("m"):
        return float(match[1]) * 60
    return float(match[1])


def _seconds_from_header(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_seconds(
    headers: Mapping[str, str], message: str, now: datetime | None = None
) -> float | None:
    """The wait the provider asked for: Retry-After (seconds or HTTP date), else the text."""
    lowered = {k.lower(): v for k, v in headers.items()}
    hinted = _seconds_from_header(lowered.get("retry-after"), now or datetime.now(UTC))
    return hinted if hinted is not None else _seconds_from_text(message)


def kind_of(status: int, error_type: str | None, message: str) -> ErrorKind:
    """Classify by error.type first, then status, then the message text."""
    kind_type = (error_type or "").lower()
    if kind_type == "access_terminated_error" or _AGENTS_ONLY_WORDS.search(message):
        return "agents_only"
    if status == 429:
        if kind_type in _RATE_LIMIT_TYPES:
            return "rate_limited"
        if kind_type in _QUOTA_TYPES or _QUOTA_WORDS.search(message):
            return "quota"
        return "rate_limited"
    if status == 402 or kind_type in _QUOTA_TYPES:
        return "quota"
    if status == 403:
        return "quota" if _QUOTA_WORDS.search(message) else "auth"
    if status == 401:
        return "auth"
    if status == 529 or kind_type == "overloaded_error":
        return "rate_limited"
    if status == 413 or (400 <= status < 500 and _CONTEXT_WORDS.search(message)):
        return "context_too_long"
    if status == 400 and _CREDIT_WORDS.search(message):
        return "quota"  # Anthropic: "Your credit balance is too low to access the API"
    if status in (408, 409) or status >= 500:
        return "server"
    return "rejected"


def classify_response(
    status: int, headers: Mapping[str, str], body: bytes, *, known_secrets: tuple[str, ...] = ()
) -> ProviderError:
    """Everything an operator and the failover policy need from one error answer."""
    error_type, raw_message = error_fields(body)
    message = scrub(raw_message, known_secrets)[:MESSAGE_LIMIT]
    kind = kind_of(status, error_type, raw_message)
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("request-id") or lowered.get("x-request-id")
    retry_after = retry_after_seconds(headers, raw_message) if kind == "rate_limited" else None
    return ProviderError(kind, status, error_type, message, retry_after, request_id)
