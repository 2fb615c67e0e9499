"""The worker's answers to a review flow, from Redis (worker.review_hooks)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix

from worker import keys
from worker.contract import REVIEW_FUNCTION, ReviewRequest, encode_request
from worker.review_hooks import LAST_REVIEWED_TTL_SECONDS, LeaseLost, WorkerHooks
from worker.review_tasks import ReviewTask, TaskStore

REPO_ID = 42
PR = 7
HEAD = "a" * 40
NEW_HEAD = "b" * 40
LOCK = keys.pr_lock(REPO_ID, PR)
TOKEN = "worker-1:review:42:7:aaa"


def review_request(head: str | None = HEAD, *, pr_number: int = PR) -> ReviewRequest:
    return ReviewRequest(
        delivery_id="d-1",
        trigger="pull_request",
        action="synchronize",
        repo_id=REPO_ID,
        repo_full_name="octo/repo",
        pr_number=pr_number,
        installation_id=99,
        head_sha=head,
    )


def hooks_for(
    redis: aioredis.Redis,
    request: ReviewRequest | None = None,
    *,
    token: str = TOKEN,
) -> WorkerHooks:
    return WorkerHooks(
        redis,
        request or review_request(),
        tasks=TaskStore(redis),
        lock=LOCK,
        token=token,
        quota=None,
    )


# --- has_own_job --------------------------------------------------------------------


async def test_no_task_and_no_arq_job_means_no_own_job(redis: aioredis.Redis) -> None:
    assert await hooks_for(redis).has_own_job(NEW_HEAD) is False


async def test_a_recorded_task_for_the_head_is_its_own_job(redis: aioredis.Redis) -> None:
    job_id = keys.review_job_id(REPO_ID, PR, NEW_HEAD)
    task = ReviewTask(task_id=job_id, request=review_request(NEW_HEAD), first_seen=1.0)
    await TaskStore(redis).record(task, due=1.0)
    assert await hooks_for(redis).has_own_job(NEW_HEAD) is True


async def test_a_dropped_task_is_no_longer_an_own_job(redis: aioredis.Redis) -> None:
    job_id = keys.review_job_id(REPO_ID, PR, NEW_HEAD)
    store = TaskStore(redis)
    await store.record(
        ReviewTask(task_id=job_id, request=review_request(NEW_HEAD), first_seen=1.0), due=1.0
    )
    await store.drop(job_id)
    assert await hooks_for(redis).has_own_job(NEW_HEAD) is False


@pytest.mark.parametrize("prefix", [job_key_prefix, result_key_prefix])
async def test_an_arq_job_or_result_for_the_head_is_its_own_job(
    redis: aioredis.Redis, prefix: str
) -> None:
    await redis.set(prefix + keys.review_job_id(REPO_ID, PR, NEW_HEAD), b"x")
    assert await hooks_for(redis).has_own_job(NEW_HEAD) is True


async def test_a_job_queued_through_arq_for_the_head_is_its_own_job(
    redis: aioredis.Redis, redis_url: str
) -> None:
    """The receiver's enqueue (arq's own key layout) is what has_own_job looks for."""
    pool = ArqRedis.from_url(redis_url)
    try:
        job = await pool.enqueue_job(
            REVIEW_FUNCTION,
            encode_request(review_request(NEW_HEAD)),
            _job_id=keys.review_job_id(REPO_ID, PR, NEW_HEAD),
            _queue_name=keys.QUEUE,
        )
        assert job is not None
    finally:
        await pool.aclose()
    assert await hooks_for(redis).has_own_job(NEW_HEAD) is True
    assert await hooks_for(redis).has_own_job("c" * 40) is False


@pytest.mark.parametrize(
    "job_id",
    [
        keys.review_job_id(REPO_ID, PR, "c" * 40),  # another head
        keys.review_job_id(REPO_ID, PR + 1, NEW_HEAD),  # another PR
        keys.review_job_id(REPO_ID + 1, PR, NEW_HEAD),  # another repository
        keys.command_job_id(REPO_ID, PR, 555),  # a command on the same PR
    ],
    ids=["other-head", "other-pr", "other-repo", "command"],
)
async def test_jobs_and_tasks_of_something_else_are_not_its_own_job(
    redis: aioredis.Redis, job_id: str
) -> None:
    await redis.set(job_key_prefix + job_id, b"x")
    await redis.set(result_key_prefix + job_id, b"x")
    await TaskStore(redis).record(
        ReviewTask(task_id=job_id, request=review_request(NEW_HEAD), first_seen=1.0), due=1.0
    )
    assert await hooks_for(redis).has_own_job(NEW_HEAD) is False


# --- last reviewed head --------------------------------------------------------------


async def test_last_reviewed_is_none_until_set_then_round_trips(redis: aioredis.Redis) -> None:
    hooks = hooks_for(redis)
    assert await hooks.last_reviewed() is None
    await hooks.set_last_reviewed(HEAD)
    assert await hooks.last_reviewed() == HEAD
    await hooks.set_last_reviewed(NEW_HEAD)
    assert await hooks.last_reviewed() == NEW_HEAD


async def test_last_reviewed_is_remembered_for_its_ttl(redis: aioredis.Redis) -> None:
    await hooks_for(redis).set_last_reviewed(HEAD)
    ttl = await redis.ttl(keys.last_reviewed(REPO_ID, PR))
    assert LAST_REVIEWED_TTL_SECONDS - 5 <= ttl <= LAST_REVIEWED_TTL_SECONDS


async def test_last_reviewed_is_per_pull_request(redis: aioredis.Redis) -> None:
    await hooks_for(redis).set_last_reviewed(HEAD)
    other = hooks_for(redis, review_request(pr_number=PR + 1))
    assert await other.last_reviewed() is None


async def test_a_command_request_shares_the_prs_last_reviewed_head(
    redis: aioredis.Redis,
) -> None:
    await hooks_for(redis).set_last_reviewed(HEAD)
    command = ReviewRequest(
        delivery_id="d-2",
        trigger="command",
        action="review",
        repo_id=REPO_ID,
        repo_full_name="octo/repo",
        pr_number=PR,
        comment_id=555,
        command="review",
    )
    assert await hooks_for(redis, command).last_reviewed() == HEAD


# --- the lease fence ------------------------------------------------------------------


async def test_ensure_owner_passes_while_the_lease_is_ours(redis: aioredis.Redis) -> None:
    assert await TaskStore(redis).acquire(LOCK, TOKEN, 30.0)
    await hooks_for(redis).ensure_owner()


async def test_ensure_owner_raises_lease_lost_when_another_worker_holds_it(
    redis: aioredis.Redis,
) -> None:
    assert await TaskStore(redis).acquire(LOCK, "worker-2:review:42:7:aaa", 30.0)
    with pytest.raises(LeaseLost, match=LOCK):
        await hooks_for(redis).ensure_owner()


async def test_ensure_owner_raises_lease_lost_when_nobody_holds_it(
    redis: aioredis.Redis,
) -> None:
    with pytest.raises(LeaseLost):
        await hooks_for(redis).ensure_owner()


async def test_ensure_owner_raises_after_the_lease_expired_and_was_taken_over(
    redis: aioredis.Redis,
) -> None:
    store = TaskStore(redis)
    assert await store.acquire(LOCK, TOKEN, 0.3)
    hooks = hooks_for(redis)
    await hooks.ensure_owner()
    await asyncio.sleep(0.45)
    assert await store.acquire(LOCK, "worker-2:review:42:7:aaa", 30.0)
    with pytest.raises(LeaseLost):
        await hooks.ensure_owner()


# --- the posting fence -------------------------------------------------------------------


async def test_the_fence_renews_our_lease_for_a_full_ttl_before_the_post(
    redis: aioredis.Redis,
) -> None:
    assert await TaskStore(redis).acquire(LOCK, TOKEN, 1.0)
    await hooks_for(redis).fence()
    assert await redis.pttl(LOCK) > 10_000  # the hooks' lease TTL (20 s), not what was left


async def test_the_fence_raises_lease_lost_when_another_worker_holds_the_lease(
    redis: aioredis.Redis,
) -> None:
    assert await TaskStore(redis).acquire(LOCK, "worker-2:review:42:7:aaa", 30.0)
    with pytest.raises(LeaseLost, match="not posting"):
        await hooks_for(redis).fence()
    assert (await redis.get(LOCK)) == b"worker-2:review:42:7:aaa"


# --- the rest ---------------------------------------------------------------------------


async def test_the_checkpoint_is_the_review_state_of_that_head_and_run(
    redis: aioredis.Redis,
) -> None:
    hooks = hooks_for(redis)
    assert hooks.checkpoint(HEAD, None).key == keys.review_state(REPO_ID, PR, HEAD)
    assert hooks.checkpoint(NEW_HEAD, "full-1").key == keys.review_state(
        REPO_ID, PR, NEW_HEAD, "full-1"
    )


async def test_no_quota_line_without_a_quota(redis: aioredis.Redis) -> None:
    assert await hooks_for(redis).quota_line() is None
