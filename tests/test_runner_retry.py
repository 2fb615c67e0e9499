"""When a review is tried again and when it is abandoned (worker.runner.retry, pure)."""

from __future__ import annotations

import pytest

from worker.runner.retry import (
    FAILURE_BASE,
    MAX_BACKOFF,
    MAX_FAILURES,
    MAX_HINTED_WAIT,
    MIN_WAIT,
    OUTAGE_BASE,
    Kind,
    RetryDecision,
    backoff,
    next_attempt,
)

DAY = 86400.0
GIVE_UP_AFTER = 8 * DAY


def decide(
    kind: Kind,
    *,
    hint: float | None = None,
    failures: int = 0,
    deferrals: int = 0,
    age: float = 0.0,
    give_up_after: float = GIVE_UP_AFTER,
    jitter: float = 0.0,
    reason: str = "kimi: 503 overloaded",
) -> RetryDecision:
    return next_attempt(
        kind,
        reason=reason,
        hint=hint,
        failures=failures,
        deferrals=deferrals,
        age=age,
        give_up_after=give_up_after,
        jitter=jitter,
    )


# --- backoff --------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 0.999])
def test_backoff_doubles_per_attempt_and_jitters_within_the_upper_half(
    attempt: int, jitter: float
) -> None:
    ceiling = 10.0 * 2**attempt
    wait = backoff(attempt, 10.0, jitter)
    assert ceiling / 2 <= wait < ceiling
    assert wait == pytest.approx(ceiling / 2 + jitter * ceiling / 2)


def test_backoff_with_no_jitter_is_half_the_ceiling_and_grows_with_jitter() -> None:
    assert backoff(2, 10.0, 0.0) == 20.0
    assert backoff(2, 10.0, 0.0) < backoff(2, 10.0, 0.5) < backoff(2, 10.0, 0.99)


@pytest.mark.parametrize("attempt", [10, 20, 50, 100])
def test_backoff_is_capped_at_max_backoff(attempt: int) -> None:
    assert backoff(attempt, 60.0, 0.0) == MAX_BACKOFF / 2
    assert MAX_BACKOFF / 2 <= backoff(attempt, 60.0, 0.999) < MAX_BACKOFF


@pytest.mark.parametrize("attempt", [-1, -5])
def test_backoff_treats_a_negative_attempt_as_the_first(attempt: int) -> None:
    assert backoff(attempt, 30.0, 0.3) == backoff(0, 30.0, 0.3)


def test_backoff_after_a_thousand_deferrals_is_still_capped() -> None:
    """A long outage with short hinted waits (a breaker's cool-down) counts a deferral every
    few seconds; 1,024 of them take under 2 hours at MIN_WAIT. The next unhinted deferral
    then raised OverflowError in next_attempt, outside run_attempt's try: the task was never
    rescheduled nor abandoned, so every sweep ran it again and crashed again."""
    assert backoff(1024, OUTAGE_BASE, 0.5) <= MAX_BACKOFF


def test_an_unhinted_deferral_after_many_hinted_ones_waits_the_capped_backoff() -> None:
    decision = decide("deferred", hint=None, deferrals=1025, age=3600.0)
    assert not decision.give_up
    assert MAX_BACKOFF / 2 <= decision.wait < MAX_BACKOFF


# --- waits that follow a hint -------------------------------------------------------


@pytest.mark.parametrize("kind", ["deferred", "rate_limited"])
def test_a_hinted_wait_is_taken_as_given(kind: Kind) -> None:
    decision = decide(kind, hint=120.0, deferrals=3)
    assert decision == RetryDecision(False, 120.0, "kimi: 503 overloaded")


@pytest.mark.parametrize("kind", ["deferred", "rate_limited"])
@pytest.mark.parametrize("hint", [0.0, -3.0, 1.0, MIN_WAIT - 0.01])
def test_a_hint_shorter_than_min_wait_is_raised_to_min_wait(kind: Kind, hint: float) -> None:
    assert decide(kind, hint=hint, deferrals=1).wait == MIN_WAIT


def test_a_hint_longer_than_the_hinted_maximum_is_cut_to_it() -> None:
    decision = decide("deferred", hint=30 * DAY, deferrals=1, give_up_after=60 * DAY)
    assert decision == RetryDecision(False, MAX_HINTED_WAIT, "kimi: 503 overloaded")


def test_a_hint_is_not_jittered() -> None:
    waits = {decide("rate_limited", hint=42.0, deferrals=2, jitter=j).wait for j in (0, 0.5, 0.9)}
    assert waits == {42.0}


def test_a_quota_refresh_a_week_away_is_waited_for_within_the_default_give_up() -> None:
    decision = decide("deferred", hint=7 * DAY, deferrals=1, age=600.0)
    assert decision.give_up is False
    assert decision.wait == 7 * DAY


