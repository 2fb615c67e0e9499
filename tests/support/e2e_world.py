"""End-to-end harness: the product's processes against the fake GitHub and a fake Kimi.

`world` gives a test octo/widgets PR #7 on the fake GitHub, a fake Kimi that
reviews what it is sent, and the environment for `kimi-review serve` and
`worker` processes pointed at both (a 4-second review lease, so resumes are
quick). The test starts the processes it needs; the fixture stops them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis as syncredis

from tests.fakes.github_helpers import AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY, product_env
from tests.support.processes import ProductProcess, start_serve, start_worker
from tests.support.review_world import build_pull, reviewing_responder
from worker import keys

PR = 7
REVIEWS = "/repos/{owner}/{repo}/pulls/{number}/reviews"


class World:
    def __init__(
        self, fake: FakeGitHub, repo: FakeRepo, kimi: FakeKimi, env: dict[str, str], redis_url: str
    ) -> None:
        self.fake = fake
        self.repo = repo
        self.kimi = kimi
        self.env = env
        self.redis = syncredis.Redis.from_url(redis_url)
        self.processes: list[ProductProcess] = []
        self.base = ""

    def serve(self, **env: str) -> str:
        proc, self.base = start_serve({**self.env, **env})
        self.processes.append(proc)
        return self.base

    def worker(self, **env: str) -> ProductProcess:
        proc = start_worker({**self.env, **env})
        self.processes.append(proc)
        return proc

    def reviews(self) -> list[dict[str, Any]]:
        return [r for r in self.fake.written.reviews.get(PR, []) if r.get("state") != "PENDING"]

    def wait(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for proc in self.processes:
                if proc.process.poll() is not None and proc.process.returncode not in (0, -9, -15):
                    raise AssertionError(f"process died:\n{proc.output()}")
            if time.monotonic() > deadline:
                logs = "\n".join(p.output()[-4000:] for p in self.processes)
                raise AssertionError(f"condition not met in {timeout}s\n{logs}")
            time.sleep(0.1)

    def settled(self) -> bool:
        return self.redis.hlen(keys.REVIEW_TASKS) == 0 and self.redis.zcard(keys.QUEUE) == 0

    def summaries(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.fake.written.issue_comments.values()
            if c["body"].startswith("<!-- kimi-review:summary -->")
        ]

    def use_pull(
        self,
        *,
        base: dict[str, bytes | str | None] | None = None,
        changes: dict[str, bytes | str | None] | None = None,
    ) -> FakeRepo:
        """Replace PR #7 with one made of other files."""
        self.repo = build_pull(self.fake, base=base, changes=changes)
        return self.repo

    def comments(self) -> list[dict[str, Any]]:
        return list(self.fake.written.review_comments.get(PR, []))


@pytest.fixture
def world(redis_url: str, fake_github: FakeGitHub, github_app_keys: AppKeys) -> Iterator[World]:
    client = syncredis.Redis.from_url(redis_url)
    client.flushdb()
    repo = build_pull(fake_github)
    fake_github.permissions["octocat"] = "write"
    kimi = FakeKimi(api_key=MODEL_KEY, responder=reviewing_responder).start()
    env = product_env(
        redis_url,
        GITHUB_API_URL=fake_github.url,
        GITHUB_APP_ID=str(fake_github.app_id),
        GITHUB_APP_PRIVATE_KEY=github_app_keys.private_pem.reveal(),
        GITHUB_APP_SLUG=fake_github.app_slug,
        API_OPENAI_FORCE_BASE_URL=kimi.base_url,
        WORKER_REVIEW_LEASE="4",
    )
    w = World(fake_github, repo, kimi, env, redis_url)
    try:
        yield w
    finally:
        for proc in w.processes:
            proc.stop()
        kimi.stop()
