"""Spend limits by default: a large PR from outside waits for a maintainer; a review has a ceiling.

The flow runs in-process against the fake GitHub and a fake Kimi, as a
worker runs it for a `pull_request` event (nobody asked) and for a
maintainer's `/review` (asked).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from tests.fakes.github_helpers import AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY
from tests.support.flow_world import in_process_flow
from tests.support.review_world import build_pull, many_files, reviewing_responder
from worker.review.flow import ReviewFlow
from worker.review.outcome import ReviewTarget
from worker.review.spend import waits_for_maintainer

PR = 7


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MODEL_KEY, responder=reviewing_responder) as server:
        yield server


@asynccontextmanager
async def _flow(
    fake: FakeGitHub, kimi: FakeKimi, keys: AppKeys, **env: str
) -> AsyncIterator[ReviewFlow]:
    """The review flow a worker builds, with the App's credentials and no Redis."""
    async with in_process_flow(fake, kimi, keys, API_LLM_VERIFY="off", **env) as flow:
        yield flow


def _outside_pr(fake: FakeGitHub, files: int = 20) -> None:
    """20 new files of 120 lines: 2,400 changed lines, over the default 2,000."""
    repo = build_pull(fake, changes=many_files(files))
    repo.pulls[PR].author_association = "CONTRIBUTOR"


async def test_a_large_pr_from_outside_waits_until_a_maintainer_asks(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    """Every outside contributor's PR was reviewed on the operator's key, however large."""
    _outside_pr(fake_github)
    async with _flow(fake_github, kimi, github_app_keys) as flow:
        waited = await flow.run(ReviewTarget(PR, None))
        assert waited.status == "skipped"
        assert kimi.requests == []
        assert not fake_github.written.reviews.get(PR)
        (check,) = fake_github.written.check_runs.values()
        assert (check["status"], check["conclusion"]) == ("completed", "neutral")
        assert check["output"]["title"] == "Waiting for a maintainer's /review"
        summary = check["output"]["summary"]
        assert "2,400 changed lines" in summary
        assert "limit of 2,000" in summary
        assert "commenting `/review`" in summary

        asked = await flow.run(ReviewTarget(PR, None, asked=True))  # a maintainer's `/review`
        assert asked.status == "posted"
        assert kimi.requests
        assert len(fake_github.written.reviews[PR]) == 1


async def test_a_large_pr_from_a_member_is_reviewed_without_asking(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    _outside_pr(fake_github)
    fake_github.repos["octo/widgets"].pulls[PR].author_association = "MEMBER"
    async with _flow(fake_github, kimi, github_app_keys) as flow:
        assert (await flow.run(ReviewTarget(PR, None))).status == "posted"


async def test_no_limit_when_the_operator_sets_zero(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    _outside_pr(fake_github)
    async with _flow(fake_github, kimi, github_app_keys, REVIEW_UNTRUSTED_MAX_LINES="0") as flow:
        assert (await flow.run(ReviewTarget(PR, None))).status == "posted"


async def test_the_repository_file_lowers_the_limit(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    repo = build_pull(fake_github, base={".kimi-review.toml": "untrusted_max_lines = 3\n"})
    repo.pulls[PR].author_association = "NONE"
    async with _flow(fake_github, kimi, github_app_keys) as flow:
        assert (await flow.run(ReviewTarget(PR, None))).status == "skipped"
    assert kimi.requests == []


def test_only_owners_members_and_collaborators_skip_the_wait() -> None:
    for association in ("CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE", ""):
        assert waits_for_maintainer(association, 2001, 2000, asked=False)
    for association in ("OWNER", "MEMBER", "COLLABORATOR"):
        assert not waits_for_maintainer(association, 10**6, 2000, asked=False)
    assert not waits_for_maintainer("NONE", 2000, 2000, asked=False)  # at the limit: reviewed
    assert not waits_for_maintainer("NONE", 10**6, 2000, asked=True)
    assert not waits_for_maintainer("NONE", 10**6, 0, asked=False)
