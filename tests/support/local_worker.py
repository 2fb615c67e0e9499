"""A worker's services and runner in the test's own event loop, against the fakes.

For tests that must reach inside one attempt (stall it at a chosen point,
count what it wrote) without paying for `serve` and `worker` processes: the
same `WorkerServices` and `ReviewRunner` a worker builds, on the fake GitHub
PR #7 of `review_world` and a fake Kimi that reviews what it is sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.github_helpers import AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY, product_env
from tests.support.review_world import build_pull, reviewing_responder
from worker.config import load_settings
from worker.contract import ReviewRequest
from worker.keys import command_job_id, review_job_id
from worker.review_tasks import ReviewTask
from worker.services import WorkerServices

PR = 7


@dataclass
class LocalWorld:
    fake: FakeGitHub
    repo: FakeRepo
    kimi: FakeKimi
    redis_url: str
    app_keys: AppKeys

    def services(self, **env: str) -> WorkerServices:
        settings = load_settings(
            product_env(
                self.redis_url,
                GITHUB_API_URL=self.fake.url,
                GITHUB_APP_ID=str(self.fake.app_id),
                GITHUB_APP_PRIVATE_KEY=self.app_keys.private_pem.reveal(),
                GITHUB_APP_SLUG=self.fake.app_slug,
                API_OPENAI_FORCE_BASE_URL=self.kimi.base_url,
                **env,
            )
        )
        return WorkerServices.open(settings)

    def reviews(self) -> list[dict[str, Any]]:
        return [r for r in self.fake.written.reviews.get(PR, []) if r.get("state") != "PENDING"]

    def pr_task(self, action: str = "opened", **changes: Any) -> ReviewTask:
        pull = self.repo.pulls[PR]
        request = ReviewRequest(
            delivery_id=f"d-{action}",
            trigger="pull_request",
            action=action,
            repo_id=self.repo.id,
            repo_full_name=self.repo.full_name,
            pr_number=PR,
            installation_id=self.repo.installation_id,
            head_sha=pull.head_sha,
            sender="octocat",
            draft=pull.draft,
        )
        task_id = review_job_id(self.repo.id, PR, pull.head_sha)
        return ReviewTask(task_id=task_id, request=request, first_seen=time.time(), **changes)

    def command_task(self, command: str, comment_id: int, **changes: Any) -> ReviewTask:
        request = ReviewRequest(
            delivery_id=f"d-{comment_id}",
            trigger="command",
            action=command,
            repo_id=self.repo.id,
            repo_full_name=self.repo.full_name,
            pr_number=PR,
            installation_id=self.repo.installation_id,
            comment_id=comment_id,
            command=command,  # type: ignore[arg-type]
            sender="octocat",
        )
        task_id = command_job_id(self.repo.id, PR, comment_id)
        return ReviewTask(task_id=task_id, request=request, first_seen=time.time(), **changes)


@pytest.fixture
async def local_world(
    redis_url: str, redis: Any, fake_github: FakeGitHub, github_app_keys: AppKeys
) -> AsyncIterator[LocalWorld]:
    """PR #7 on the fake GitHub, a reviewing fake Kimi, an emptied Redis database."""
    repo = build_pull(fake_github)
    fake_github.permissions["octocat"] = "write"
    kimi = FakeKimi(api_key=MODEL_KEY, responder=reviewing_responder).start()
    try:
        yield LocalWorld(fake_github, repo, kimi, redis_url, github_app_keys)
    finally:
        kimi.stop()
