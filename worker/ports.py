"""Small interfaces between the model-call path and its collaborators.

The failover logic (worker.llm) calls a model through a `ConcurrencyGate`
(worker.gate: Redis-wide for workers, in-process for the one-shot CLI) and
asks a `QuotaGuard` (worker.quota) whether the main key may start new work.
A `CallWatch`, when the caller set one in `CALL_WATCH`, learns when a call
really starts (slot held, breaker checked), so a review that is being
deferred can let paid calls finish and stop only those not yet started.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol


class ConcurrencyGate(Protocol):
    """Caps in-flight calls for one provider key across every worker."""

    def hold(self, review_key: str) -> AbstractAsyncContextManager[None]:
        """Wait for a slot (fairly across reviews), hold it for the call, release it."""
        ...

    async def report_rate_limited(self) -> None:
        """The provider answered 429 rate-limit: shrink the effective cap (AIMD)."""
        ...

    async def report_success(self) -> None:
        """A call succeeded: let the effective cap grow back toward the configured one."""
        ...


class QuotaGuard(Protocol):
    """Token budget of the main key's current quota window."""

    async def allows_new_work(self) -> bool:
        """False once the window's budget is spent (in-flight calls still finish)."""
        ...

    async def record(
        self, review_key: str, *, prompt: int, completion: int, cached: int, model: str
    ) -> None:
        """Add one call's token use to the window and to the review's tally."""
        ...


class CallsStopped(Exception):
    """No new model call may start: the review it is for is being deferred."""


@dataclass(slots=True)
class CallWatch:
    """One chunk's model calls: whether one has started, and whether new ones may."""

    started: bool = False
    stopping: bool = False

    def begin(self) -> None:
        """Called right before a request is sent (after the gate and the breaker)."""
        if self.stopping:
            raise CallsStopped("the review is being deferred: no new model call")
        self.started = True


CALL_WATCH: ContextVar[CallWatch | None] = ContextVar("kimi_review_call_watch", default=None)


class GateLeaseLost(Exception):
    """A model call's gate slot was lost (its lease expired and may be another's now):
    the call was cut so the cap holds. The failover retries it like a dropped connection."""
