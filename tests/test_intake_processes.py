"""The real `kimi-review serve` and `kimi-review worker` processes, end to end."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
import redis as syncredis
from arq.constants import result_key_prefix

from tests.support.env import product_env
from tests.support.processes import ProductProcess, start_serve, start_worker
from tests.support.redis_server import RedisServer
from tests.support.webhooks import delivery, payload
from worker import keys
from worker.codec import deserialize_job

pytestmark = pytest.mark.e2e

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
JOB_ID = f"review:186853002:2:{HEAD}"


def _wait_result(client: syncredis.Redis, job_id: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = client.get(result_key_prefix + job_id)
        if raw is not None:
            return deserialize_job(raw)  # type: ignore[arg-type]
        time.sleep(0.05)
    raise AssertionError(f"no result for {job_id}")


def test_signed_webhook_is_queued_by_serve_and_consumed_by_a_burst_worker(redis_url: str) -> None:
    client = syncredis.Redis.from_url(redis_url)
    client.flushdb()
    env = product_env(redis_url)
    serve, base = start_serve(env)
    try:
        body, headers = delivery("pull_request", payload("pull_request.opened"))
        response = httpx.post(f"{base}/webhooks/github", content=body, headers=headers)
        assert response.status_code == 202
        assert response.json() == {"job_id": JOB_ID}
    finally:
        # uvicorn shuts down gracefully, then re-raises SIGTERM (exit -15).
        assert serve.stop() in (0, -signal.SIGTERM)
    assert "receiver_stopped" in serve.output()
    worker = start_worker(env, "--burst")
    assert worker.process.wait(timeout=60) == 0, worker.output()
    result = _wait_result(client, JOB_ID)
    assert result["s"] is True
    assert result["r"] in ("started", "waiting")  # recorded as a review task
    assert "review_requested" in worker.output()
    assert client.zcard(keys.QUEUE) == 0
    assert client.hexists(keys.REVIEW_TASKS, JOB_ID)  # GitHub unreachable: kept for a retry


def test_serve_refuses_to_start_without_a_webhook_secret(redis_url: str) -> None:
    env = product_env(redis_url)
    del env["GITHUB_WEBHOOK_SECRET"]
    proc = ProductProcess(["serve", "--port", "0"], env)
    assert proc.process.wait(timeout=30) == 2
    assert "GITHUB_WEBHOOK_SECRET" in proc.output()


def test_worker_survives_a_redis_restart(private_redis: RedisServer) -> None:
    env = product_env(private_redis.url)
    worker = start_worker(env)
    try:
        client = syncredis.Redis.from_url(private_redis.url)
        worker.wait_for(lambda: client.exists(keys.HEALTH_CHECK) == 1)
        private_redis.stop()
        worker.wait_for(lambda: "redis_connection_lost" in worker.output())
        private_redis.start()
        serve, base = start_serve(env)
        try:
            body, headers = delivery("pull_request", payload("pull_request.opened"))
            assert httpx.post(f"{base}/webhooks/github", content=body, headers=headers).is_success
        finally:
            serve.stop()
        result = _wait_result(client, JOB_ID, timeout=60)
        assert result["s"] is True
        assert worker.process.poll() is None
    finally:
        assert worker.stop(signal.SIGTERM) == 0, worker.output()
    assert "worker_stopped" in worker.output()
