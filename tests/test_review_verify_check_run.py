"""The App's path: what the verifying pass drops is not posted inline; the check run lists it.

The worker's `ReviewFlow` runs in-process against the fake GitHub and a fake
Kimi that finds one problem per file and whose verifier refutes the first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.cli.review_pr import OneShotHooks
from tests.fakes.github_helpers import TEST_APP_ID, AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_replies import Reply, is_verify_request, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY, product_env
from tests.support.review_world import build_pull, reviewing_responder
from worker.config import load_settings
from worker.gate.redis import open_gate
from worker.github.auth import RepoRef, token_source
from worker.github.client import GitHubReader
from worker.github.pacing import WritePacer
from worker.github.rest import GitHubRest
from worker.llm.breaker import LocalBreaker
from worker.llm.transport import open_http_client
from worker.publish.poster import ReviewPoster
from worker.review.chunk_review import build_chunk_reviewer
from worker.review.flow import ReviewFlow
from worker.review.machinery import github_http_client
from worker.review.outcome import ReviewTarget

PR = 7
REFUTE_FIRST = {"verdicts": [{"id": 1, "verdict": "drop", "reason": "already checked above"}]}


def refuting_responder(body: Any) -> Reply:
    if is_verify_request(body):
        return kimi_ok(json.dumps(REFUTE_FIRST))
    return reviewing_responder(body)


@asynccontextmanager
async def verifying_flow(
    fake: FakeGitHub, kimi: FakeKimi, keys: AppKeys
) -> AsyncIterator[ReviewFlow]:
    settings = load_settings(
        product_env(
            "redis://127.0.0.1:9/0",
            GITHUB_API_URL=fake.url,
            GITHUB_APP_ID=str(TEST_APP_ID),
            GITHUB_APP_PRIVATE_KEY=keys.private_pem.reveal(),
            API_OPENAI_FORCE_BASE_URL=kimi.base_url,
            API_LLM_VERIFY="on",
        )
    )
    assert settings.llm.main is not None
    repo = RepoRef("octo", "widgets")
    async with open_http_client(settings.llm) as model_http, github_http_client() as http:
        tokens = token_source(settings.github, http)
        reader = GitHubReader(repo, tokens, api_url=fake.url)
        rest = GitHubRest(repo, tokens, http, api_url=fake.url, pacer=WritePacer())
        reviewer = build_chunk_reviewer(
            settings.llm,
            http=model_http,
            breaker=LocalBreaker(),
            main_gate=open_gate(settings.llm.main, None),
            fallback_gate=None,
        )
        try:
            yield ReviewFlow(
                settings, reader, ReviewPoster(rest), reviewer, OneShotHooks(), repo.full_name
            )
        finally:
            await reader.close()


async def test_a_refuted_finding_is_listed_by_the_check_run_and_never_posted_inline(
    fake_github: FakeGitHub, github_app_keys: AppKeys
) -> None:
    build_pull(fake_github)
    with FakeKimi(api_key=MODEL_KEY, responder=refuting_responder) as kimi:
        async with verifying_flow(fake_github, kimi, github_app_keys) as flow:
            outcome = await flow.run(ReviewTarget(PR, None))
        assert [is_verify_request(r.body) for r in kimi.requests] == [False, True]
    assert outcome.status == "posted"
    assert len(fake_github.written.reviews[PR]) == 1
    posted = json.dumps(fake_github.written.review_comments[PR])
    assert "Check this line: app/handlers.py" not in posted
    assert "Check this line: app/models.py" in posted
    (check,) = fake_github.written.check_runs.values()
    assert "1 finding(s) dropped by verification" in check["output"]["summary"]
    text = check["output"]["text"]
    assert "Dropped by verification" in text
    assert "Check this line: app/handlers.py: already checked above" in text
