"""A pull request on the fake GitHub, its webhooks, and a model that reviews what it is shown.

End-to-end tests build the same small world: a repository with a base and a
feature branch, an open PR, the signed `pull_request` deliveries GitHub
would send for it (ids and SHAs matching the fake), and a fake Kimi whose
answer names a real added line of every file in the chunk it was sent, so a
review has comments that GitHub accepts.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakePull, FakeRepo
from tests.fakes.model_replies import Reply, anthropic_ok, kimi_ok
from tests.support.webhooks import delivery, payload, pr_comment

_FILE = re.compile(r"^FILE (\S+)", re.M)
_ADDED = re.compile(r"^(\d+)\+", re.M)
_DIFF = re.compile(r"<<<UNTRUSTED diff (\w+)\n(.*?)\nUNTRUSTED diff \1>>>", re.S)

BASE_FILES = {
    "app/handlers.py": "".join(f"def handler_{i}(request):\n    return {i}\n\n" for i in range(40)),
    "app/models.py": "".join(f"class Model{i}:\n    field = {i}\n\n" for i in range(40)),
    "README.md": "# widgets\n",
}


def feature_files(version: int = 1) -> dict[str, bytes | str | None]:
    """The feature branch's files; version 2 adds app/views.py and leaves the rest alone."""
    handlers = BASE_FILES["app/handlers.py"].replace(
        "    return 3\n", "    user = request.user\n    return user.id\n"
    )
    models = BASE_FILES["app/models.py"].replace("    field = 5\n", "    field = 5\n    code = 5\n")
    changes: dict[str, bytes | str | None] = {"app/handlers.py": handlers, "app/models.py": models}
    if version > 1:
        changes["app/views.py"] = "".join(f"def view_{i}():\n    return {i}\n" for i in range(8))
    return changes


def many_files(count: int, lines: int = 60) -> dict[str, bytes | str | None]:
    """`count` new files big enough that each needs a chunk of its own (1,000-token budget)."""
    return {
        f"pkg/module_{n}.py": "".join(
            f"def function_{n}_{i}(value):\n    return value * {i} + {n}  # arithmetic\n"
            for i in range(lines)
        )
        for n in range(count)
    }


def build_pull(
    fake: FakeGitHub,
    *,
    installation_id: int = 77,
    number: int = 7,
    base: dict[str, bytes | str | None] | None = None,
    changes: dict[str, bytes | str | None] | None = None,
) -> FakeRepo:
    """octo/widgets with PR `number` open from `feature` into `main`."""
    repo = fake.add_repo("octo/widgets", installation_id=installation_id)
    repo.commit({**BASE_FILES, **(base or {})}, branch="main", message="base")
    repo.commit(changes or feature_files(1), parent=repo.branches["main"], branch="feature")
    repo.open_pull(number, base="main", head="feature", title="Use the request user")
    return repo


def push(repo: FakeRepo, number: int, version: int) -> str:
    """A new commit on the PR's branch (a normal push); its SHA."""
    pull = repo.pulls[number]
    sha = repo.commit(feature_files(version), parent=pull.head_sha, branch=pull.head_ref)
    repo.push(number, sha)
    return sha


def pr_event(repo: FakeRepo, pull: FakePull, action: str = "opened") -> dict[str, Any]:
    """The `pull_request` payload GitHub sends for this PR now (official fixture, our ids)."""
    data = payload("pull_request.opened")
    data["action"] = action
    data["repository"].update(id=repo.id, name=repo.name, full_name=repo.full_name)
    data["repository"]["owner"]["login"] = repo.owner
    data["installation"] = {"id": repo.installation_id}
    data["number"] = pull.number
    data["pull_request"].update(number=pull.number, draft=pull.draft, state=pull.state)
    data["pull_request"]["head"]["sha"] = pull.head_sha
    data["pull_request"]["base"]["sha"] = pull.base_sha
    data["sender"] = {"login": "octocat", "type": "User", "id": 1}
    data.pop("performed_via_github_app", None)
    return data


def command_event(repo: FakeRepo, pull: FakePull, body: str, comment_id: int) -> dict[str, Any]:
    data = pr_comment(body, id=comment_id)
    data["repository"].update(id=repo.id, name=repo.name, full_name=repo.full_name)
    data["repository"]["owner"]["login"] = repo.owner
    data["installation"] = {"id": repo.installation_id}
    data["issue"]["number"] = pull.number
    data["comment"]["user"] = {"login": "octocat", "type": "User", "id": 1}
    return data


def send(
    base_url: str, event: str, data: dict[str, Any], *, delivery_id: str | None = None
) -> httpx.Response:
    body, headers = delivery(event, data, delivery_id=delivery_id)
    return httpx.post(f"{base_url}/webhooks/github", content=body, headers=headers, timeout=10)


def chunk_of(body: Any) -> str:
    """The diff part of a request's last user message (OpenAI or Anthropic shape)."""
    messages = body.get("messages") or []
    content = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if isinstance(content, list):  # Anthropic content blocks
        content = "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    found = _DIFF.search(str(content))
    return found[2] if found else ""


def review_answer(chunk: str, *, title: str = "Check this line") -> dict[str, Any]:
    """One medium finding on the first added line of every file of the chunk."""
    findings = []
    for section in re.split(r"(?=^FILE )", chunk, flags=re.M):
        path = _FILE.search(section)
        added = _ADDED.search(section)
        if path and added:
            findings.append(
                {
                    "path": path[1],
                    "line": int(added[1]),
                    "severity": "medium",
                    "category": "correctness",
                    "title": f"{title}: {path[1]}",
                    "body": "This line deserves a second look.",
                }
            )
    return {"summary": "Changes the request handling.", "findings": findings}


def reviewing_responder(body: Any) -> Reply:
    """A fake Kimi responder that reviews whatever chunk it is sent."""
    return kimi_ok(json.dumps(review_answer(chunk_of(body))))


def claude_reviewing_responder(body: Any) -> Reply:
    """The same for a fake Anthropic fallback (its findings' titles say who wrote them)."""
    return anthropic_ok(json.dumps(review_answer(chunk_of(body), title="Fallback says")))
