"""GitHub's 422 on a review: read it, and find the refused comments so ONE review is posted."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_publish_findings import ANCHORS
from worker.model_answer import Finding
from worker.publish.findings import Placement, place_findings
from worker.publish.rejections import (
    Bisection,
    ClearPendingThenRetry,
    Repost,
    Stop,
    read_rejection,
    recovery_for,
)

# Bodies as GitHub sent them (quoted in public bug reports of other review bots).
LINE_NOT_RESOLVED = (
    b'{"message":"Unprocessable Entity","errors":["Line could not be resolved"],"status":"422"}'
)
THREE_IN_ONE = (
    '{"message":"Unprocessable Entity","errors":["Pull request review thread line must be part '
    "of the diff, Pull request review thread start line must be part of the same hunk as the "
    "line., and Pull request review thread diff hunk can't be blank\"],"
    '"documentation_url":"https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"}'
)
VALIDATION_FAILED = {
    "message": "Validation Failed",
    "errors": [
        {
            "resource": "PullRequestReviewComment",
            "code": "custom",
            "field": "pull_request_review_thread.line",
            "message": "could not be resolved",
        }
    ],
}


def _placement(count: int, *, ranged: bool = False) -> Placement:
    findings = [
        Finding(
            path="src/app.py",
            line=11 + n,
            start_line=10 + n if ranged else None,
            title=f"t{n}",
            body=f"finding {chr(97 + n)}",
        )
        for n in range(count)
    ]
    return place_findings(findings, ANCHORS, cap=25)


def test_real_422_bodies_are_read_as_position_problems() -> None:
    assert read_rejection(LINE_NOT_RESOLVED).kinds == {"comment_position"}
    assert read_rejection(THREE_IN_ONE).kinds == {"comment_position", "multi_line_range"}
    assert read_rejection(VALIDATION_FAILED).kinds == {"comment_position"}


def test_other_422_bodies_are_told_apart() -> None:
    stale = read_rejection(
        '{"message":"Unprocessable Entity","errors":["No commit found for SHA: abc"]}'
    )
    assert stale.kinds == {"stale_commit"}
    pending = read_rejection(
        '{"message":"Unprocessable Entity",'
        '"errors":["User can only have one pending review per pull request"]}'
    )
    assert pending.kinds == {"pending_review"}
    assert read_rejection(b"<html>oops</html>").kinds == {"other"}


def test_named_comment_indices_are_read() -> None:
    body = {"message": "Validation Failed", "errors": ["comments[2].line could not be resolved"]}
    assert read_rejection(body).indices == (2,)


def test_a_stale_commit_stops_the_review() -> None:
    step = recovery_for(
        read_rejection('{"errors":["commit_id is not part of the pull request"]}'), _placement(2)
    )
    assert isinstance(step, Stop)


def test_a_leftover_pending_review_is_cleared_then_the_review_retried() -> None:
    rejection = read_rejection(
        '{"errors":["User can only have one pending review per pull request"]}'
    )
    assert isinstance(recovery_for(rejection, _placement(2)), ClearPendingThenRetry)


def test_named_comments_move_to_the_summary_and_the_rest_is_reposted() -> None:
    placement = _placement(3)
    step = recovery_for(
        read_rejection({"errors": ["comments[1] line must be part of the diff"]}), placement
    )
    assert isinstance(step, Repost)
    assert [c.line for c in step.placement.inline] == [11, 13]
    assert [e.reason for e in step.placement.in_summary] == ["rejected"]


def test_a_start_line_complaint_first_retries_with_single_line_comments() -> None:
    placement = _placement(2, ranged=True)
    step = recovery_for(read_rejection(THREE_IN_ONE), placement)
    assert isinstance(step, Repost)
    assert all(c.start_line is None and c.suggestion is None for c in step.placement.inline)
    again = recovery_for(read_rejection(THREE_IN_ONE), step.placement, ranges_collapsed=True)
    assert isinstance(again, Bisection)


def test_an_unreadable_422_posts_the_review_with_every_finding_in_the_summary() -> None:
    step = recovery_for(read_rejection(b"<html>oops</html>"), _placement(3))
    assert isinstance(step, Repost)
    assert step.placement.inline == []
    assert len(step.placement.in_summary) == 3


def _run(state: Bisection, refused_by_github: set[int]) -> tuple[Bisection, int]:
    probes = 0
    while (probe := state.next_probe()) is not None:
        probes += 1
        state = state.record(accepted=not (set(probe) & refused_by_github))
    return state, probes


def test_bisection_finds_the_one_refused_comment_in_log2_probes() -> None:
    state, probes = _run(Bisection.start(16), {11})
    assert state.refused == (11,)
    assert sorted(state.cleared) == [i for i in range(16) if i != 11]
    assert probes <= 5  # 2·log2(16) at worst: a refused half leaves its sibling to probe


def test_bisection_result_is_applied_to_the_placement() -> None:
    placement = _placement(4)
    state, _ = _run(Bisection.start(4), {0, 3})
    after = state.apply(placement)
    assert [c.line for c in after.inline] == [12, 13]
    assert [e.finding.line for e in after.in_summary] == [11, 14]


@settings(max_examples=300)
@given(
    count=st.integers(1, 40),
    data=st.data(),
    budget=st.integers(0, 30),
)
def test_bisection_never_clears_a_refused_comment(
    count: int, data: st.DataObject, budget: int
) -> None:
    """Whatever the budget, the one review posted at the end holds no comment GitHub refuses."""
    refused = data.draw(st.sets(st.integers(0, count - 1), min_size=1))
    state, probes = _run(Bisection.start(count, max_probes=budget), refused)
    assert probes <= budget
    assert not set(state.cleared) & refused
    assert set(state.cleared) | set(state.refused) == set(range(count))
    assert not set(state.cleared) & set(state.refused)
    if budget >= len(refused) * (2 * math.ceil(math.log2(count)) + 1):
        assert set(state.refused) == refused
