"""A head skipped for a passing reason is reviewed once it may be (serve + worker processes).

Job ids are (repo, PR, head), and intake took any existing job for that head
as a duplicate: a draft marked ready for review, or a PR closed before its
review and reopened unchanged, was answered `200 duplicate` and never
reviewed. Now a job that ended without reviewing its head does not count for
a later `ready_for_review` or `reopened`; duplicate and late deliveries still
add nothing, and a head is still reviewed at most once.
"""

from __future__ import annotations

from tests.support.e2e_world import PR, World
from tests.support.review_world import pr_event, send


def _check_conclusions(world: World) -> list[str | None]:
    return [c.get("conclusion") for c in world.fake.written.check_runs.values()]


def test_a_draft_marked_ready_for_review_gets_exactly_one_review(world: World) -> None:
    pull = world.repo.pulls[PR]
    pull.draft = True
    base = world.serve()
    world.worker()
    assert send(base, "pull_request", pr_event(world.repo, pull)).status_code == 202
    world.wait(lambda: bool(world.fake.written.check_runs) and world.settled())
    assert world.reviews() == []
    assert _check_conclusions(world) == ["skipped"]

    pull.draft = False
    ready = pr_event(world.repo, pull, "ready_for_review")
    answer = send(base, "pull_request", ready, delivery_id="ready-1")
    assert answer.status_code == 202, answer.text
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())

    # The same delivery again, another ready_for_review, a late `opened`: nothing more.
    assert send(base, "pull_request", ready, delivery_id="ready-1").status_code == 200
    assert send(base, "pull_request", ready).status_code == 200
    assert send(base, "pull_request", pr_event(world.repo, pull)).status_code == 200
    world.wait(world.settled)
    assert len(world.reviews()) == 1
    assert len(world.kimi.requests) == 1


def test_a_pr_closed_before_its_review_and_reopened_unchanged_gets_exactly_one_review(
    world: World,
) -> None:
    pull = world.repo.pulls[PR]
    opened = pr_event(world.repo, pull)  # sent while open; closed before the worker runs
    pull.state = "closed"
    base = world.serve()
    assert send(base, "pull_request", opened).status_code == 202
    world.worker()
    world.wait(world.settled)
    assert world.reviews() == []

    pull.state = "open"
    reopened = pr_event(world.repo, pull, "reopened")
    assert send(base, "pull_request", reopened).status_code == 202
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())

    # Closed and reopened again: the head was reviewed, so nothing is queued.
    assert send(base, "pull_request", reopened).status_code == 200
    world.wait(world.settled)
    assert len(world.reviews()) == 1
    assert len(world.kimi.requests) == 1
