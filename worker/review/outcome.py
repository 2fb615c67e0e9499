"""What a review flow is asked, what it answers, and the state one review carries.

Kept apart from `worker.review.flow` so the flow's steps (the flow itself and
the posting step, `worker.review.finish`) share them without importing each
other; callers (the worker's attempt, the CLI) import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from worker.github.models import PullRequestInfo
from worker.repo_config.plan import ReviewPlan
from worker.repo_config.read import LoadedConfig
from worker.review.conclude import ReviewResult
from worker.review.hooks import Checkpoint
from worker.review.prepare import PreparedReview
from worker.review.scope import ReviewScope

Status = Literal["posted", "already_posted", "skipped", "superseded", "dry_run"]


@dataclass(frozen=True, slots=True)
class ReviewTarget:
    """Which review to make: a head (None: the PR's current one), and how."""

    pr_number: int
    head_sha: str | None
    run: str | None = None  # set by `/review full`: another review of the same head
    full: bool = False  # the whole PR, not only what changed since the last review
    asked: bool = False  # a person asked (a command): drafts are reviewed too


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    status: Status
    reason: str
    head_sha: str | None = None
    review_url: str | None = None
    review_key: str | None = None
    started_at: float | None = None
    head_reviewed: bool = False  # skipped because this very head was reviewed before
    # Ended without reviewing the head for a reason that may pass (a draft,
    # reviews disabled, the PR closed): a later ready_for_review/reopened counts.
    unreviewed: bool = False
    prepared: PreparedReview | None = None
    result: ReviewResult | None = None


class ReviewDeferred(Exception):
    """No model can serve now; try again after `retry_after` seconds (None: back off)."""

    def __init__(self, reason: str, retry_after: float | None, *, paused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.paused = paused  # the main key's budget is spent (not an outage)


@dataclass(frozen=True, slots=True)
class ReviewRun:
    """One review under way: what was decided before any token is spent.

    One value instead of nine arguments handed from step to step of the flow.
    """

    pr: PullRequestInfo
    head: str
    target: ReviewTarget
    loaded: LoadedConfig
    plan: ReviewPlan
    scope: ReviewScope
    checkpoint: Checkpoint
    started_at: float
    review_key: str  # the ceiling's and the logs' name for it: repo#PR@head[:run]

    @property
    def incremental(self) -> bool:
        return self.scope.mode == "incremental"
