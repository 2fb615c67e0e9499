"""The one backoff formula, and the three retry loops that use it."""

from __future__ import annotations

import pytest

from worker.backoff import jittered_backoff
from worker.llm.failover import RetryPolicy
from worker.runner.retry import MAX_BACKOFF, backoff


@pytest.mark.parametrize("attempt", [0, 1, 2, 5])
@pytest.mark.parametrize("jitter", [0.0, 0.3, 0.999])
def test_the_wait_doubles_per_attempt_with_its_upper_half_jittered(
    attempt: int, jitter: float
) -> None:
    ceiling = 2.0 * 2**attempt
    wait = jittered_backoff(attempt, base=2.0, cap=1000.0, jitter=jitter)
    assert ceiling / 2 <= wait < ceiling
    assert wait == ceiling / 2 + jitter * ceiling / 2


def test_the_cap_bounds_the_wait_and_a_negative_attempt_is_the_first() -> None:
    assert jittered_backoff(40, base=1.0, cap=30.0, jitter=0.0) == 15.0
    assert jittered_backoff(-3, base=1.0, cap=30.0, jitter=0.5) == jittered_backoff(
        0, base=1.0, cap=30.0, jitter=0.5
    )


def test_the_model_retry_policy_survives_a_huge_attempt_count() -> None:
    """Before: the failover's own formula computed float(2**attempt) and overflowed
    (OverflowError) past attempt 1023; the review retry had capped its exponent."""
    assert RetryPolicy().backoff(5000, 0.5) == pytest.approx(0.75 * 30.0)


def test_review_retries_and_model_retries_share_the_formula() -> None:
    assert backoff(3, 30.0, 0.25) == jittered_backoff(3, base=30.0, cap=MAX_BACKOFF, jitter=0.25)
    policy = RetryPolicy()
    assert policy.backoff(2, 0.4) == jittered_backoff(
        2, base=policy.backoff_base, cap=policy.backoff_cap, jitter=0.4
    )
