"""`kimi-review review --diff`: a real `git diff`, the real command, a fake Kimi."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_replies import kimi_error, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY
from tests.support.git import git
from tests.support.processes import KIMI_REVIEW

pytestmark = pytest.mark.e2e


@pytest.fixture
def diff(tmp_path: Path) -> str:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("def total(items):\n    return 0\n")
    (tmp_path / "yarn.lock").write_text("# lock\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    (src / "app.py").write_text(
        "def total(items):\n    s = 0\n    for i in range(len(items) - 1):\n"
        "        s += items[i]\n    return s\n"
    )
    (tmp_path / "yarn.lock").write_text("# lock v2\n")
    (tmp_path / ".env").write_text("TOKEN=abc\n")
    git(tmp_path, "add", "-A")
    return git(tmp_path, "diff", "--cached")


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MODEL_KEY) as server:
        yield server


def _run(
    diff: str, server: FakeKimi, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "API_OPEN_AI_API_KEY": MODEL_KEY,
        "API_OPENAI_FORCE_BASE_URL": server.base_url,
        # One call per chunk, as these tests count; verification: test_review_verify.py.
        "API_LLM_VERIFY": "off",
        **env,
    }
    return subprocess.run(
        [str(KIMI_REVIEW), "review", "--diff", "-", *args],
        input=diff,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def test_local_diff_is_reviewed_and_findings_printed(diff: str, kimi: FakeKimi) -> None:
    done = _run(diff, kimi)
    assert done.returncode == 0, done.stderr
    assert "src/app.py:3  HIGH  bug  Off by one" in done.stdout
    assert "The loop skips the last item." in done.stdout
    assert "skipped yarn.lock" in done.stdout
    assert "skipped .env" in done.stdout
    assert "model kimi-k2.6" in done.stdout
    assert done.stderr == ""  # piped: no progress line, no log noise
    [request] = kimi.requests
    assert request.user_agent.startswith("kimi-review/")
    sent = json.dumps(request.body)
    assert "range(len(items) - 1)" in sent
    assert "TOKEN=abc" not in sent  # credential files never reach the model
    assert "temperature" not in request.body
    assert request.body["thinking"] == {"type": "enabled"}


def test_json_output_carries_findings_and_skips(diff: str, kimi: FakeKimi) -> None:
    done = _run(diff, kimi, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    [finding] = report["findings"]
    assert (finding["path"], finding["line"], finding["inline"]) == ("src/app.py", 3, True)
    assert {s["path"] for s in report["skipped"]} == {"yarn.lock", ".env"}
    assert report["tokens"] == {"prompt": 1200, "completion": 300, "cached": 800}


def test_a_finding_off_the_diff_is_still_reported(diff: str, kimi: FakeKimi) -> None:
    answer = {
        "summary": "s",
        "findings": [
            {"path": "src/app.py", "line": 400, "severity": "high", "title": "far", "body": "b"}
        ],
    }
    kimi.script(kimi_ok(json.dumps(answer)))
    done = _run(diff, kimi, "--json")
    [finding] = json.loads(done.stdout)["findings"]
    assert finding["inline"] is False
    assert finding["not_inline_reason"] == "off_diff"


def test_findings_below_review_min_severity_are_left_out(diff: str, kimi: FakeKimi) -> None:
    """`high` by default (eval's best F1), the summary counting the rest; `low` shows all."""
    answer = {
        "summary": "s",
        "findings": [
            {"path": "src/app.py", "line": 2, "severity": "low", "title": "nit", "body": "b"},
            {"path": "src/app.py", "line": 2, "severity": "medium", "title": "edge", "body": "b"},
            {"path": "src/app.py", "line": 2, "severity": "high", "title": "bug", "body": "b"},
        ],
    }
    kimi.script(kimi_ok(json.dumps(answer)), kimi_ok(json.dumps(answer)))
    report = json.loads(_run(diff, kimi, "--json").stdout)
    assert [f["title"] for f in report["findings"]] == ["bug"]
    assert any("2 findings below `high` not posted" in note for note in report["notes"])
    every = _run(diff, kimi, "--json", REVIEW_MIN_SEVERITY="low")
    titles = sorted(f["title"] for f in json.loads(every.stdout)["findings"])
    assert titles == ["bug", "edge", "nit"]


def test_main_refusing_without_a_fallback_exits_4_with_the_reason(
    diff: str, kimi: FakeKimi
) -> None:
    kimi.script(kimi_error(401, "invalid_authentication_error", "Invalid Authentication"))
    done = _run(diff, kimi)
    assert done.returncode == 4
    assert "no model available" in done.stderr
    assert MODEL_KEY not in done.stderr


def test_input_that_is_not_a_diff_exits_2(kimi: FakeKimi) -> None:
    done = _run("this is not a diff\n", kimi)
    assert done.returncode == 2
    assert "not a unified diff" in done.stderr or "no file sections" in done.stderr
    assert kimi.requests == []


def test_missing_key_names_the_variable(diff: str, kimi: FakeKimi) -> None:
    done = _run(diff, kimi, API_OPEN_AI_API_KEY="")
    assert done.returncode == 2
    assert "API_OPEN_AI_API_KEY" in done.stderr


def _user_prompt(server: FakeKimi) -> str:
    [request] = server.requests
    return "".join(m["content"] for m in request.body["messages"] if m["role"] == "user")


def test_title_and_description_flags_reach_the_prompt(
    diff: str, kimi: FakeKimi, tmp_path: Path
) -> None:
    done = _run(
        diff, kimi, "--title", "Sum the items", "--description", "Adds a loop.", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    prompt = _user_prompt(kimi)
    assert "Sum the items" in prompt
    assert "Adds a loop." in prompt
    assert "Local changes" not in prompt


def test_in_a_git_repository_heads_commit_message_is_the_pr_text(
    diff: str, kimi: FakeKimi, tmp_path: Path
) -> None:
    """Before: a local review always said "Local changes", whatever the commit said."""
    git(tmp_path, "commit", "-qm", "Count every item\n\nThe total now sums the list.")
    done = _run(diff, kimi, cwd=tmp_path / "src")
    assert done.returncode == 0, done.stderr
    prompt = _user_prompt(kimi)
    assert "Count every item" in prompt
    assert "The total now sums the list." in prompt
    assert tmp_path.name in prompt  # the repository is named after the work tree's root


def test_repo_flag_names_the_repository_and_must_exist(
    diff: str, kimi: FakeKimi, tmp_path: Path
) -> None:
    git(tmp_path, "commit", "-qm", "Subject from the repo")
    done = _run(diff, kimi, "--repo", str(tmp_path), cwd=Path("/"))
    assert done.returncode == 0, done.stderr
    assert "Subject from the repo" in _user_prompt(kimi)
    missing = _run(diff, kimi, "--repo", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "not a directory" in missing.stderr
