"""The worker's side of a review flow: Redis checkpoints, last reviewed head, the lease.

`worker.review.flow.ReviewFlow` asks these questions; a worker answers them
from Redis (the one-shot CLI answers them in memory). `fence` is the posting
fence: it runs right before the review POST goes out (after the listing of
reviews and the pacer's wait), renews the PR's lease with this worker's
token and checks on the monotonic clock that the lease cannot have expired
before the request is sent. A worker whose lease expired while it stalled
anywhere before that point (and was taken over) does not post the review
the new owner posts.
"""

from __future__ import annotations

import time
from typing import Final

from arq.constants import job_key_prefix, result_key_prefix
from redis.asyncio import Redis

from worker import keys
from worker.contract import ReviewRequest
from worker.quota import RedisQuota, quota_line
from worker.review.checkpoints import ReviewCheckpoint
from worker.review_tasks import TaskStore

# The fence sends the review only while at least this share of a fresh lease
# is left, measured on this process's monotonic clock from before the renewal.
FENCE_MARGIN: Final = 0.5

# How long a PR's last reviewed head is remembered: incremental reviews need
# it for as long as the PR stays open and active.
LAST_REVIEWED_TTL_SECONDS: Final = 90 * 86400


class LeaseLost(Exception):
    """This worker no longer holds the PR's lease: another one took the review over."""


class WorkerHooks:
    def __init__(
        self,
        redis: Redis,
        request: ReviewRequest,
        *,
        tasks: TaskStore,
        lock: str,
        token: str,
        quota: RedisQuota | None,
        lease_ttl: float = 20.0,
    ) -> None:
        self._redis = redis
        self._request = request
        self._tasks = tasks
        self._lock = lock
        self._token = token
        self._quota = quota
        self._lease_ttl = lease_ttl

    def checkpoint(self, head_sha: str, run: str | None) -> ReviewCheckpoint:
        request = self._request
        return ReviewCheckpoint(
            self._redis, keys.review_state(request.repo_id, request.pr_number, head_sha, run)
        )

    async def last_reviewed(self) -> str | None:
        value = await self._redis.get(self._last_key)
        return value.decode() if value is not None else None

    async def set_last_reviewed(self, head_sha: str) -> None:
        await self._redis.set(self._last_key, head_sha, ex=LAST_REVIEWED_TTL_SECONDS)

    async def has_own_job(self, head_sha: str) -> bool:
        """True when a pull_request event for `head_sha` was queued (it reviews that head)."""
        job_id = keys.review_job_id(self._request.repo_id, self._request.pr_number, head_sha)
        if await self._tasks.exists(job_id):
            return True
        found = await self._redis.exists(job_key_prefix + job_id, result_key_prefix + job_id)
        return int(found) > 0

    async def ensure_owner(self) -> None:
        if not await self._tasks.holds(self._lock, self._token):
            raise LeaseLost(f"lease {self._lock} is no longer ours")

    async def fence(self) -> None:
        """Renew the lease with our token and check it cannot expire before we send.

        Compare-and-renew in one script: it fails if another worker holds the
        lease (ours expired while this one stalled). The renewal happened after
        `started`, so the lease runs until at least `started + ttl` on Redis'
        clock; if this process stalled inside the renewal for more than half a
        lease, another worker may be about to take over: do not send.
        """
        started = time.monotonic()
        if not await self._tasks.renew(self._lock, self._token, self._lease_ttl):
            raise LeaseLost(f"lease {self._lock} is no longer ours: not posting")
        if time.monotonic() - started > self._lease_ttl * FENCE_MARGIN:
            raise LeaseLost(f"stalled renewing {self._lock}: not posting")

    async def quota_line(self) -> str | None:
        if self._quota is None:
            return None
        return quota_line(await self._quota.status())

    @property
    def _last_key(self) -> str:
        return keys.last_reviewed(self._request.repo_id, self._request.pr_number)
