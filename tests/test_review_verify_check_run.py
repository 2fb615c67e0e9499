"""The App's path: what the verifying pass drops is not posted inline; the check run lists it.

The worker's `ReviewFlow` runs in-process against the fake GitHub and a fake
Kimi that finds one problem per file and whose verifier refutes the first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.fakes.github_helpers import AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_replies import Reply, is_verify_request, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY
from tests.support.flow_world import in_process_flow
from tests.support.review_world import build_pull, reviewing_responder
from worker.review.flow import ReviewFlow
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
    async with in_process_flow(fake, kimi, keys, API_LLM_VERIFY="on") as flow:
        yield flow


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
