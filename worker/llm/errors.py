"""Typed errors of the model-call path; each carries what an operator needs to act.

`ModelCallError` subclasses are raised by a client for one failed call, one
class per row of the failover table (docs/ARCHITECTURE.md). The caller of the failover sees only
three things: an answer, `ContextTooLong` (split the chunk and try again), or
`ModelsUnavailable` / `QuotaPaused` (defer the job; `retry_after` says when).
No message ever contains a key: provider text is scrubbed in classify.py and
URLs go through `redact_url`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from worker.config import ModelEndpoint
from worker.llm.classify import ErrorKind, ProviderError
from worker.secrets import redact_url


class ModelCallError(Exception):
    """One call to one endpoint failed."""

    kind: ClassVar[ErrorKind]

    def __init__(self, detail: ProviderError, endpoint: ModelEndpoint) -> None:
        self.detail = detail
        self.role = endpoint.role
        self.model = endpoint.model
        self.base_url = redact_url(endpoint.base_url)
        self.plan = endpoint.plan
        super().__init__(self.describe())

    @property
    def retry_after(self) -> float | None:
        return self.detail.retry_after

    def describe(self) -> str:
        d = self.detail
        answer = f"HTTP {d.status}" if d.status is not None else "no HTTP answer"
        if d.error_type:
            answer += f" {d.error_type}"
        text = f"{self.role} model {self.model} at {self.base_url}: {answer}"
        if d.message:
            text += f": {d.message}"
        if d.request_id:
            text += f" (request id {d.request_id})"
        return text


class RateLimited(ModelCallError):
    """429 rate limit or engine overloaded: wait (Retry-After or the text's hint) and retry."""

    kind = "rate_limited"


class QuotaExhausted(ModelCallError):
    """Balance, plan or period limit spent (429 quota, 402, 403 limit)."""

    kind = "quota"


class AgentsOnlyRefusal(ModelCallError):
    """403 access_terminated_error: Kimi Code serves approved coding agents only."""

    kind = "agents_only"


class AuthRefused(ModelCallError):
    """401 / 403: the key is wrong, revoked, or belongs to another plan's endpoint."""

    kind = "auth"


class ServerFailed(ModelCallError):
    """5xx, or a 2xx whose body is not a chat answer."""

    kind = "server"


class TransportFailed(ModelCallError):
    """Timeout, connection reset or refused: no answer at all."""

    kind = "transport"


class ContextTooLong(ModelCallError):
    """400 context length: the caller splits the chunk and tries again (not a failover)."""

    kind = "context_too_long"


class RequestRejected(ModelCallError):
    """Any other 4xx: the request itself was refused (model name, an override's field)."""

    kind = "rejected"


_BY_KIND: dict[ErrorKind, type[ModelCallError]] = {
    cls.kind: cls
    for cls in (
        RateLimited,
        QuotaExhausted,
        AgentsOnlyRefusal,
        AuthRefused,
        ServerFailed,
        TransportFailed,
        ContextTooLong,
        RequestRejected,
    )
}


def error_for(detail: ProviderError, endpoint: ModelEndpoint) -> ModelCallError:
    """The exception class that matches a classified provider answer."""
    return _BY_KIND[detail.kind](detail, endpoint)


class ModelsUnavailable(Exception):
    """Neither the main model nor the fallback can serve now: defer the job.

    `retry_after` (seconds) is the earliest moment worth trying again when
    known (a breaker's remaining cool-down, a rate-limit hint, a quota refresh).
    """

    def __init__(self, reasons: list[str], retry_after: float | None = None) -> None:
        self.reasons = tuple(reasons)
        self.retry_after = retry_after
        hint = f"; retry in {retry_after:.0f}s" if retry_after is not None else ""
        super().__init__("no model available: " + "; ".join(reasons) + hint)


class QuotaPaused(ModelsUnavailable):
    """The main key's token budget for this window is spent and no fallback is set.

    Calls in progress finish; new work waits for the window to refresh
    (`refreshes_at`, when the quota guard knows it), as Kimi itself does.
    """

    def __init__(self, refreshes_at: datetime | None, retry_after: float | None) -> None:
        self.refreshes_at = refreshes_at
        when = f" (refreshes at {refreshes_at.isoformat()})" if refreshes_at else ""
        super().__init__([f"main model's token budget for this window is spent{when}"], retry_after)
