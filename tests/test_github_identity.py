"""The bot knows its own login: GITHUB_APP_SLUG, else learned from `GET /app`, never "any bot".

With the slug unset, every Bot author was taken for this bot: another bot
(a workflow of the PR posting as `github-actions[bot]`) could forge the
review marker, so the head was never reviewed, or the summary marker, so the
bot tried to edit someone else's comment. Tested through the worker's own
services against the fake GitHub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.github_helpers import TEST_APP_ID, AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo, next_id
from tests.support.env import product_env
from tests.support.review_world import build_pull
from worker.config import load_settings
from worker.github.auth import RepoRef
from worker.github.errors import GitHubError
from worker.review.fingerprint import SUMMARY_MARKER, review_marker
from worker.services import WorkerServices

PR = 7
OTHER_BOT = {"login": "github-actions[bot]", "type": "Bot"}


@pytest.fixture
async def services(
    fake_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> AsyncIterator[WorkerServices]:
    settings = load_settings(
        product_env(
            redis_url,
            GITHUB_API_URL=fake_github.url,
            GITHUB_APP_ID=str(TEST_APP_ID),
            GITHUB_APP_PRIVATE_KEY=github_app_keys.private_pem.reveal(),
        )
    )
    assert settings.github.app_slug is None  # the default
    found = WorkerServices.open(settings)
    try:
        yield found
    finally:
        await found.close()


def _forge(fake: FakeGitHub, repo: FakeRepo) -> int:
    """Another bot's review carrying our review marker, and a comment with our summary marker."""
    head = repo.pulls[PR].head_sha
    forged = {"id": next_id(), "user": OTHER_BOT, "state": "COMMENTED", "commit_id": head}
    fake.written.reviews[PR].append({**forged, "body": f"{review_marker(head)}\nforged"})
    comment_id = next_id()
    fake.written.issue_comments[comment_id] = {
        "id": comment_id,
        "issue_number": PR,
        "body": f"{SUMMARY_MARKER}\nforged",
        "user": OTHER_BOT,
    }
    return comment_id


async def test_another_bots_markers_are_not_taken_for_the_bots_own(
    fake_github: FakeGitHub, services: WorkerServices
) -> None:
    repo = build_pull(fake_github)
    forged_comment = _forge(fake_github, repo)
    assert await services.identity.learn() == "kimi-review[bot]"
    poster = services.poster(RepoRef("octo", "widgets"))
    assert await poster.find_review(PR, repo.pulls[PR].head_sha) is None
    summary_id = await poster.upsert_summary(PR, f"{SUMMARY_MARKER}\nours")
    assert summary_id != forged_comment
    assert fake_github.written.issue_comments[forged_comment]["body"].endswith("forged")
    assert len(fake_github.calls_to("GET", "/app")) == 1  # learned once, then kept


async def test_github_down_at_start_up_is_retried_before_the_first_post_not_guessed(
    fake_github: FakeGitHub, services: WorkerServices
) -> None:
    repo = build_pull(fake_github)
    _forge(fake_github, repo)
    fake_github.fail_next("GET", "/app", 503, times=2)
    assert await services.identity.learn() is None  # the worker starts anyway
    poster = services.poster(RepoRef("octo", "widgets"))
    with pytest.raises(GitHubError):  # still down: this review waits, nothing is guessed
        await poster.find_review(PR, repo.pulls[PR].head_sha)
    assert await poster.find_review(PR, repo.pulls[PR].head_sha) is None  # GitHub is back
    assert services.identity.known == "kimi-review[bot]"


async def test_a_set_slug_is_used_without_asking_github(
    fake_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    settings = load_settings(
        product_env(
            redis_url,
            GITHUB_API_URL=fake_github.url,
            GITHUB_APP_ID=str(TEST_APP_ID),
            GITHUB_APP_PRIVATE_KEY=github_app_keys.private_pem.reveal(),
            GITHUB_APP_SLUG="my-reviewer",
        )
    )
    services = WorkerServices.open(settings)
    try:
        assert await services.identity.learn() == "my-reviewer[bot]"
        assert fake_github.calls_to("GET", "/app") == []
    finally:
        await services.close()
