"""Small interfaces between the model-call path and its collaborators.

The failover logic (worker.llm) calls a model through a `ConcurrencyGate`
(worker.gate: Redis-wide for workers, in-process for the one-shot CLI) and
asks a `QuotaGuard` (worker.quota) whether the main key may start new work.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
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
