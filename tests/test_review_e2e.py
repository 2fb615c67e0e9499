"""The review job end to end: `kimi-review serve` and `worker` as processes, fake GitHub and Kimi.

A signed webhook goes in; what comes out is read off the fake GitHub: one
review with comments on lines GitHub accepts, the sticky summary, the check
run. Duplicates of every kind still give one review; a push gives a second
review that repeats nothing; quota errors on the main model give the
fallback's review. (Crashes and GitHub refusals: test_review_e2e_failures.py.)
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.model_replies import Reply, kimi_quota_exceeded
from tests.fakes.model_servers import FakeAnthropic
from tests.fakes.model_stack import FALLBACK_KEY
from tests.support.e2e_world import PR, World
from tests.support.review_world import (
    chunk_of,
    claude_reviewing_responder,
    pr_event,
    push,
    send,
)

pytestmark = pytest.mark.e2e


def test_one_webhook_gives_one_review_with_comments_on_valid_lines(world: World) -> None:
    base = world.serve()
    world.worker()
    pull = world.repo.pulls[PR]
    assert send(base, "pull_request", pr_event(world.repo, pull)).status_code == 202
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    (review,) = world.reviews()
    assert review["commit_id"] == pull.head_sha
    assert review["state"] == "COMMENTED"
    assert review["body"].startswith(f"<!-- kimi-review:review sha={pull.head_sha}")
    assert {(c["path"], c["line"]) for c in world.comments()} == {
        ("app/handlers.py", 11),
        ("app/models.py", 18),
    }
    (summary,) = world.summaries()
    assert "Changes the request handling." in summary["body"]
    assert "Tokens:" in summary["body"]
    (check,) = world.fake.written.check_runs.values()
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert check["head_sha"] == pull.head_sha
    assert check["output"]["title"] == "2 findings: 2 medium"


def test_redelivery_duplicates_and_a_burst_for_one_head_give_one_review(world: World) -> None:
    base = world.serve()
    world.worker()
    world.worker()  # two workers race for the same PR
    pull = world.repo.pulls[PR]
    opened = pr_event(world.repo, pull)
    assert send(base, "pull_request", opened, delivery_id="d-1").status_code == 202
    # A redelivery and a duplicate event are answered 2xx and queue nothing new.
    assert send(base, "pull_request", opened, delivery_id="d-1").status_code == 200
    assert send(base, "pull_request", opened, delivery_id="d-2").status_code in (200, 202)
    for n in range(3):
        burst = pr_event(world.repo, pull, action="synchronize")
        assert send(base, "pull_request", burst, delivery_id=f"s-{n}").status_code in (200, 202)
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    assert len(world.reviews()) == 1
    assert len(world.kimi.requests) == 1  # one chunk, paid once
    assert len(world.summaries()) == 1
    assert len(world.fake.written.check_runs) == 1


def _review_comment_keys(world: World) -> list[tuple[Any, ...]]:
    return [(c["path"], c["line"], c["body"]) for c in world.comments()]


def test_a_push_gets_a_second_review_of_only_the_new_commits(world: World) -> None:
    base = world.serve()
    world.worker()
    repo = world.repo
    send(base, "pull_request", pr_event(repo, repo.pulls[PR]))
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    push(repo, PR, version=2)
    send(base, "pull_request", pr_event(repo, repo.pulls[PR], action="synchronize"))
    world.wait(lambda: len(world.reviews()) == 2 and world.settled())
    second_chunk = chunk_of(world.kimi.requests[-1].body)
    assert "FILE app/views.py" in second_chunk
    assert "FILE app/handlers.py" not in second_chunk  # unchanged since the last review
    second = world.reviews()[1]
    assert second["commit_id"] == repo.pulls[PR].head_sha
    new = [c for c in world.comments() if c["pull_request_review_id"] == second["id"]]
    assert [c["path"] for c in new] == ["app/views.py"]
    (summary,) = world.summaries()  # edited in place
    assert "changes since the last review" in summary["body"]


def test_a_full_review_after_a_push_repeats_no_earlier_comment(world: World) -> None:
    world.use_pull(base={".kimi-review.toml": "incremental = false\n"})
    base = world.serve()
    world.worker()
    repo = world.repo
    send(base, "pull_request", pr_event(repo, repo.pulls[PR]))
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    push(repo, PR, version=2)
    send(base, "pull_request", pr_event(repo, repo.pulls[PR], action="synchronize"))
    world.wait(lambda: len(world.reviews()) == 2 and world.settled())
    assert "FILE app/handlers.py" in chunk_of(world.kimi.requests[-1].body)  # a full review
    keys = _review_comment_keys(world)
    assert len(keys) == len(set(keys)) == 3  # handlers, models, then only views
    (summary,) = world.summaries()
    assert "2 findings already raised by an earlier review" in summary["body"]


def test_quota_errors_on_the_main_model_give_the_fallbacks_review(world: World) -> None:
    quota: Reply = kimi_quota_exceeded()
    world.kimi.responder = lambda body: quota
    with FakeAnthropic(api_key=FALLBACK_KEY, responder=claude_reviewing_responder) as claude:
        base = world.serve()
        world.worker(
            API_LLM_FALLBACK_PROVIDER="anthropic",
            API_LLM_FALLBACK_MODEL="claude-sonnet-4-5",
            API_LLM_FALLBACK_BASE_URL=claude.base_url,
            API_LLM_FALLBACK_API_KEY=FALLBACK_KEY,
        )
        send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
        world.wait(lambda: len(world.reviews()) == 1 and world.settled())
        assert len(claude.requests) == 1
    assert len(world.kimi.requests) == 1  # refused once; the breaker keeps main closed
    assert all("Fallback says" in c["body"] for c in world.comments())
    (summary,) = world.summaries()
    assert "Fallback served: `claude-sonnet-4-5`" in summary["body"]
