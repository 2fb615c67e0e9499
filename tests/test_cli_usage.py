"""`kimi-review usage`: the window's consumption after recorded reviews."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime

import redis.asyncio as aioredis

from tests.support.env import product_env
from tests.support.processes import KIMI_REVIEW
from tests.support.redis_server import free_port
from worker.config import load_settings
from worker.quota import RedisQuota
from worker.usage import finish_review


def _usage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KIMI_REVIEW), "usage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_usage_reports_the_budget_share_and_the_last_reviews(
    redis: aioredis.Redis, redis_url: str
) -> None:
    today = datetime.now(UTC).date().isoformat()
    env = product_env(redis_url, API_LLM_QUOTA_TOKENS="10000", API_LLM_QUOTA_ANCHOR=today)
    settings = load_settings(env)
    assert settings.llm.main is not None
    key_id = settings.llm.main.key_id
    quota = RedisQuota(redis, key_id, settings.quota)
    for n in range(3):
        review = f"review:1:{n}:abc"
        await quota.record(review, prompt=1500, completion=500, cached=1000, model="kimi-k2.6")
        await finish_review(
            redis,
            review,
            pr=f"octo/widgets#{n}",
            main_key_id=key_id,
            fallback_key_id=None,
            started_at=time.time() - 30,
        )
    done = _usage(env, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["budget"] == 10000
    assert report["used"]["prompt"] == 4500
    assert report["percent_of_budget"] == 60.0
    assert [r["pr"] for r in report["reviews"]] == [f"octo/widgets#{n}" for n in (2, 1, 0)]
    text = _usage(env)
    assert "6,000 of 10,000 tokens (60.0%)" in text.stdout


def test_usage_without_redis_says_where_it_looked() -> None:
    url = f"redis://:secretpw@127.0.0.1:{free_port()}/0"
    done = _usage(product_env(url))
    assert done.returncode == 3
    assert "did not answer" in done.stderr
    assert "secretpw" not in done.stderr


async def test_usage_without_a_model_key_lists_every_ledger_by_key_id(
    redis: aioredis.Redis, redis_url: str
) -> None:
    """Before: `usage` refused to run without API_OPEN_AI_API_KEY, though it never calls a model."""
    env = product_env(redis_url)
    settings = load_settings(env)
    for key_id in ("aaaa000011112222", "bbbb000011112222"):
        quota = RedisQuota(redis, key_id, settings.quota)
        await quota.record("review:1:1:abc", prompt=100, completion=10, cached=0, model="m")
    del env["API_OPEN_AI_API_KEY"]
    done = _usage(env, "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [(r["key_id"], r["used"]["prompt"]) for r in listed] == [
        ("aaaa000011112222", 100),
        ("bbbb000011112222", 100),
    ]
    text = _usage(env).stdout
    assert "Key aaaa000011112222:" in text
    assert "Key bbbb000011112222:" in text
    one = json.loads(_usage(env, "--json", "--key-id", "bbbb000011112222").stdout)
    assert one["used"]["prompt"] == 100
