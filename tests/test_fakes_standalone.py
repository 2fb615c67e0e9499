"""tests/fakes/standalone.py: the fakes deploy/smoke.sh runs for a stack in containers.

In-process: the control routes (event, status, model delay) answer as the
script expects, the fake GitHub serves the PRs the script sends events for,
and both fakes listen on the address they are given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.github_helpers import generate_app_keys
from tests.fakes.standalone import LARGE_PR_FILES, LARGE_PRS, SMALL_PR, Fakes, _parser
from tests.support.review_world import review_answer

MODEL_KEY = "sk-standalone-test"


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    keys = generate_app_keys()
    running = Fakes(
        host="127.0.0.1", app_id=4242, public_key_pem=keys.public_pem, model_key=MODEL_KEY
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_event_route_gives_each_pulls_opened_payload(fakes: Fakes) -> None:
    for number in (SMALL_PR, *LARGE_PRS):
        event = httpx.get(f"{fakes.github.url}/_fake/event/{number}").json()
        assert event["action"] == "opened"
        assert event["number"] == number
        assert event["installation"] == {"id": 77}
        assert event["pull_request"]["head"]["sha"] == fakes.repo.pulls[number].head_sha
    assert httpx.get(f"{fakes.github.url}/_fake/event/99").status_code == 404
    large = fakes.repo.diff_entries(fakes.repo.branches["main"], fakes.repo.pulls[8].head_sha)
    assert len(large) == LARGE_PR_FILES


def test_status_reports_reviews_and_the_models_callers(fakes: Fakes) -> None:
    status = httpx.get(f"{fakes.github.url}/_fake/status").json()
    assert status == {"reviews": {}, "model": {"in_flight": 0, "in_flight_max": 0, "callers": []}}
    fakes.github.written.reviews[7] = [{"state": "PENDING"}, {"state": "COMMENTED"}]
    reply = httpx.post(
        f"{fakes.kimi.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {MODEL_KEY}"},
        json={"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert reply.status_code == 200
    status = httpx.get(f"{fakes.github.url}/_fake/status").json()
    assert status["reviews"] == {"7": 1}
    assert status["model"]["callers"] == ["127.0.0.1"]
    assert status["model"]["in_flight_max"] == 1


def test_model_delay_holds_every_answer_back(fakes: Fakes) -> None:
    set_to = httpx.post(f"{fakes.github.url}/_fake/model-delay?seconds=0.3").json()
    assert set_to == {"delay": 0.3}
    reply = fakes.respond({"messages": []})
    assert reply.delay == 0.3
    assert json.loads(reply.body["choices"][0]["message"]["content"]) == review_answer("")


def test_fakes_listen_on_the_given_address(fakes: Fakes) -> None:
    assert fakes.github.url.startswith("http://127.0.0.1:")
    assert fakes.kimi.base_url == f"http://127.0.0.1:{fakes.kimi.port}/v1"
    assert httpx.get(f"{fakes.github.url}/_fake/status").status_code == 200


def test_command_line_needs_the_apps_identity_and_a_ready_file() -> None:
    identity = ["--app-id", "4242", "--public-key", "k.pem", "--model-key", "sk"]
    args = _parser().parse_args(["--host", "172.30.0.1", *identity, "--ready", "r.json"])
    assert (args.host, args.app_id, args.model_key) == ("172.30.0.1", 4242, "sk")
    with pytest.raises(SystemExit):
        _parser().parse_args(["--host", "127.0.0.1"])
