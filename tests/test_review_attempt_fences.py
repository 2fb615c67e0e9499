"""One attempt's safety checks, in-process against the fakes (worker.review_attempt).

A command's write-access check runs on every attempt and fails closed; a
check run left behind by a crash is found again, not duplicated.
"""

from __future__ import annotations

from structlog.testing import capture_logs

from tests.support.local_worker import PR, LocalWorld
from worker.github.auth import RepoRef
from worker.review.check_run import check_in_progress, check_skipped
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


async def test_a_check_run_whose_id_was_never_saved_is_found_again_not_duplicated(
    local_world: LocalWorld,
) -> None:
    """A crash between creating the check run and saving its id left it "in progress"
    forever: the next attempt created a second one beside it."""
    local_world.fake.lose_answer_next("POST", "/repos/{owner}/{repo}/check-runs")
    task = local_world.pr_task()
    assert await _attempt(local_world, task) == "retry"  # the answer with its id was lost
    assert len(local_world.fake.written.check_runs) == 1
    assert await _attempt(local_world, task) == "done"
    (check,) = local_world.fake.written.check_runs.values()
    assert check["status"] == "completed"
    assert check["conclusion"] in ("success", "neutral")
    assert len(local_world.reviews()) == 1


async def test_the_check_run_listing_is_per_commit_and_name_as_github_answers_it(
    local_world: LocalWorld,
) -> None:
    services = local_world.services()
    try:
        repo = local_world.repo
        poster = services.poster(
            RepoRef.parse(repo.full_name, repo_id=repo.id, installation_id=repo.installation_id)
        )
        head = repo.pulls[PR].head_sha
        done = await poster.start_check(head, check_skipped("draft"), external_id="t:1")
        running = await poster.start_check(head, check_in_progress(0, 3), external_id="t:1")
        assert await poster.find_open_check(head, "t:1") == running
        assert await poster.find_open_check(head, "t:2") is None
        assert await poster.find_open_check(repo.pulls[PR].base_sha, "t:1") is None
        assert done != running
    finally:
        await services.close()
