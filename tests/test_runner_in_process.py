"""The worker's ReviewRunner in this process: submit, run under the PR's lease, post, drop.

Before, ReviewRunner ran only inside `kimi-review worker` subprocesses; these
drive the same runner and WorkerServices against the fake GitHub and Kimi.
"""

from __future__ import annotations

import time

import pytest

from tests.support.local_worker import PR, LocalWorld
from worker import keys
from worker.runner.runner import ReviewRunner
from worker.runner.tasks import TaskStore

pytestmark = pytest.mark.timeout(60)


async def test_a_submitted_review_runs_posts_once_and_leaves_the_store(
    local_world: LocalWorld,
) -> None:
    services = local_world.services()
    runner = ReviewRunner(services)
    try:
        task = local_world.pr_task()
        assert await runner.submit(task.task_id, task.request) == "started"
        # A second delivery of the same head is recorded once, not run twice.
        assert await runner.submit(task.task_id, task.request) == "started"
        await runner.drain()
        store = TaskStore(services.redis)
        assert await store.load(task.task_id) is None
        assert await store.due(time.time() + 3600, limit=10) == []
        lock = keys.pr_lock(local_world.repo.id, PR)
        assert await services.redis.exists(lock) == 0  # the lease was released
    finally:
        await runner.close()
        await services.close()
    assert len(local_world.reviews()) == 1
