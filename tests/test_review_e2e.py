"""The review job end to end: `kimi-review serve` and `worker` as processes, fake GitHub and Kimi.

A signed webhook goes in; what comes out is read off the fake GitHub: one
review with comments on lines GitHub accepts, the sticky summary, the check
run. Timeouts are short (a 4-second review lease) so the suite stays fast.
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
from tests.support.review_world import build_pull, pr_event, reviewing_responder, send
from worker import keys

PR = 7


class World:
    def __init__(self, fake: FakeGitHub, repo: FakeRepo, kimi: FakeKimi, env: dict[str, str], redis_url: str) -> None:
        self.fake = fake
        self.repo = repo
        self.kimi = kimi
        self.env = env
        self.redis = syncredis.Redis.from_url(redis_url)
        self.processes: list[ProductProcess] = []
        self.base = ""

    def serve(self) -> str:
        proc, self.base = start_serve(self.env)
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


@pytest.fixture
def world(redis_url: str, fake_github: FakeGitHub, github_app_keys: AppKeys) -> Iterator[World]:
    client = syncredis.Redis.from_url(redis_url)
    client.flushdb()
    repo = build_pull(fake_github)
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


def test_one_webhook_gives_one_review_with_comments_on_valid_lines(world: World) -> None:
    base = world.serve()
    world.worker()
    pull = world.repo.pulls[PR]
    assert send(base, "pull_request", pr_event(world.repo, pull)).status_code == 202
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    review = world.reviews()[0]
    assert review["commit_id"] == pull.head_sha
    assert review["state"] == "COMMENTED"
    comments = world.fake.written.review_comments[PR]
    assert {c["path"] for c in comments} == {"app/handlers.py", "app/models.py"}
    summaries = list(world.fake.written.issue_comments.values())
    assert len(summaries) == 1
    assert summaries[0]["body"].startswith("<!-- kimi-review:summary -->")
    (check,) = world.fake.written.check_runs.values()
    assert check["status"] == "completed"
    assert check["head_sha"] == pull.head_sha
