"""An abandoned review tells the pull request a fixed reason; the details go to the log.

In process: one attempt of a review task (worker.runner.attempt.run_attempt)
with the worker's real services, against the fake GitHub and a fake Kimi.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from tests.support.e2e_world import PR, World
from worker import keys
from worker.config import load_settings
from worker.contract import ReviewRequest
from worker.runner.attempt import run_attempt
from worker.runner.retry import MAX_FAILURES
from worker.runner.services import WorkerServices
from worker.runner.tasks import Lease, ReviewTask, TaskStore

HOSTILE = "upstream said @here <img src=x onerror=alert(1)> at /srv/app/secret_path.py"


@pytest.fixture
async def services(world: World) -> AsyncIterator[WorkerServices]:
    opened = WorkerServices.open(load_settings(world.env))
    try:
        yield opened
    finally:
        await opened.close()


def _last_try(world: World) -> ReviewTask:
    pull = world.repo.pulls[PR]
    request = ReviewRequest(
        delivery_id="d-1",
        trigger="pull_request",
        action="opened",
        repo_id=world.repo.id,
        repo_full_name=world.repo.full_name,
        pr_number=PR,
        installation_id=world.repo.installation_id,
        head_sha=pull.head_sha,
    )
    return ReviewTask(task_id="t-1", request=request, first_seen=0.0, failures=MAX_FAILURES - 1)


async def _attempt(services: WorkerServices, task: ReviewTask) -> str:
    lease = Lease(keys.pr_lock(task.request.repo_id, task.request.pr_number), "me")
    ended = await run_attempt(services, TaskStore(services.redis), task, lease=lease)
    return ended.outcome


async def test_giving_up_posts_a_fixed_reason_not_the_errors_text(
    world: World, services: WorkerServices
) -> None:
    """Regression: the give-up comment and check run quoted the last exception's text
    (here GitHub's error message; for a crash, `RecursionError: maximum recursion ...`)."""
    world.fake.fail_next(
        "GET", "/repos/{owner}/{repo}/pulls/{number}", 422, body={"message": HOSTILE}
    )
    with capture_logs() as logs:
        outcome = await _attempt(services, _last_try(world))
    assert outcome == "gave_up"
    (comment,) = [c["body"] for c in world.fake.written.issue_comments.values()]
    (check,) = world.fake.written.check_runs.values()
    for posted in (comment, check["output"]["summary"]):
        assert "gave up on reviewing" in posted
        assert "GitHub kept failing" in posted
        assert "upstream said" not in posted
        assert "secret_path" not in posted
    abandoned = [e for e in logs if e["event"] == "review_abandoned"]
    assert HOSTILE in abandoned[0]["error"]  # the operator still gets the details
