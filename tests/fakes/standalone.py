"""The fake GitHub and fake Kimi as one standalone process, for a stack running in containers.

deploy/smoke.sh runs the real images against these fakes:

    python -m tests.fakes.standalone --host 172.30.0.1 --app-id 4242 \\
        --public-key app.pub.pem --model-key sk-fake --ready fakes.json

It binds both servers to `--host` (an address the containers reach, such as
their network's gateway), writes `{"github_url": ..., "model_url": ...}` to
`--ready` once both answer, and runs until SIGTERM or SIGINT.

The fake GitHub holds octo/widgets (installation 77): PR #7, the two-file PR
of the end-to-end tests, and PRs #8 to #10, six new files each (one chunk per
file at `API_LLM_CHUNK_TOKENS=1000`). The fake Kimi reviews every chunk it
is sent. A few unauthenticated routes on the fake GitHub let the script steer
and observe (nothing in the product calls them):

- `GET /_fake/event/{number}`: the `pull_request.opened` payload for that PR
  (the script signs and sends it);
- `GET /_fake/status`: reviews posted per PR, and the model's concurrency
  (now, peak) and the address of the client of each call, in order;
- `POST /_fake/model-delay?seconds=S`: every model answer from now on waits S.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from tests.fakes.github_http import Reply, Request
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from tests.fakes.model_replies import Reply as ModelReply
from tests.fakes.model_servers import FakeKimi
from tests.support.review_world import (
    BASE_FILES,
    feature_files,
    many_files,
    pr_event,
    reviewing_responder,
)

INSTALLATION = 77
SMALL_PR = 7
LARGE_PRS = (8, 9, 10)
LARGE_PR_FILES = 6


def build_repo(fake: FakeGitHub) -> FakeRepo:
    """octo/widgets with PR #7 (two changed files) and #8-#10 (six new files each)."""
    repo = fake.add_repo("octo/widgets", installation_id=INSTALLATION)
    main = repo.commit(dict(BASE_FILES), branch="main", message="base")
    repo.commit(feature_files(1), parent=main, branch="feature")
    repo.open_pull(SMALL_PR, base="main", head="feature", title="Use the request user")
    for number in LARGE_PRS:
        branch = f"large-{number}"
        repo.commit(many_files(LARGE_PR_FILES), parent=main, branch=branch)
        repo.open_pull(number, base="main", head=branch, title=f"Add modules ({number})")
    return repo


class Fakes:
    """Both fakes, the model's delay, and the control routes on the fake GitHub."""

    def __init__(self, *, host: str, app_id: int, public_key_pem: str, model_key: str) -> None:
        self.delay = 0.0
        self.github = FakeGitHub(app_id=app_id, public_key_pem=public_key_pem, host=host)
        self.repo = build_repo(self.github)
        self.kimi = FakeKimi(api_key=model_key, responder=self.respond, host=host)
        self.github.add_route("GET", "/_fake/status", self.status, "none")
        self.github.add_route("GET", "/_fake/event/{number}", self.event, "none")
        self.github.add_route("POST", "/_fake/model-delay", self.set_delay, "none")

    def respond(self, body: Any) -> ModelReply:
        return dataclasses.replace(reviewing_responder(body), delay=self.delay)

    def status(self, request: Request) -> Reply:
        posted = {
            str(number): sum(1 for r in reviews if r.get("state") != "PENDING")
            for number, reviews in self.github.written.reviews.items()
        }
        calls = [r for r in self.kimi.requests if r.path.endswith("/chat/completions")]
        model = {
            "in_flight": self.kimi.in_flight,
            "in_flight_max": self.kimi.in_flight_max,
            "callers": [r.peer for r in calls],  # the client's address, call by call
        }
        return Reply(200, {"reviews": posted, "model": model})

    def event(self, request: Request) -> Reply:
        pull = self.repo.pulls.get(request.int_param("number"))
        if pull is None:
            return Reply(404, {"message": "Not Found"})
        return Reply(200, pr_event(self.repo, pull))

    def set_delay(self, request: Request) -> Reply:
        self.delay = float(request.arg("seconds", "0") or 0)
        return Reply(200, {"delay": self.delay})

    def start(self) -> None:
        self.github.start()
        self.kimi.start()

    def stop(self) -> None:
        self.kimi.stop()
        self.github.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.standalone", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address both fakes listen on")
    parser.add_argument("--app-id", type=int, required=True, help="the App id the stack uses")
    parser.add_argument(
        "--public-key", type=Path, required=True, help="PEM public key of the App's private key"
    )
    parser.add_argument("--model-key", required=True, help="the model API key the stack sends")
    parser.add_argument("--ready", type=Path, required=True, help="JSON file written when up")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    fakes = Fakes(
        host=args.host,
        app_id=args.app_id,
        public_key_pem=args.public_key.read_text(),
        model_key=args.model_key,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    fakes.start()
    try:
        ready = {"github_url": fakes.github.url, "model_url": fakes.kimi.base_url}
        partial = args.ready.with_suffix(".tmp")
        partial.write_text(json.dumps(ready))
        os.replace(partial, args.ready)  # the script never reads a half-written file
        stopping.wait()
    finally:
        fakes.stop()


if __name__ == "__main__":
    main()
