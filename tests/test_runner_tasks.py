"""Durable review tasks and the per-PR lease on a real Redis (worker.runner.tasks)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from worker import keys
from worker.contract import ReviewRequest
from worker.runner.tasks import Lease, ReviewTask, TaskStore

LOCK = keys.pr_lock(42, 7)
SHORT_TTL = 0.3


def request(head: str = "a" * 40, *, pr_number: int = 7) -> ReviewRequest:
    return ReviewRequest(
        delivery_id="d-1",
        trigger="pull_request",
        action="synchronize",
        repo_id=42,
        repo_full_name="octo/repo",
        pr_number=pr_number,
        installation_id=99,
        head_sha=head,
        sender="octocat",
    )


def task(task_id: str = "review:42:7:aaa", **changes: object) -> ReviewTask:
    fields: dict[str, object] = {"task_id": task_id, "request": request(), "first_seen": 1000.0}
    fields.update(changes)
    return ReviewTask(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(redis: aioredis.Redis) -> TaskStore:
    return TaskStore(redis)


# --- tasks ----------------------------------------------------------------------------


async def test_a_recorded_task_loads_back_equal(store: TaskStore) -> None:
    recorded = task(failures=2, deferrals=3, last_error="kimi: 503")
    assert await store.record(recorded, due=1500.0) is True
    assert await store.load(recorded.task_id) == recorded
    assert await store.exists(recorded.task_id)
    assert await store.waiting() == 1


async def test_a_redelivered_job_keeps_the_first_record_and_its_due_time(
    store: TaskStore, redis: aioredis.Redis
) -> None:
    first = task(first_seen=1000.0)
    assert await store.record(first, due=1500.0) is True
    again = task(first_seen=2000.0, failures=5, request=request("b" * 40))
    assert await store.record(again, due=100.0) is False

    assert await store.load(first.task_id) == first
    assert await redis.zscore(keys.REVIEW_DUE, first.task_id) == 1500.0
    assert await store.due(1000.0) == []  # the redelivery's earlier due did not move it
    assert await store.waiting() == 1


async def test_an_unknown_task_loads_as_none_and_does_not_exist(store: TaskStore) -> None:
    assert await store.load("review:1:2:nope") is None
    assert await store.exists("review:1:2:nope") is False


async def test_a_dropped_task_leaves_both_the_record_and_the_schedule(
    store: TaskStore, redis: aioredis.Redis
) -> None:
    await store.record(task("t1"), due=10.0)
    await store.record(task("t2"), due=20.0)
    await store.drop("t1")
    assert await store.load("t1") is None
    assert not await store.exists("t1")
    assert await redis.zscore(keys.REVIEW_DUE, "t1") is None
    assert await store.due(100.0) == ["t2"]
    assert await store.waiting() == 1


async def test_dropping_an_unknown_task_is_a_no_op(store: TaskStore) -> None:
    await store.record(task("t1"), due=10.0)
    await store.drop("never-recorded")
    assert await store.due(100.0) == ["t1"]


async def test_a_dropped_task_can_be_recorded_again(store: TaskStore) -> None:
    await store.record(task("t1"), due=10.0)
    await store.drop("t1")
    assert await store.record(task("t1", first_seen=5.0), due=30.0) is True
    loaded = await store.load("t1")
    assert loaded is not None
    assert loaded.first_seen == 5.0


async def test_reschedule_stores_new_counters_and_moves_the_due_time(
    store: TaskStore, redis: aioredis.Redis
) -> None:
    await store.record(task("t1"), due=10.0)
    later = task("t1", failures=1, deferrals=2, last_error="GitHub 502")
    await store.reschedule(later, due=500.0)

    assert await store.load("t1") == later
    assert await redis.zscore(keys.REVIEW_DUE, "t1") == 500.0
    assert await store.due(499.0) == []
    assert await store.due(500.0) == ["t1"]


async def test_reschedule_can_move_a_task_earlier(store: TaskStore) -> None:
    await store.record(task("t1"), due=900.0)
    await store.reschedule(task("t1"), due=50.0)
    assert await store.due(60.0) == ["t1"]


async def test_due_lists_only_tasks_whose_time_has_come_oldest_first(store: TaskStore) -> None:
    for task_id, due in [("c", 30.0), ("a", 10.0), ("future", 1000.0), ("b", 20.0)]:
        await store.record(task(task_id), due=due)
    assert await store.due(30.0) == ["a", "b", "c"]
    assert await store.due(9.9) == []
    assert await store.due(10_000.0) == ["a", "b", "c", "future"]
    assert await store.waiting() == 4


async def test_due_returns_at_most_limit_ids_the_oldest_ones(store: TaskStore) -> None:
    for n in range(10):
        await store.record(task(f"t{n}"), due=float(100 - n))
    assert await store.due(1000.0, limit=3) == ["t9", "t8", "t7"]
    assert len(await store.due(1000.0)) == 10


async def test_due_returns_str_ids(store: TaskStore) -> None:
    await store.record(task("review:42:7:" + "f" * 40), due=1.0)
    (found,) = await store.due(2.0)
    assert isinstance(found, str)
    assert found == "review:42:7:" + "f" * 40


# --- the lease ------------------------------------------------------------------------


async def test_acquire_is_exclusive_until_released(store: TaskStore) -> None:
    assert await store.acquire(Lease(LOCK, "worker-a"), 30.0) is True
    assert await store.acquire(Lease(LOCK, "worker-b"), 30.0) is False
    assert await store.acquire(Lease(LOCK, "worker-a"), 30.0) is False  # not re-entrant either
    await store.release(Lease(LOCK, "worker-a"))
    assert await store.acquire(Lease(LOCK, "worker-b"), 30.0) is True


async def test_concurrent_acquires_let_exactly_one_worker_in(redis_url: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(8)]
    try:
        await clients[0].delete(LOCK)
        stores = [TaskStore(c) for c in clients]
        won = await asyncio.gather(
            *(s.acquire(Lease(LOCK, f"w{i}"), 30.0) for i, s in enumerate(stores))
        )
        assert sum(won) == 1
        winner = won.index(True)
        assert await stores[0].holds(Lease(LOCK, f"w{winner}"))
    finally:
        for c in clients:
            await c.aclose()


async def test_holds_is_true_only_for_the_holder(store: TaskStore) -> None:
    assert await store.holds(Lease(LOCK, "worker-a")) is False
    await store.acquire(Lease(LOCK, "worker-a"), 30.0)
    assert await store.holds(Lease(LOCK, "worker-a")) is True
    assert await store.holds(Lease(LOCK, "worker-b")) is False


async def test_the_lease_sets_a_ttl(store: TaskStore, redis: aioredis.Redis) -> None:
    await store.acquire(Lease(LOCK, "worker-a"), 20.0)
    assert 19_000 < await redis.pttl(LOCK) <= 20_000


async def test_the_holder_renews_its_lease(store: TaskStore, redis: aioredis.Redis) -> None:
    await store.acquire(Lease(LOCK, "worker-a"), 5.0)
    assert await store.renew(Lease(LOCK, "worker-a"), 60.0) is True
    assert 59_000 < await redis.pttl(LOCK) <= 60_000
    assert await store.holds(Lease(LOCK, "worker-a"))


async def test_a_non_holder_cannot_renew(store: TaskStore, redis: aioredis.Redis) -> None:
    await store.acquire(Lease(LOCK, "worker-a"), 5.0)
    assert await store.renew(Lease(LOCK, "worker-b"), 60.0) is False
    assert await redis.pttl(LOCK) <= 5_000
    assert await store.holds(Lease(LOCK, "worker-a"))


async def test_renewing_a_lease_nobody_holds_fails_and_does_not_create_it(
    store: TaskStore, redis: aioredis.Redis
) -> None:
    assert await store.renew(Lease(LOCK, "worker-a"), 60.0) is False
    assert await redis.exists(LOCK) == 0


async def test_release_by_a_non_holder_is_a_no_op(store: TaskStore) -> None:
    await store.acquire(Lease(LOCK, "worker-a"), 30.0)
    await store.release(Lease(LOCK, "worker-b"))
    assert await store.holds(Lease(LOCK, "worker-a"))
    assert await store.acquire(Lease(LOCK, "worker-b"), 30.0) is False


async def test_releasing_a_lease_nobody_holds_is_a_no_op(store: TaskStore) -> None:
    await store.release(Lease(LOCK, "worker-a"))
    assert await store.acquire(Lease(LOCK, "worker-a"), 30.0) is True


async def test_a_lease_expires_after_its_ttl(store: TaskStore) -> None:
    await store.acquire(Lease(LOCK, "worker-a"), SHORT_TTL)
    assert await store.acquire(Lease(LOCK, "worker-b"), SHORT_TTL) is False
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await store.holds(Lease(LOCK, "worker-a")) is False
    assert await store.acquire(Lease(LOCK, "worker-b"), SHORT_TTL) is True


async def test_a_renewed_lease_outlives_its_first_ttl(store: TaskStore) -> None:
    await store.acquire(Lease(LOCK, "worker-a"), SHORT_TTL)
    await asyncio.sleep(SHORT_TTL / 2)
    assert await store.renew(Lease(LOCK, "worker-a"), SHORT_TTL * 3)
    await asyncio.sleep(SHORT_TTL)
    assert await store.holds(Lease(LOCK, "worker-a"))


async def test_after_expiry_and_takeover_the_old_token_can_neither_renew_nor_release(
    store: TaskStore,
) -> None:
    await store.acquire(Lease(LOCK, "stalled-worker"), SHORT_TTL)
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await store.acquire(Lease(LOCK, "new-owner"), 30.0) is True

    assert await store.renew(Lease(LOCK, "stalled-worker"), 30.0) is False
    await store.release(Lease(LOCK, "stalled-worker"))
    assert await store.holds(Lease(LOCK, "stalled-worker")) is False
    assert await store.holds(Lease(LOCK, "new-owner")) is True
    assert await store.renew(Lease(LOCK, "new-owner"), 30.0) is True


async def test_leases_of_different_prs_are_independent(store: TaskStore) -> None:
    other = keys.pr_lock(42, 8)
    assert await store.acquire(Lease(LOCK, "worker-a"), 30.0)
    assert await store.acquire(Lease(other, "worker-b"), 30.0)
    await store.release(Lease(LOCK, "worker-a"))
    assert await store.holds(Lease(other, "worker-b"))
