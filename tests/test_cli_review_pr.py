"""`kimi-review review <PR URL>`: the real command against the fake GitHub and a fake Kimi.

No Redis anywhere: REDIS_URL is left out of the environment (the command
must not need it), and the review still posts exactly one review per head.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from tests.fakes.github_archive import CODELOAD_PREFIX
from tests.fakes.github_helpers import TEST_APP_ID, AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_replies import kimi_error
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY, product_env
from tests.support.processes import KIMI_REVIEW
from tests.support.review_world import build_pull, reviewing_responder

pytestmark = pytest.mark.e2e

TOKEN = "ghp_cli_personal_token_0123456789abcdef"


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MODEL_KEY, responder=reviewing_responder) as server:
        yield server


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    build_pull(fake_github)
    fake_github.add_personal_token(TOKEN)
    return fake_github


def _pr_url(fake: FakeGitHub, number: int = 7) -> str:
    return f"{fake.url}/octo/widgets/pull/{number}"


class Runner(Protocol):
    def __call__(self, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def run(github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys) -> Runner:
    """`kimi-review review ARGS` with a token, the App's credentials and both fakes.

    An override of None removes a variable.
    """

    def run(*args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
        env = product_env(
            "unused",
            GITHUB_API_URL=github.url,
            GITHUB_TOKEN=TOKEN,
            GITHUB_APP_ID=str(TEST_APP_ID),
            GITHUB_APP_PRIVATE_KEY=github_app_keys.private_pem.reveal(),
            API_OPENAI_FORCE_BASE_URL=kimi.base_url,
        )
        del env["REDIS_URL"]  # proves the one-shot review needs no Redis
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return subprocess.run(
            [str(KIMI_REVIEW), "review", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    return run


def _no_token_in(done: subprocess.CompletedProcess[str]) -> None:
    assert TOKEN not in done.stdout + done.stderr
    assert MODEL_KEY not in done.stdout + done.stderr


def _writes(fake: FakeGitHub) -> int:
    written = fake.written
    return (
        sum(len(r) for r in written.reviews.values())
        + len(written.issue_comments)
        + len(written.check_runs)
        + len(written.reactions)
    )


def _credentials(fake: FakeGitHub) -> set[str]:
    """The credential of every API call (PyGithub says `token X`, our REST client `Bearer X`).

    The archive host (the tarball's redirect target) gets no credential at all.
    """
    return {
        call.headers.get("authorization", "").split(" ")[-1]
        for call in fake.calls
        if not call.path.startswith(CODELOAD_PREFIX)
    }


def test_dry_run_prints_findings_and_writes_nothing(
    run: Runner, github: FakeGitHub, kimi: FakeKimi
) -> None:
    done = run(_pr_url(github), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "app/handlers.py:11  MEDIUM  correctness  Check this line" in done.stdout
    assert "Check this line: app/models.py" in done.stdout
    assert "Not posted (--dry-run)" in done.stdout
    assert _writes(github) == 0
    assert {call.method for call in github.calls} == {"GET"}
    assert _credentials(github) == {TOKEN}  # the operator's token reads
    assert done.stderr == ""  # piped: no progress line, no warning
    _no_token_in(done)


def test_review_posts_one_review_and_the_summary_as_the_app(
    run: Runner, github: FakeGitHub
) -> None:
    done = run(_pr_url(github))
    assert done.returncode == 0, done.stderr
    [review] = github.written.reviews[7]
    assert review["commit_id"] == github.repo("octo/widgets").pulls[7].head_sha
    assert len(github.written.review_comments[7]) == 2
    [summary] = github.written.issue_comments.values()
    assert summary["issue_number"] == 7
    [check] = github.written.check_runs.values()
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert f"Review posted: {review['html_url']}" in done.stdout
    assert "Check this line: app/models.py" in done.stdout
    assert TOKEN not in _credentials(github)  # only Apps may create check runs
    _no_token_in(done)


def test_second_run_on_the_same_head_posts_nothing(
    run: Runner, github: FakeGitHub, kimi: FakeKimi
) -> None:
    first = run(_pr_url(github))
    assert first.returncode == 0, first.stderr
    calls = len(kimi.requests)
    written = _writes(github)
    again = run(_pr_url(github))
    assert again.returncode == 0, again.stderr
    assert "Already reviewed at" in again.stdout
    assert github.written.reviews[7][0]["html_url"] in again.stdout
    assert len(github.written.reviews[7]) == 1
    assert _writes(github) == written
    assert len(kimi.requests) == calls  # found by its marker before any model call


def test_json_output_has_status_url_and_findings(run: Runner, github: FakeGitHub) -> None:
    done = run(_pr_url(github) + "/files", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["status"] == "posted"
    assert report["review_url"] == github.written.reviews[7][0]["html_url"]
    assert {f["path"] for f in report["findings"]} == {"app/handlers.py", "app/models.py"}
    assert all(f["inline"] for f in report["findings"])
    again: dict[str, Any] = json.loads(run(_pr_url(github), "--json").stdout)
    assert again["status"] == "already_posted"
    assert again["review_url"] == report["review_url"]


def test_dry_run_json_is_valid(run: Runner, github: FakeGitHub) -> None:
    done = run(_pr_url(github), "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["review_url"]) == ("dry_run", None)
    assert len(report["findings"]) == 2


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "https://github.com/octo/widgets",
        "https://github.com/octo/widgets/issues/7",
        "https://github.com/octo/widgets/pull/0",
        "https://github.com/octo/widgets/pull/seven",
        "ftp://github.com/octo/widgets/pull/7",
    ],
)
def test_a_bad_url_exits_2_and_says_what_is_expected(
    run: Runner, github: FakeGitHub, url: str
) -> None:
    done = run(url)
    assert done.returncode == 2
    assert "expected https://github.com/OWNER/REPO/pull/NUMBER" in done.stderr
    assert "Traceback" not in done.stderr
    assert github.calls == []


def test_missing_pull_request_is_a_clear_github_error(run: Runner, github: FakeGitHub) -> None:
    done = run(_pr_url(github, 999), "--dry-run")
    assert done.returncode == 5
    assert "404" in done.stderr
    assert "octo/widgets#999" in done.stderr
    assert "Traceback" not in done.stderr
    _no_token_in(done)


def test_a_refused_token_is_a_clear_github_error(run: Runner, github: FakeGitHub) -> None:
    done = run(_pr_url(github), "--dry-run", GITHUB_TOKEN="ghp_revoked_token_000000000000")
    assert done.returncode == 5
    assert "401" in done.stderr
    assert "check GITHUB_TOKEN" in done.stderr
    assert "ghp_revoked_token" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_token_refused_check_runs_stops_before_any_model_call(
    run: Runner, github: FakeGitHub, kimi: FakeKimi
) -> None:
    """Posting with only a personal token: real GitHub refuses it the check run (403)."""
    github.fail_next(
        "POST",
        "/repos/{owner}/{repo}/check-runs",
        403,
        body={"message": "You must authenticate via a GitHub App."},
    )
    done = run(_pr_url(github), GITHUB_APP_ID=None, GITHUB_APP_PRIVATE_KEY=None)
    assert done.returncode == 5
    assert "only Apps create check runs" in done.stderr
    assert kimi.requests == []
    assert github.written.reviews.get(7, []) == []
    _no_token_in(done)


@pytest.mark.parametrize("outage", ["refused key", "unreachable"])
def test_no_model_available_exits_4_and_closes_the_check_run(
    run: Runner, github: FakeGitHub, kimi: FakeKimi, outage: str
) -> None:
    overrides: dict[str, str | None] = {}
    if outage == "refused key":
        kimi.script(kimi_error(401, "invalid_authentication_error", "Invalid Authentication"))
    else:
        overrides["API_OPENAI_FORCE_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing listens
    done = run(_pr_url(github), **overrides)
    assert done.returncode == 4
    assert "no model available" in done.stderr
    assert github.written.reviews.get(7, []) == []
    [check] = github.written.check_runs.values()
    assert (check["status"], check["conclusion"]) == ("completed", "skipped")
    assert "no model available" in check["output"]["summary"]
    _no_token_in(done)


def test_a_url_on_another_host_is_read_from_github_api_url_with_a_warning(
    run: Runner, github: FakeGitHub
) -> None:
    done = run("https://github.com/octo/widgets/pull/7", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "warning: the URL is on github.com but GITHUB_API_URL is" in done.stderr
    assert "Check this line" in done.stdout


def test_dry_run_with_only_the_app_reads_as_the_app(run: Runner, github: FakeGitHub) -> None:
    done = run(_pr_url(github), "--dry-run", GITHUB_TOKEN=None)
    assert done.returncode == 0, done.stderr
    assert "Check this line" in done.stdout
    assert _writes(github) == 0
