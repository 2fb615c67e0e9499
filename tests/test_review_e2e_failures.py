"""The review job when things break: a killed worker, GitHub refusals, models down.

Same harness as test_review_e2e.py (real `serve` and `worker` processes, the
fake GitHub and a fake Kimi). What must hold: one review per head, no chunk
paid for twice, nothing lost, and the PR told plainly when a review waits
or is abandoned.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from typing import Any

import pytest
import redis as syncredis

from tests.fakes.model_replies import Reply, kimi_unauthorized
from tests.support.e2e_world import PR, REVIEWS, World
from tests.support.redis_server import RedisServer
from tests.support.review_world import (
    chunk_of,
    many_files,
    pr_event,
    reviewing_responder,
    send,
)
from worker import keys

pytestmark = pytest.mark.e2e


def _stored_chunks(world: World) -> int:
    pull = world.repo.pulls[PR]
    state = keys.review_state(world.repo.id, PR, pull.head_sha)
    fields: list[bytes] = world.redis.hkeys(state)  # type: ignore[assignment]
    return sum(1 for f in fields if f.startswith(b"chunk:"))


def test_a_worker_killed_mid_review_is_resumed_and_no_chunk_is_paid_twice(world: World) -> None:
    world.use_pull(changes=many_files(6))
    release = threading.Event()
    answered: list[str] = []
    lock = threading.Lock()

    def responder(body: Any) -> Reply:
        with lock:
            fast = len(answered) < 2
        if not fast:
            release.wait(timeout=60)  # the first worker dies while these hang
        reply = reviewing_responder(body)
        with lock:
            answered.append(chunk_of(body))
        return reply

    world.kimi.responder = responder
    base = world.serve()
    first = world.worker(API_LLM_CHUNK_TOKENS="1000")
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
    world.wait(lambda: _stored_chunks(world) >= 2 and len(world.kimi.requests) >= 4)
    first.stop(signal.SIGKILL)
    with lock:
        paid_before_kill = list(answered)
    world.kimi.responder = reviewing_responder
    release.set()
    started = time.monotonic()
    world.worker(API_LLM_CHUNK_TOKENS="1000")
    world.wait(lambda: len(world.reviews()) == 1 and world.settled(), timeout=60)
    assert time.monotonic() - started < 60
    sent = Counter(chunk_of(r.body) for r in world.kimi.requests)
    assert len(paid_before_kill) == 2
    assert len(sent) >= 4  # several chunks, some in flight when the worker died
    for chunk in paid_before_kill:
        assert sent[chunk] == 1, "a chunk answered before the kill was paid for again"
    assert len(world.reviews()) == 1
    assert {c["path"] for c in world.comments()} == {f"pkg/module_{n}.py" for n in range(6)}
    (check,) = world.fake.written.check_runs.values()  # the resumed review kept its check run
    assert check["status"] == "completed"


def test_a_comment_github_refuses_goes_to_the_summary_and_the_rest_in_one_review(
    world: World,
) -> None:
    world.fake.refuse_comment_lines = {("app/models.py", 18)}
    base = world.serve()
    world.worker()
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    assert [(c["path"], c["line"]) for c in world.comments()] == [("app/handlers.py", 11)]
    finals = [c for c in world.fake.calls_to("POST", REVIEWS) if "event" in (c.json or {})]
    assert len(finals) == 2  # the refused review, then ONE review without the refused comment
    (summary,) = world.summaries()
    assert "GitHub refused its position" in summary["body"]
    assert "`app/models.py:18`" in summary["body"]


def test_a_secondary_rate_limit_is_waited_out_and_one_review_posted(world: World) -> None:
    world.fake.secondary_rate_limit_next("POST", REVIEWS, retry_after=2)
    base = world.serve()
    world.worker()
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    statuses = [c.status for c in world.fake.calls_to("POST", REVIEWS)]
    assert statuses == [403, 200]
    assert len(world.reviews()) == 1


def test_models_refusing_defer_the_review_and_the_check_run_says_why(world: World) -> None:
    refused = kimi_unauthorized()
    world.kimi.responder = lambda body: refused
    base = world.serve()
    world.worker(API_LLM_BREAKER_COOLDOWN="1")
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))

    def waiting() -> bool:
        runs = list(world.fake.written.check_runs.values())
        return bool(runs) and runs[0]["output"]["title"] == "Waiting for a model"

    world.wait(waiting)
    assert world.reviews() == []
    assert world.redis.hlen(keys.REVIEW_TASKS) == 1  # kept, due again later
    world.kimi.responder = reviewing_responder
    world.wait(lambda: len(world.reviews()) == 1 and world.settled(), timeout=40)
    (check,) = world.fake.written.check_runs.values()
    assert check["status"] == "completed"


def test_a_review_that_cannot_be_made_in_time_is_abandoned_with_a_comment(world: World) -> None:
    refused = kimi_unauthorized()
    world.kimi.responder = lambda body: refused
    base = world.serve()
    world.worker(API_LLM_BREAKER_COOLDOWN="60", WORKER_REVIEW_GIVE_UP_AFTER="30s")
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
    world.wait(world.settled)
    notes = [c["body"] for c in world.fake.written.issue_comments.values()]
    assert len(notes) == 1
    assert "gave up on reviewing" in notes[0]
    (check,) = world.fake.written.check_runs.values()
    assert (check["status"], check["conclusion"]) == ("completed", "neutral")
    assert check["output"]["title"] == "Review abandoned"
    assert world.reviews() == []


def test_a_draft_is_not_reviewed_and_the_check_run_says_so(world: World) -> None:
    pull = world.repo.pulls[PR]
    pull.draft = True
    base = world.serve()
    world.worker()
    send(base, "pull_request", pr_event(world.repo, pull))
    world.wait(lambda: bool(world.fake.written.check_runs) and world.settled())
    (check,) = world.fake.written.check_runs.values()
    assert check["conclusion"] == "skipped"
    assert "draft" in check["output"]["summary"]
    assert world.reviews() == []
    assert world.kimi.requests == []


def test_a_review_whose_worker_lost_redis_resumes_once_redis_is_back(world: World) -> None:
    """Redis (with AOF, as deployed) restarts mid-review: the review finishes, once."""
    redis_server = RedisServer(persistent=True).start()
    try:
        world.env["REDIS_URL"] = redis_server.url
        world.redis = syncredis.Redis.from_url(redis_server.url)
        world.use_pull(changes=many_files(5))
        release = threading.Event()
        answered: list[str] = []

        def responder(body: Any) -> Reply:
            if len(answered) >= 2:
                release.wait(timeout=60)
            answered.append(chunk_of(body))
            return reviewing_responder(body)

        world.kimi.responder = responder
        base = world.serve()
        world.worker(API_LLM_CHUNK_TOKENS="1000")
        send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
        world.wait(lambda: _stored_chunks(world) >= 2 and len(world.kimi.requests) >= 4)
        paid_before = list(answered)
        redis_server.stop()
        time.sleep(6)  # past the 4 s lease: the worker must give the review up
        world.kimi.responder = reviewing_responder
        release.set()
        redis_server.start()
        started = time.monotonic()
        world.wait(lambda: len(world.reviews()) == 1 and world.settled(), timeout=60)
        assert time.monotonic() - started < 60
        sent = Counter(chunk_of(r.body) for r in world.kimi.requests)
        for chunk in paid_before:
            assert sent[chunk] == 1
        assert len(world.reviews()) == 1
    finally:
        redis_server.stop()
