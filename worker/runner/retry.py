"""When to try a review again, and when to give up: a pure decision.

The failover table's last row (docs/ARCHITECTURE.md, "Failover table"): when
both models are unavailable the job is deferred, retried until it succeeds
or the PR closes, and if it finally gives up the PR gets a comment. Waits
follow what the failure said (a breaker's cool-down, a Retry-After, a quota
refresh) and otherwise back off exponentially with jitter. A review is
abandoned when it has failed `MAX_FAILURES` times (errors that are not a
model outage: GitHub 5xx, a bug), or when it is older than
WORKER_REVIEW_GIVE_UP_AFTER whatever the reason (a quota window refreshes
within that time by default).

What the pull request is told when a review is abandoned is a fixed sentence
per `Cause` (worker.publish.messages.GIVE_UP_REASON), never an exception's
text: that may quote a provider, GitHub or a stack, and goes to the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from worker.backoff import jittered_backoff

MAX_FAILURES: Final = 8
MIN_WAIT: Final = 5.0
FAILURE_BASE: Final = 30.0
OUTAGE_BASE: Final = 60.0
MAX_BACKOFF: Final = 1800.0
MAX_HINTED_WAIT: Final = 8 * 86400.0  # a quota refresh may be a week away

Kind = Literal["deferred", "rate_limited", "failed"]


@dataclass(frozen=True, slots=True)
class RetryDecision:
    give_up: bool
    wait: float  # seconds until the next attempt (0 when giving up)
    reason: str


def backoff(attempt: int, base: float, jitter: float) -> float:
    """base·2^attempt capped at MAX_BACKOFF, the upper half jittered (jitter in [0, 1))."""
    return jittered_backoff(attempt, base=base, cap=MAX_BACKOFF, jitter=jitter)


def next_attempt(
    kind: Kind,
    *,
    reason: str,
    hint: float | None,
    failures: int,
    deferrals: int,
    age: float,
    give_up_after: float,
    jitter: float,
) -> RetryDecision:
    """What to do after an attempt ended with `kind` (counters include this attempt)."""
    if kind == "failed" and failures >= MAX_FAILURES:
        return RetryDecision(True, 0.0, f"{reason} ({failures} failed attempts)")
    if kind == "failed":
        wait = backoff(failures - 1, FAILURE_BASE, jitter)
    elif hint is not None and hint == hint:  # NaN is no hint
        wait = min(max(hint, MIN_WAIT), MAX_HINTED_WAIT)
    else:
        wait = backoff(deferrals - 1, OUTAGE_BASE, jitter)
    if age + wait > give_up_after:
        days = give_up_after / 86400
        return RetryDecision(True, 0.0, f"{reason} (still failing after {days:g} days)")
    return RetryDecision(False, wait, reason)
