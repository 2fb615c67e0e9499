"""Durable review tasks and the per-PR lease, in Redis.

The arq job that announces a review only records a `ReviewTask` here and
returns: a review outlives any one arq job (thinking calls take minutes, and
arq's job timeout stays short). A task is in two keys: its record in
`keys.REVIEW_TASKS` and its next allowed start in `keys.REVIEW_DUE`. It leaves
both only when the review is finished, skipped or abandoned, so nothing
accepted is lost whatever dies in between.

Whoever runs a task holds the PR's lease (`keys.pr_lock`): a token with a
short TTL, renewed while the review runs. One review of a PR runs at a time;
when a worker dies its lease expires and any worker's sweep takes the task
over, resuming from the checkpoints.
"""

from __future__ import annotations

from typing import Any, Final, cast

import msgspec
from redis.asyncio import Redis

from worker import keys
from worker.contract import ReviewRequest


class ReviewTask(msgspec.Struct, frozen=True, kw_only=True):
    """A review to make, and how its earlier attempts went."""

    task_id: str  # the arq job id that announced it (deterministic per head or comment)
    request: ReviewRequest
    first_seen: float
    failures: int = 0  # attempts that failed (errors), not deferrals
    deferrals: int = 0  # times no model could serve
    last_error: str | None = None


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(ReviewTask)

# Compare-and-set on the lease token, so a worker whose lease expired (and was
# taken over) can neither renew nor release the new owner's lease.
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# A task that ended: dropped, and when it ended without reviewing its head the
# head is marked so a later ready_for_review/reopened is queued (app/intake.py).
# If such an event came while the task ran (KEYS[4]), the task runs once more.
_FINISH: Final = """
local wanted = redis.call('DEL', KEYS[4]) == 1
if ARGV[2] == '1' and wanted then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 'again'
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
else
  redis.call('DEL', KEYS[3])
end
return 'dropped'
"""


class TaskStore:
    """The review tasks waiting or running, fleet-wide."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._finish = redis.register_script(_FINISH)

    async def record(self, task: ReviewTask, *, due: float) -> bool:
        """Add a task unless it exists (a redelivered job keeps the first record)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(keys.REVIEW_TASKS, task.task_id, _encoder.encode(task))  # type: ignore[arg-type]
            pipe.zadd(keys.REVIEW_DUE, {task.task_id: due}, nx=True)
            added, _ = await pipe.execute()
        return bool(added)

    async def load(self, task_id: str) -> ReviewTask | None:
        raw = await cast("Any", self._redis.hget(keys.REVIEW_TASKS, task_id))
        return _decoder.decode(raw) if raw is not None else None

    async def exists(self, task_id: str) -> bool:
        return bool(await cast("Any", self._redis.hexists(keys.REVIEW_TASKS, task_id)))

    async def reschedule(self, task: ReviewTask, *, due: float) -> None:
        """Keep the task, with its new counters, for a start at `due`."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.REVIEW_TASKS, task.task_id, _encoder.encode(task))  # type: ignore[arg-type]
            pipe.zadd(keys.REVIEW_DUE, {task.task_id: due})
            await pipe.execute()

    async def drop(self, task_id: str) -> None:
        """The review is finished (posted, skipped or abandoned)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.REVIEW_TASKS, task_id)
            pipe.zrem(keys.REVIEW_DUE, task_id)
            await pipe.execute()

    async def finish(self, task_id: str, *, unreviewed: bool, now: float) -> bool:
        """Drop a finished task; False when it must run once more instead.

        `unreviewed`: it ended without reviewing its head (a draft, reviews
        disabled, the PR closed), so that head does not count as reviewed for a
        later `ready_for_review` or `reopened`; one that arrived while the task
        ran makes it due again at once (False), since intake took it as a duplicate.
        """
        ended = await self._finish(
            keys=[
                keys.REVIEW_TASKS,
                keys.REVIEW_DUE,
                keys.head_unreviewed(task_id),
                keys.head_wanted(task_id),
            ],
            args=[task_id, "1" if unreviewed else "0", keys.DELIVERY_TTL_SECONDS, now],
        )
        return (ended.decode() if isinstance(ended, bytes) else str(ended)) == "dropped"

    async def due(self, now: float, *, limit: int = 100) -> list[str]:
        """Task ids whose start time has come, oldest first."""
        found = await self._redis.zrangebyscore(keys.REVIEW_DUE, "-inf", now, start=0, num=limit)
        return [item.decode() if isinstance(item, bytes) else str(item) for item in found]

    async def waiting(self) -> int:
        return int(await self._redis.zcard(keys.REVIEW_DUE))

    async def deferred(self, now: float) -> int:
        """Tasks waiting for a later start (a model or GitHub unavailable, a quota pause)."""
        return int(await self._redis.zcount(keys.REVIEW_DUE, f"({now}", "+inf"))

    # --- the per-PR lease ----------------------------------------------------
    async def acquire(self, lock: str, token: str, ttl: float) -> bool:
        return bool(await self._redis.set(lock, token, nx=True, px=int(ttl * 1000)))

    async def renew(self, lock: str, token: str, ttl: float) -> bool:
        return int(await self._renew(keys=[lock], args=[token, int(ttl * 1000)])) == 1

    async def holds(self, lock: str, token: str) -> bool:
        value = await self._redis.get(lock)
        return value is not None and value.decode() == token

    async def release(self, lock: str, token: str) -> None:
        await self._release(keys=[lock], args=[token])
