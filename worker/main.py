"""The arq worker process and its supervisor.

`worker_options(settings)` is the arq WorkerSettings for queue
`kimi-review:queue` (msgpack instead of pickle, a short job timeout: the
review job only records a task and hands it to the `ReviewRunner`, which runs
reviews under renewed leases and resumes a dead worker's from checkpoints).
`run_worker` keeps a worker running across Redis
outages: arq's `Worker.main()` raises when its connection drops, so the
supervisor closes it, waits with capped backoff and starts a fresh one;
the shared clients and the runner live outside the arq worker and survive
that restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any, Final

import structlog
from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import Worker, func
from prometheus_client import start_http_server
from redis.exceptions import RedisError

from worker import keys
from worker.config import Settings
from worker.contract import REVIEW_FUNCTION
from worker.jobs import review_pull_request
from worker.review_runner import ReviewRunner
from worker.serialization import deserialize_job, serialize_job
from worker.services import WorkerServices
from worker.sweeper import redelivery_sweep_job

log = structlog.get_logger("kimi_review.worker")
MAX_BACKOFF_SECONDS: Final = 30.0
STABLE_AFTER_SECONDS: Final = 60.0


def worker_options(settings: Settings, shared: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `arq.worker.Worker` (arq's WorkerSettings)."""
    redis_settings = RedisSettings.from_dsn(settings.redis_url.reveal())
    redis_settings.conn_retries = 2
    return {
        "functions": [func(review_pull_request, name=REVIEW_FUNCTION)],
        # GitHub never redelivers a failed webhook; every 5 minutes one worker asks it to.
        "cron_jobs": [
            cron(
                redelivery_sweep_job,
                name="redelivery-sweep",
                minute=set(range(0, 60, 5)),
                unique=True,
                run_at_startup=False,
                timeout=120,
                max_tries=1,
                keep_result=0,
            )
        ],
        "queue_name": keys.QUEUE,
        "redis_settings": redis_settings,
        "job_serializer": serialize_job,
        "job_deserializer": deserialize_job,
        "job_timeout": settings.job_timeout,
        "keep_result": keys.DELIVERY_TTL_SECONDS,
        "max_tries": 1000,  # the review job decides when to give up (it knows why)
        "health_check_key": keys.HEALTH_CHECK,
        "health_check_interval": 30,
        "handle_signals": False,  # the supervisor owns SIGINT/SIGTERM
        "ctx": shared,
    }


async def _close(worker: Worker) -> None:
    try:
        await worker.close()
    except (RedisError, OSError) as exc:
        log.warning("worker_close_failed", error=str(exc))


async def supervise(settings: Settings, *, burst: bool = False) -> int:
    """Run arq workers until stopped, starting a new one after each Redis loss."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    services = WorkerServices.open(settings)
    runner = ReviewRunner(services)
    shared: dict[str, Any] = {
        "settings": settings,
        "services": services,
        "runner": runner,
        "http": services.github_http,  # the redelivery sweep's GitHub calls
        "app_tokens": services.app_tokens,
    }
    # GITHUB_APP_SLUG unset: learn it now; a GitHub outage defers this to the first post.
    await services.identity.learn()
    runner.start()
    try:
        return await _supervise_arq(settings, shared, runner, stop, burst=burst)
    finally:
        await runner.close()
        await services.close()


async def _supervise_arq(
    settings: Settings,
    shared: dict[str, Any],
    runner: ReviewRunner,
    stop: asyncio.Event,
    *,
    burst: bool,
) -> int:
    backoff = 1.0
    while not stop.is_set():
        worker = Worker(**worker_options(settings, shared), burst=burst)
        started = time.monotonic()
        main = asyncio.create_task(worker.main())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not main.done():
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
            await _close(worker)
            break
        error = main.exception()
        await _close(worker)
        if error is None:  # burst mode: the queue is empty; finish what it started
            await runner.drain()
            return 0
        if not isinstance(error, RedisError | OSError):
            raise error
        if time.monotonic() - started > STABLE_AFTER_SECONDS:
            backoff = 1.0
        log.warning("redis_connection_lost", error=str(error), retry_in=backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
    log.info("worker_stopped")
    return 0


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    """Entry point of `kimi-review worker`; serves /metrics on METRICS_PORT when set."""
    if settings.metrics_port is not None:
        # The process-wide registry: gate, model-call and job metrics all land there.
        start_http_server(settings.metrics_port)
        log.info("metrics_serving", port=settings.metrics_port)
    return asyncio.run(supervise(settings, burst=burst))
