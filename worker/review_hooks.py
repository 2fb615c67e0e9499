"""The worker's side of a review flow: Redis checkpoints, last reviewed head, the lease.

`worker.review.flow.ReviewFlow` asks these questions; a worker answers them
from Redis (the one-shot CLI answers them in memory). The lease check before
posting is the fence: a worker whose lease expired (it stalled, or lost
Redis) and was taken over must not post the review the new owner will post.
"""

from __future__ import annotations

from typing import Final

from arq.constants import job_key_prefix, result_key_prefix
from redis.asyncio import Redis

from worker import keys
from worker.contract import ReviewRequest
from worker.quota import RedisQuota, quota_line
from worker.review.checkpoints import ReviewCheckpoint
from worker.review_tasks import TaskStore

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
    ) -> None:
        self._redis = redis
        self._request = request
        self._tasks = tasks
        self._lock = lock
        self._token = token
        self._quota = quota

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

    async def quota_line(self) -> str | None:
        if self._quota is None:
            return None
        return quota_line(await self._quota.status())

    @property
    def _last_key(self) -> str:
        return keys.last_reviewed(self._request.repo_id, self._request.pr_number)