# --- waits without a hint -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["deferred", "rate_limited"])
@pytest.mark.parametrize("deferrals", [1, 2, 3, 4, 10])
def test_an_unhinted_outage_backs_off_from_the_outage_base(kind: Kind, deferrals: int) -> None:
    for jitter in (0.0, 0.7):
        wait = decide(kind, deferrals=deferrals, jitter=jitter).wait
        assert wait == backoff(deferrals - 1, OUTAGE_BASE, jitter)
    ceiling = min(MAX_BACKOFF, OUTAGE_BASE * 2 ** (deferrals - 1))
    assert ceiling / 2 <= decide(kind, deferrals=deferrals, jitter=0.999).wait < ceiling


def test_the_first_unhinted_deferral_waits_between_half_and_one_outage_base() -> None:
    assert decide("deferred", deferrals=1, jitter=0.0).wait == OUTAGE_BASE / 2
    assert decide("deferred", deferrals=1, jitter=0.999).wait < OUTAGE_BASE


@pytest.mark.parametrize("failures", range(1, MAX_FAILURES))
def test_a_failure_backs_off_from_the_failure_base(failures: int) -> None:
    decision = decide("failed", failures=failures, jitter=0.4)
    assert decision.give_up is False
    assert decision.wait == backoff(failures - 1, FAILURE_BASE, 0.4)
    ceiling = min(MAX_BACKOFF, FAILURE_BASE * 2 ** (failures - 1))
    assert ceiling / 2 <= decision.wait < ceiling


def test_a_failure_ignores_a_hint() -> None:
    assert decide("failed", failures=1, hint=600.0, jitter=0.0).wait == FAILURE_BASE / 2


def test_a_failure_waits_longer_the_more_it_failed() -> None:
    waits = [decide("failed", failures=n, jitter=0.0).wait for n in range(1, MAX_FAILURES)]
    assert waits == sorted(waits)
    assert waits[0] < waits[-1] <= MAX_BACKOFF


# --- giving up ---------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [MAX_FAILURES, MAX_FAILURES + 1, 50])
def test_a_review_that_failed_max_failures_times_is_abandoned(failures: int) -> None:
    decision = decide("failed", failures=failures, reason="GitHub 502 on the diff")
    assert decision == RetryDecision(
        True, 0.0, f"GitHub 502 on the diff ({failures} failed attempts)"
    )


def test_the_failure_before_the_last_is_still_retried() -> None:
    assert decide("failed", failures=MAX_FAILURES - 1).give_up is False


@pytest.mark.parametrize("kind", ["deferred", "rate_limited"])
def test_deferrals_never_count_as_failures(kind: Kind) -> None:
    decision = decide(kind, failures=MAX_FAILURES + 5, deferrals=3, hint=60.0)
    assert decision.give_up is False


@pytest.mark.parametrize(
    ("kind", "hint", "failures", "deferrals"),
    [
        ("deferred", 3600.0, 0, 4),
        ("rate_limited", 3600.0, 0, 4),
        ("deferred", None, 0, 20),
        ("failed", None, 7, 0),
    ],
)
def test_a_review_whose_next_attempt_would_fall_past_give_up_after_is_abandoned(
    kind: Kind, hint: float | None, failures: int, deferrals: int
) -> None:
    give_up_after = 2 * DAY
    decision = decide(
        kind,
        hint=hint,
        failures=failures,
        deferrals=deferrals,
        age=give_up_after - 1.0,
        give_up_after=give_up_after,
    )
    assert decision == RetryDecision(True, 0.0, "kimi: 503 overloaded (still failing after 2 days)")


def test_the_give_up_reason_names_fractional_days_compactly() -> None:
    decision = decide("deferred", hint=7200.0, deferrals=1, age=43000.0, give_up_after=43200.0)
    assert decision.give_up
    assert decision.reason == "kimi: 503 overloaded (still failing after 0.5 days)"


def test_a_wait_that_ends_exactly_at_give_up_after_is_still_taken() -> None:
    decision = decide("deferred", hint=100.0, deferrals=1, age=900.0, give_up_after=1000.0)
    assert decision == RetryDecision(False, 100.0, "kimi: 503 overloaded")


def test_a_hint_a_week_away_is_abandoned_when_the_review_is_already_old() -> None:
    decision = decide("deferred", hint=7 * DAY, deferrals=2, age=1.5 * DAY)
    assert decision.give_up
    assert decision.wait == 0.0
    assert "still failing after 8 days" in decision.reason


def test_max_failures_wins_over_the_age_check_and_names_the_count() -> None:
    decision = decide("failed", failures=MAX_FAILURES, age=30 * DAY, reason="boom")
    assert decision.reason == f"boom ({MAX_FAILURES} failed attempts)"


def test_a_retry_keeps_the_reason_unchanged() -> None:
    reason = "both models unavailable: kimi 503; claude 529"
    assert decide("deferred", deferrals=1, reason=reason).reason == reason
