"""Persisting an accepted delivery as an arq job, in one atomic Redis step.

One Lua script checks the delivery id, checks arq's job and result keys,
writes the job exactly as `arq.ArqRedis.enqueue_job` would (same keys, same
serialised payload, same queue score) and remembers the delivery id. Doing it
in one script means a delivery id is never remembered for a job that was not
persisted, a redelivery or duplicate event never creates a second job, and
intake costs one round trip. One exception to "the job exists": a job that
ended without reviewing its head (a draft, reviews disabled, the PR closed)
does not count for a later `ready_for_review` or `reopened` of that head,
which is queued once more (the worker leaves `keys.head_unreviewed`).
Redis errors propagate: the controller answers 503 and GitHub (or the
redelivery sweeper) sends the delivery again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from enum import StrEnum
from typing import Final, cast

import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job as arq_serialize_job

from worker import keys
from worker.contract import REVIEW_FUNCTION, ReviewRequest, encode_request
from worker.serialization import serialize_job

# A job not started within this time is dropped by arq; reviews are retried
# by the worker itself, so this only bounds how long a queue backlog may wait.
JOB_EXPIRES_MS: Final = 3 * 86400 * 1000

# A `ready_for_review` or `reopened` (ARGV[6] = '1') finds the head's job
# existing: if that job ended without reviewing the head (KEYS[5], set by the
# worker), the marker is consumed and the job queued again, once; if the job
# has not ended yet, KEYS[6] asks it to run once more should it end unreviewed.
_ENQUEUE_LUA: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'delivery' end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  local revive = ARGV[6] == '1' and redis.call('EXISTS', KEYS[2]) == 0
  if revive and redis.call('DEL', KEYS[5]) == 1 then
    redis.call('DEL', KEYS[3])
  else
    if ARGV[6] == '1' then redis.call('SET', KEYS[6], '1', 'EX', ARGV[5]) end
    redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
    return 'job'
  end
end
redis.call('PSETEX', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
return 'queued'
"""


# Events that ask for a head to be reviewed that an earlier job may have skipped.
REVIVING_ACTIONS: Final = frozenset({"ready_for_review", "reopened"})


def _may_revive(request: ReviewRequest) -> bool:
    return request.trigger == "pull_request" and request.action in REVIVING_ACTIONS


class Outcome(StrEnum):
    QUEUED = "queued"
    DUPLICATE_DELIVERY = "delivery"  # this X-GitHub-Delivery was accepted before
    DUPLICATE_JOB = "job"  # another delivery already queued the same job


class Intake:
    """Writes jobs and installation records; owns no connection of its own."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._enqueue = redis.register_script(_ENQUEUE_LUA)

    async def enqueue(self, job_id: str, request: ReviewRequest) -> Outcome:
        now_ms = int(time.time() * 1000)
        payload = arq_serialize_job(
            REVIEW_FUNCTION,
            (encode_request(request),),
            {},
            None,
            now_ms,
            serializer=serialize_job,
        )
        result = await self._enqueue(
            keys=[
                keys.delivery(request.delivery_id),
                job_key_prefix + job_id,
                result_key_prefix + job_id,
                keys.QUEUE,
                keys.head_unreviewed(job_id),
                keys.head_wanted(job_id),
            ],
            args=[
                payload,
                JOB_EXPIRES_MS,
                now_ms,
                job_id,
                keys.DELIVERY_TTL_SECONDS,
                "1" if _may_revive(request) else "0",
            ],
        )
        return Outcome(result.decode() if isinstance(result, bytes) else result)

    async def record_installation(self, installation_id: int, account: str, action: str) -> None:
        record = {"account": account, "action": action, "at": int(time.time())}
        await cast(
            Awaitable[int], self.redis.hset(keys.installation(installation_id), mapping=record)
        )

    async def ready(self) -> bool:
        return bool(await self.redis.ping())
