"""Intake and the task store agree on when a head's job may run again (app.intake, review_tasks).

A job that ended without reviewing its head leaves a marker; only a
`ready_for_review` or `reopened` consumes it, once. One that arrives while the
job still runs asks it to run once more if it ends unreviewed.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix

from app.intake import Intake, Outcome
from worker import keys
from worker.contract import ReviewRequest
from worker.review_tasks import ReviewTask, TaskStore

JOB = keys.review_job_id(42, 7, "a" * 40)


def request(action: str, delivery: str) -> ReviewRequest:
    return ReviewRequest(
        delivery_id=delivery,
        trigger="pull_request",
        action=action,
        repo_id=42,
        repo_full_name="octo/widgets",
        pr_number=7,
        head_sha="a" * 40,
    )


async def _ran(redis: aioredis.Redis) -> None:
    """What arq leaves once the job function returned: no job key, a result key."""
    await redis.delete(job_key_prefix + JOB)
    await redis.zrem(keys.QUEUE, JOB)
    await redis.set(result_key_prefix + JOB, b"result")


async def test_a_head_ended_unreviewed_is_queued_again_by_ready_for_review_once(
    redis: aioredis.Redis,
) -> None:
    intake, tasks = Intake(redis), TaskStore(redis)
    assert await intake.enqueue(JOB, request("opened", "d1")) == Outcome.QUEUED
    await _ran(redis)
    await tasks.record(
        ReviewTask(task_id=JOB, request=request("opened", "d1"), first_seen=0), due=0
    )
    assert await tasks.finish(JOB, unreviewed=True, now=time.time())
    assert await intake.enqueue(JOB, request("synchronize", "d2")) == Outcome.DUPLICATE_JOB
    assert await intake.enqueue(JOB, request("ready_for_review", "d3")) == Outcome.QUEUED
    assert await redis.exists(keys.head_unreviewed(JOB)) == 0
    assert await intake.enqueue(JOB, request("reopened", "d4")) == Outcome.DUPLICATE_JOB
    assert (
        await intake.enqueue(JOB, request("ready_for_review", "d3")) == Outcome.DUPLICATE_DELIVERY
    )


async def test_a_reviewed_head_is_not_queued_again_by_reopened(redis: aioredis.Redis) -> None:
    intake, tasks = Intake(redis), TaskStore(redis)
    assert await intake.enqueue(JOB, request("opened", "d1")) == Outcome.QUEUED
    await _ran(redis)
    await tasks.record(
        ReviewTask(task_id=JOB, request=request("opened", "d1"), first_seen=0), due=0
    )
    assert await tasks.finish(JOB, unreviewed=False, now=time.time())
    assert await intake.enqueue(JOB, request("reopened", "d2")) == Outcome.DUPLICATE_JOB
    assert await tasks.load(JOB) is None


async def test_ready_for_review_while_the_draft_job_runs_makes_it_run_once_more(
    redis: aioredis.Redis,
) -> None:
    """Intake cannot queue a job that is still running; the task itself runs again."""
    intake, tasks = Intake(redis), TaskStore(redis)
    assert await intake.enqueue(JOB, request("opened", "d1")) == Outcome.QUEUED
    await _ran(redis)
    task = ReviewTask(task_id=JOB, request=request("opened", "d1"), first_seen=0)
    await tasks.record(task, due=0)
    assert await intake.enqueue(JOB, request("ready_for_review", "d2")) == Outcome.DUPLICATE_JOB
    now = time.time()
    assert not await tasks.finish(JOB, unreviewed=True, now=now)  # runs again
    assert await tasks.load(JOB) == task
    assert await tasks.due(now) == [JOB]
    assert await tasks.finish(JOB, unreviewed=True, now=now)  # asked once: done now
    assert await tasks.load(JOB) is None
