"""One attempt's safety checks, in-process against the fakes (worker.review_attempt).

A command's write-access check runs on every attempt and fails closed; a
check run left behind by a crash is found again, not duplicated.
"""

from __future__ import annotations

from structlog.testing import capture_logs

from tests.support.local_worker import PR, LocalWorld
from worker.review_attempt import run_attempt
from worker.review_tasks import ReviewTask, TaskStore

PERMISSION = "/repos/{owner}/{repo}/collaborators/{username}/permission"


async def _attempt(world: LocalWorld, task: ReviewTask, **env: str) -> str:
    services = world.services(**env)
    try:
        tasks = TaskStore(services.redis)
        lock, token = "kimi-review:test-lock", "me"
        await tasks.acquire(lock, token, 30)
        ended = await run_attempt(services, tasks, task, lock=lock, token=token)
        return ended.ending
    finally:
        await services.close()


async def test_a_retried_command_still_checks_write_access(local_world: LocalWorld) -> None:
    """The check ran on a command's first attempt only: a retry (after any failure, such
    as the check's own GitHub call failing) gave a read-only user a paid `/review full`."""
    local_world.fake.permissions["octocat"] = "read"
    task = local_world.command_task("review_full", 9101, failures=1)
    assert await _attempt(local_world, task) == "done"
    assert local_world.reviews() == []
    assert local_world.kimi.requests == []


async def test_a_permission_check_that_cannot_be_made_does_nothing_and_says_why(
    local_world: LocalWorld,
) -> None:
    """A failing check raised, so the command was retried, and the retry skipped the check."""
    local_world.fake.permissions["octocat"] = "read"
    local_world.fake.fail_next("GET", PERMISSION, 502, times=20)
    task = local_world.command_task("review_full", 9102)
    with capture_logs() as logs:
        assert await _attempt(local_world, task) == "done"
    assert local_world.reviews() == []
    assert local_world.kimi.requests == []
    assert local_world.fake.written.reactions == []
    assert "command_ignored_permission_unknown" in {e["event"] for e in logs}


async def test_a_command_from_a_writer_is_still_answered_on_a_retry(
    local_world: LocalWorld,
) -> None:
    task = local_world.command_task("review", 9103, failures=1)
    assert await _attempt(local_world, task) == "done"
    assert len(local_world.reviews()) == 1
    assert (
        local_world.fake.written.reviews[PR][0]["commit_id"] == local_world.repo.pulls[PR].head_sha
    )
