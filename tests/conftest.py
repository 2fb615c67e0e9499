"""Shared fixtures: a real Redis for every test that needs one.

The machine's Redis on 127.0.0.1:6379 is used when it answers, on a database
number of our own (KIMI_REVIEW_TEST_REDIS_DB, default 13), emptied with
FLUSHDB before each test: never FLUSHALL, never stopped. A machine with no
Redis gets a redis-server started for the session.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from tests.support.redis_server import RedisServer, answers_ping

# Fixtures of the fake servers: GitHub REST (fake_github, github_app_keys, github_http)
# the model providers (kimi, claude, http), and the end-to-end `world`.
pytest_plugins = [
    "tests.fakes.github_fixtures",
    "tests.fakes.model_fixtures",
    "tests.support.e2e_world",
    "tests.support.local_worker",
]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    db = int(os.environ.get("KIMI_REVIEW_TEST_REDIS_DB", "13"))
    if answers_ping("127.0.0.1", 6379):
        yield f"redis://127.0.0.1:6379/{db}"
        return
    server = RedisServer().start()
    try:
        yield f"redis://127.0.0.1:{server.port}/{db}"
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which the test may stop and restart."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
