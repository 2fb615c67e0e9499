"""What a review flow asks of whoever runs it: where progress lives, and what it may do.

A worker answers from Redis (worker/review_hooks.py, under the PR's lease);
the one-shot CLI answers in memory. Keeping the questions in one small
protocol is what lets both run the very same `ReviewFlow`.
"""

from __future__ import annotations

from typing import Protocol

from worker.diff.tokens import TokenEstimator
from worker.review.pipeline import ChunkStore


class Checkpoint(ChunkStore, Protocol):
    """A review's progress (worker.review.checkpoints): chunk answers and its check run."""

    async def check_run_id(self) -> int | None: ...

    async def set_check_run_id(self, check_run_id: int) -> None: ...

    async def estimator(self, default: TokenEstimator) -> TokenEstimator: ...

    async def started_at(self, now: float) -> float: ...


class ReviewHooks(Protocol):
    """What the worker and the CLI do differently around the same review."""

    def checkpoint(self, head_sha: str, run: str | None) -> Checkpoint: ...

    async def last_reviewed(self) -> str | None: ...

    async def set_last_reviewed(self, head_sha: str) -> None: ...

    async def has_own_job(self, head_sha: str) -> bool: ...

    async def ensure_owner(self) -> None:
        """Raise when this process no longer owns the review (its lease was lost)."""

    async def fence(self) -> None:
        """Right before the review is sent: raise unless this process still owns the
        review, for long enough that no other one can take it over before it is sent."""

    async def quota_line(self) -> str | None: ...
