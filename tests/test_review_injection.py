"""A prompt-injected answer posts no ping and no foreign link, through the real posting path.

The model's answer is steered by the PR it reads. Here it writes mentions
GitHub would link (`docs/@octocat`, `@@octocat`), a markdown link, a bare URL
and an image to a foreign host, in a finding's title and body, a finding
that lands in the summary, and the chunk summary. The one-shot review runs
in-process against the fake GitHub and a fake Kimi; everything the bot
wrote there (review, inline comments, summary comment, check run) is then
read the way GitHub would render it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from app.oneshot_pr import parse_pull_url, review_pull
from tests.fakes.github_helpers import TEST_APP_ID, AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_replies import Reply, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY, product_env
from tests.support.github_render import rendered_problems
from tests.support.review_world import build_pull, chunk_of, review_answer
from worker.config import load_settings

INJECTED = (
    "Ping docs/@octocat and @@octocat. [Sign in to fix](https://phish.example/login) "
    "or https://phish.example/x ![p](https://phish.example/p.png)"
)


def _injected_responder(body: Any) -> Reply:
    answer = review_answer(chunk_of(body), title=f"Fix {INJECTED}")
    for finding in answer["findings"]:
        finding["body"] = INJECTED
    if answer["findings"]:  # one more, on a line outside the diff: listed in the summary
        answer["findings"].append({**answer["findings"][0], "line": 9_999})
    answer["summary"] = INJECTED
    return kimi_ok(json.dumps(answer))


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MODEL_KEY, responder=_injected_responder) as server:
        yield server


def _posted_texts(fake: FakeGitHub) -> dict[str, str]:
    written = fake.written
    texts: dict[str, str] = {}
    for reviews in written.reviews.values():
        texts |= {f"review {r['id']}": str(r.get("body") or "") for r in reviews}
    for comments in written.review_comments.values():
        texts |= {f"inline {c['id']}": c["body"] for c in comments}
    texts |= {f"comment {i}": c["body"] for i, c in written.issue_comments.items()}
    for run_id, run in written.check_runs.items():
        output = run.get("output") or {}
        for part in ("title", "summary", "text"):
            texts[f"check run {run_id} {part}"] = str(output.get(part) or "")
    return texts


async def test_an_injected_answer_posts_no_ping_and_no_foreign_link_anywhere(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    build_pull(fake_github)
    env = product_env(
        "redis://127.0.0.1:9/0",
        GITHUB_API_URL=fake_github.url,
        GITHUB_APP_ID=str(TEST_APP_ID),
        GITHUB_APP_PRIVATE_KEY=github_app_keys.private_pem.reveal(),
        API_OPENAI_FORCE_BASE_URL=kimi.base_url,
        API_LLM_VERIFY="off",
    )
    pull = parse_pull_url(f"{fake_github.url}/octo/widgets/pull/7")
    out, err = io.StringIO(), io.StringIO()
    code = await review_pull(
        load_settings(env), pull, dry_run=False, as_json=True, out=out, err=err
    )
    assert code == 0, err.getvalue()
    texts = _posted_texts(fake_github)
    assert any(k.startswith("inline") for k in texts)
    summary = next(t for k, t in texts.items() if k.startswith("comment"))
    assert "Not posted inline" in summary
    assert "phish.example" in summary
    problems = {where: rendered_problems(text, host="127.0.0.1") for where, text in texts.items()}
    assert {where: found for where, found in problems.items() if found} == {}
