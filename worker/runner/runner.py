"""Runs review tasks under renewed leases, resumes dead workers' reviews, defers and gives up.

A review is started by `submit` (from the arq job, which then returns at
once) or by the sweep, which every few seconds takes the tasks whose start
time has come and whose PR lease is free: new ones that waited for another
review of the same PR, deferred ones now due, and those of a worker that died
(its lease expired). So a killed worker's review resumes within a lease TTL
plus a sweep interval (25 s by default), from its checkpoints.

While a review runs, a keeper renews its lease; if the lease cannot be
renewed in time (Redis lost) or was taken over, the review is cancelled,
since another worker may now own it. How each attempt ends decides the
task's fate: finished (dropped), deferred (rescheduled), or abandoned (the
PR gets a comment).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from typing import Final

import structlog
from redis.exceptions import RedisError

from worker import keys, metrics
from worker.contract import ReviewRequest
from worker.runner.attempt import AttemptEnded, run_attempt
from worker.runner.services import WorkerServices
from worker.runner.tasks import Lease, ReviewTask, TaskStore

log = structlog.get_logger("kimi_review.runner")
SWEEP_BATCH: Final = 50
BUG_RETRY_SECONDS: Final = 300.0


class ReviewRunner:
    """One per worker process; shares `services` with every review it runs."""

    def __init__(self, services: WorkerServices) -> None:
        self.services = services
        self.settings = services.settings
        self.tasks = TaskStore(services.redis)
        self.lease_ttl = float(self.settings.review_lease)
        self.sweep_interval = max(1.0, self.lease_ttl / 4)
        self._process = secrets.token_hex(6)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._starting: set[str] = set()  # counted against max_reviews while being started
        self._kick = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return len(self._running)

    async def submit(self, task_id: str, request: ReviewRequest) -> str:
        """Record the review durably, then start it here if its PR is free."""
        task = ReviewTask(task_id=task_id, request=request, first_seen=time.time())
        added = await self.tasks.record(task, due=time.time())
        started = await self.try_start(task_id)
        if started:
            return "started"
        return "waiting" if added else "already recorded"

    async def try_start(self, task_id: str) -> bool:
        if task_id in self._running:
            return True
        if task_id in self._starting or self._busy():
            return False
        # The slot is taken before the first await: jobs arriving together would
        # otherwise all pass the check above before any of them is running.
        self._starting.add(task_id)
        try:
            task = await self.tasks.load(task_id)
            if task is None:
                await self.tasks.drop(task_id)  # a due entry without a record: nothing to run
                return False
            lease = Lease(
                keys.pr_lock(task.request.repo_id, task.request.pr_number),
                f"{self._process}:{task_id}",
            )
            if not await self.tasks.acquire(lease, self.lease_ttl):
                return False
            self._running[task_id] = asyncio.create_task(
                self._run(task, lease), name=f"review:{task_id}"
            )
            return True
        finally:
            self._starting.discard(task_id)

    def _busy(self) -> bool:
        return len(self._running) + len(self._starting) >= self.settings.max_reviews

    # --- one attempt under a lease ------------------------------------------------
    async def _run(self, task: ReviewTask, lease: Lease) -> None:
        me = asyncio.current_task()
        assert me is not None
        keeper = asyncio.create_task(self._keep_lease(lease, me))
        try:
            with metrics.track_review() as review:
                review.outcome = "deferred"  # unless the attempt says otherwise
                await self._attempt(task, lease, review)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self.tasks.release(lease)
            self._running.pop(task.task_id, None)
            self._kick.set()  # another task of this PR may be waiting

    async def _attempt(
        self, task: ReviewTask, lease: Lease, review: metrics.ReviewTracking
    ) -> None:
        try:
            ended = await run_attempt(self.services, self.tasks, task, lease=lease)
            review.outcome = ended.outcome
            await self._settle(ended)
        except asyncio.CancelledError:
            log.info("review_interrupted", task=task.task_id)  # resumed here or elsewhere
            raise
        except RedisError as exc:
            # The task stays due in Redis: the sweep (here or elsewhere) resumes it.
            log.warning("review_paused_redis_unavailable", task=task.task_id, error=str(exc))
        except Exception:  # a bug outside the attempt's own handling: not every sweep
            review.outcome = "failed"
            log.exception("review_runner_failed", task=task.task_id)
            with contextlib.suppress(RedisError, OSError):
                await self.tasks.reschedule(task, due=time.time() + BUG_RETRY_SECONDS)

    async def _settle(self, ended: AttemptEnded) -> None:
        task_id = ended.task.task_id
        if ended.ending == "left":  # another worker took the review over: it is theirs
            return
        if ended.ending == "done":
            if not await self.tasks.finish(task_id, unreviewed=ended.unreviewed, now=time.time()):
                log.info("review_wanted_again", task=task_id)  # ready_for_review meanwhile
            return
        if ended.retry is None:
            await self.tasks.drop(task_id)
            return
        await self.tasks.reschedule(ended.task, due=time.time() + ended.retry)
        log.info("review_rescheduled", task=task_id, in_seconds=round(ended.retry, 1))

    async def _keep_lease(self, lease: Lease, review: asyncio.Task[None]) -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self.lease_ttl / 4)
            try:
                if not await self.tasks.renew(lease, self.lease_ttl):
                    log.warning("review_lease_taken_over", lock=lease.key)
                    review.cancel()
                    return
                last_ok = time.monotonic()
            except (RedisError, OSError) as exc:
                if time.monotonic() - last_ok > self.lease_ttl * 0.75:
                    log.warning("review_lease_lost", lock=lease.key, error=str(exc))
                    review.cancel()
                    return

    # --- the sweep ------------------------------------------------------------------
    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="review-sweep")

    async def sweep(self) -> int:
        """Start every due task this process can take; how many it started."""
        started = 0
        for task_id in await self.tasks.due(time.time(), limit=SWEEP_BATCH):
            if self._busy():
                break
            if task_id not in self._running and await self.try_start(task_id):
                started += 1
        return started

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
                await metrics.observe_queue_depth(self.services.redis)
                metrics.DEFERRED_REVIEWS.set(await self.tasks.deferred(time.time()))
            except (RedisError, OSError) as exc:
                log.info("review_sweep_failed", error=str(exc))
            self._kick.clear()
            # Jitter spreads the sweeps of many workers over the interval.
            spread = random.random()  # noqa: S311 (jitter, not a secret)
            pause = self.sweep_interval * (0.75 + spread / 2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=pause)

    async def drain(self) -> None:
        """Burst mode: return once nothing runs here and nothing is due."""
        while True:
            await self.sweep()
            if not self._running and not await self.tasks.due(time.time(), limit=1):
                return
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        """Stop sweeping and interrupt running reviews; their leases are released.

        Each interrupted review stays due, so another worker resumes it from
        its checkpoints at its next sweep instead of waiting for a lease TTL.
        """
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        running = list(self._running.values())
        for review in running:
            review.cancel()
        await asyncio.gather(*running, return_exceptions=True)
