"""POST /webhooks/github against real Redis: every status code the README names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.constants import job_key_prefix
from litestar.testing import AsyncTestClient

from app.main import create_app
from tests.support.env import product_env
from tests.support.redis_server import RedisServer
from tests.support.webhooks import delivery, payload, pr_comment
from worker import keys
from worker.codec import deserialize_job
from worker.config import load_settings
from worker.contract import REVIEW_FUNCTION, decode_request
from worker.redis_client import redis_client

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
JOB_ID = f"review:186853002:2:{HEAD}"
Client = AsyncTestClient[Any]


@pytest.fixture
async def client(redis: aioredis.Redis, redis_url: str) -> AsyncIterator[Client]:
    app = create_app(load_settings(product_env(redis_url)))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def _post(client: Client, event: str, data: Any, **kwargs: Any) -> Any:
    body, headers = delivery(event, data, **kwargs)
    return await client.post("/webhooks/github", content=body, headers=headers)


async def test_opened_pull_request_is_queued_as_an_arq_job(
    client: Client, redis: aioredis.Redis
) -> None:
    response = await _post(client, "pull_request", payload("pull_request.opened"))
    assert response.status_code == 202, response.text
    assert response.json() == {"job_id": JOB_ID}
    assert await redis.zrange(keys.QUEUE, 0, -1) == [JOB_ID.encode()]
    job = deserialize_job(await redis.get(job_key_prefix + JOB_ID))
    assert job["f"] == REVIEW_FUNCTION
    request = decode_request(job["a"][0])
    assert (request.repo_id, request.pr_number, request.head_sha) == (186853002, 2, HEAD)


async def test_redelivered_webhook_is_not_queued_twice(
    client: Client, redis: aioredis.Redis
) -> None:
    data = payload("pull_request.opened")
    first = await _post(client, "pull_request", data, delivery_id="delivery-1")
    await redis.delete(job_key_prefix + JOB_ID)  # even once the job itself is gone
    again = await _post(client, "pull_request", data, delivery_id="delivery-1")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["duplicate"] == "delivery"
    assert await redis.exists(job_key_prefix + JOB_ID) == 0
    assert 0 < await redis.ttl(keys.delivery("delivery-1")) >= 72 * 3600


async def test_duplicate_event_for_an_existing_job_is_answered_2xx_and_queues_nothing(
    client: Client, redis: aioredis.Redis
) -> None:
    opened = await _post(client, "pull_request", payload("pull_request.opened"))
    synced = await _post(client, "pull_request", payload("pull_request.synchronize"))
    assert opened.status_code == 202
    assert synced.status_code == 200
    assert synced.json() == {"job_id": JOB_ID, "duplicate": "job"}
    assert await redis.zcard(keys.QUEUE) == 1


async def test_missing_signature_is_401(client: Client, redis: aioredis.Redis) -> None:
    body, headers = delivery("pull_request", payload("pull_request.opened"))
    del headers["X-Hub-Signature-256"]
    response = await client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401
    assert await redis.zcard(keys.QUEUE) == 0


async def test_unsigned_delivery_is_refused_before_its_body_is_read(
    client: Client, redis: aioredis.Redis
) -> None:
    """Regression: an unsigned body of up to 25 MiB was read (and a larger one answered 413)
    before the missing signature was noticed; now the headers alone decide a 401."""
    body = b'{"zen": "' + b"x" * (26 * 1024 * 1024) + b'"}'
    for header in (None, "sha256=short", "garbage"):
        _, headers = delivery("ping", b"{}")
        del headers["X-Hub-Signature-256"]
        if header is not None:
            headers["X-Hub-Signature-256"] = header
        response = await client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 401, (header, response.status_code)
    assert await redis.zcard(keys.QUEUE) == 0


async def test_non_ascii_signature_header_is_401(client: Client) -> None:
    """Regression: a non-ASCII X-Hub-Signature-256 made hmac.compare_digest raise (a 500)."""
    body, headers = delivery("pull_request", payload("pull_request.opened"))
    del headers["X-Hub-Signature-256"]
    sent = [(k.encode(), v.encode()) for k, v in headers.items()]
    sent.append((b"X-Hub-Signature-256", ("sha256=" + "é" * 32).encode()))
    response = await client.post("/webhooks/github", content=body, headers=sent)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"action": "opened", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"zen": "hi", "hook": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    ],
)
@pytest.mark.parametrize("event", ["pull_request", "issue_comment", "installation", "ping"])
async def test_deeply_nested_json_with_a_valid_signature_is_400(
    client: Client, event: str, body: bytes
) -> None:
    """Regression: msgspec raised RecursionError skipping a deeply nested unknown field (a 500)."""
    response = await _post(client, event, body)
    assert response.status_code == 400, response.text


async def test_signature_with_another_secret_is_401(client: Client, redis: aioredis.Redis) -> None:
    response = await _post(client, "pull_request", payload("pull_request.opened"), secret="nope")
    assert response.status_code == 401
    assert await redis.zcard(keys.QUEUE) == 0


@pytest.mark.parametrize("body", [b"{not json", b'{"action": "opened"}', b"[]"])
async def test_malformed_body_with_a_valid_signature_is_400(client: Client, body: bytes) -> None:
    response = await _post(client, "pull_request", body)
    assert response.status_code == 400


async def test_missing_event_header_is_400(client: Client) -> None:
    body, headers = delivery("pull_request", payload("pull_request.opened"))
    del headers["X-GitHub-Event"]
    response = await client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400


async def test_body_over_25_mib_is_413(client: Client) -> None:
    body = b'{"zen": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    response = await _post(client, "ping", body)
    assert response.status_code == 413


async def test_body_just_under_the_limit_is_accepted(client: Client) -> None:
    filler = "x" * (25 * 1024 * 1024 - 200)
    response = await _post(client, "ping", {"zen": filler})
    assert response.status_code == 200


async def test_event_we_do_not_act_on_is_200_ignored(client: Client) -> None:
    response = await _post(client, "pull_request", payload("pull_request.closed"))
    assert response.status_code == 200
    assert response.json() == {"ignored": "pull_request.closed is not reviewed"}
    other = await _post(client, "push", {"ref": "refs/heads/main"})
    assert other.json() == {"ignored": "push events are not handled"}


async def test_ping_is_200(client: Client) -> None:
    response = await _post(client, "ping", payload("ping"))
    assert response.status_code == 200
    assert "pong" in response.json()


async def test_installation_is_recorded_in_redis(client: Client, redis: aioredis.Redis) -> None:
    response = await _post(client, "installation", payload("installation.created"))
    assert response.status_code == 200
    record = await redis.hgetall(keys.installation(957387))  # type: ignore[misc]
    assert record[b"account"] == b"Codertocat"


async def test_command_from_a_member_is_queued(client: Client, redis: aioredis.Redis) -> None:
    data = pr_comment("/review", "MEMBER")
    response = await _post(client, "issue_comment", data)
    assert response.status_code == 202
    assert response.json()["job_id"] == f"command:186853002:1:{data['comment']['id']}"


async def test_health_ready_and_metrics(client: Client) -> None:
    await _post(client, "pull_request", payload("pull_request.opened"))
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    metrics = (await client.get("/metrics")).text
    assert 'kimi_review_webhook_deliveries_total{event="pull_request",outcome="queued"} 1.0' in (
        metrics
    )
    assert "kimi_review_webhook_enqueue_seconds_bucket" in metrics


async def test_redis_down_is_503_and_intake_recovers_without_a_restart(
    private_redis: RedisServer,
) -> None:
    app = create_app(load_settings(product_env(private_redis.url)))
    client = redis_client(private_redis.url)
    try:
        async with AsyncTestClient(app=app) as test_client:
            data = payload("pull_request.opened")
            private_redis.stop()
            down = await _post(test_client, "pull_request", data, delivery_id="while-down")
            assert down.status_code == 503
            assert (await test_client.get("/readyz")).status_code == 503
            private_redis.start()
            up = await _post(test_client, "pull_request", data, delivery_id="while-down")
            assert up.status_code == 202
            assert await client.zcard(keys.QUEUE) == 1
    finally:
        await client.aclose()
