"""GitHubReader against the fake GitHub: PR, files, compare, contents, errors, secrets."""

from __future__ import annotations

import io
import logging

import httpx
import pytest
import structlog

from tests.fakes.github_helpers import (
    AppKeys,
    app_tokens,
    reader_for,
)
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.client import GitHubReader
from worker.github.errors import GitHubError, GitHubRateLimited, GitHubUnavailable
from worker.github.files import fetch_pull_request_files
from worker.logs import configure_logging

PR_FILES = "/repos/{o}/{r}/pulls/{n}/files"
PULL = "/repos/{o}/{r}/pulls/{n}"


def _pr_with_files(fake: FakeGitHub, count: int) -> FakeRepo:
    repo = fake.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"README.md": "hello\n"}, branch="main")
    files: dict[str, bytes | str | None] = {f"src/m{i:04}.py": f"x = {i}\n" for i in range(count)}
    repo.commit(files, parent=base, branch="feature")
    repo.open_pull(5, base="main", head="feature", title="Many files", body="Why", user="alice")
    return repo


@pytest.fixture
async def reader(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> GitHubReader:
    repo = fake_github.repos.get("octo/widgets") or _pr_with_files(fake_github, 3)
    return reader_for(fake_github, repo, app_tokens(fake_github, github_app_keys, github_http))


async def test_pull_request_carries_state_heads_title_body_and_author(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    repo = fake_github.repo("octo/widgets")
    pr = await reader.pull_request(5)
    assert (pr.number, pr.state, pr.draft, pr.title, pr.body, pr.author) == (
        5,
        "open",
        False,
        "Many files",
        "Why",
        "alice",
    )
    assert pr.head_sha == repo.branches["feature"]
    assert (pr.base_sha, pr.base_ref) == (repo.branches["main"], "main")
    assert pr.changed_files == 3


async def test_files_of_a_350_file_pr_are_read_over_four_pages_of_100(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _pr_with_files(fake_github, 350)
    reader = reader_for(fake_github, repo, app_tokens(fake_github, github_app_keys, github_http))
    entries = await reader.pull_request_files(5)
    assert len(entries) == 350
    assert len({e.path for e in entries}) == 350
    pages = fake_github.calls_to("GET", PR_FILES)
    assert [c.query.get("page", ["1"])[0] for c in pages] == ["1", "2", "3", "4"]
    assert all(c.query["per_page"] == ["100"] for c in pages)
    await reader.close()


async def test_a_pr_over_3000_files_lists_3000_and_names_the_rest_as_unseen(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _pr_with_files(fake_github, 3050)
    reader = reader_for(fake_github, repo, app_tokens(fake_github, github_app_keys, github_http))
    pr = await reader.pull_request(5)
    fetched = await fetch_pull_request_files(reader, pr)
    assert len(fetched.files) == 3000
    assert len(fake_github.calls_to("GET", PR_FILES)) == 30
    (notice,) = fetched.skipped
    assert notice.path == "(50 more files)"
    assert "3000" in notice.reason
    await reader.close()


async def test_compare_says_ahead_for_a_push_and_diverged_after_a_force_push(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    repo = fake_github.repo("octo/widgets")
    first = repo.branches["feature"]
    pushed = repo.commit({"src/new.py": "y = 1\n"}, parent=first, branch="feature")
    rewritten = repo.commit({"src/other.py": "z = 1\n"}, parent=repo.branches["main"])

    ahead = await reader.compare(first, pushed)
    assert (ahead.status, ahead.ahead_by) == ("ahead", 1)
    assert [f.path for f in ahead.files] == ["src/new.py"]
    assert ahead.merge_base_sha == first
    assert (await reader.compare(first, rewritten)).status == "diverged"
    assert (await reader.compare(pushed, first)).status == "behind"
    assert (await reader.compare(first, first)).status == "identical"


async def test_config_is_read_from_the_base_branch_and_absent_is_none(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    repo = fake_github.repo("octo/widgets")
    pr = await reader.pull_request(5)
    assert await reader.base_file_text(pr, ".kimi-review.toml") is None

    repo.commit({".kimi-review.toml": "max_comments = 5\n"}, branch="main")
    repo.commit({".kimi-review.toml": "max_comments = 500\n"}, branch="feature")
    assert await reader.base_file_text(pr, ".kimi-review.toml") == "max_comments = 5\n"


async def test_contents_over_the_size_limit_come_without_bytes(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    repo = fake_github.repo("octo/widgets")
    repo.commit({"big.txt": "a" * 5000, "dir/f.txt": "x"}, branch="main")
    blob = await reader.file_at("big.txt", "main", max_bytes=1000)
    assert blob is not None
    assert (blob.kind, blob.size, blob.content) == ("file", 5000, None)
    fake_github.inline_content_limit = 100  # GitHub's own 1 MB inline limit, scaled down
    blob = await reader.file_at("big.txt", "main", max_bytes=10_000)
    assert blob is not None
    assert blob.content is None
    folder = await reader.file_at("dir", "main")
    assert folder is not None
    assert folder.kind == "dir"
    with pytest.raises(GitHubError):
        await reader.text_at("dir", "main")


async def test_a_short_secondary_rate_limit_is_waited_out(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    fake_github.secondary_rate_limit_next("GET", PULL, retry_after=0, times=2)
    pr = await reader.pull_request(5)
    assert pr.number == 5
    assert [c.status for c in fake_github.calls_to("GET", PULL)] == [403, 403, 200]


async def test_a_long_rate_limit_is_raised_with_githubs_wait(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    fake_github.secondary_rate_limit_next("GET", PULL, retry_after=120)
    with pytest.raises(GitHubRateLimited) as caught:
        await reader.pull_request(5)
    assert caught.value.retry_after == 120
    assert len(fake_github.calls_to("GET", PULL)) == 1, "the thread must not sleep 2 minutes"


async def test_primary_rate_limit_429_is_a_rate_limit_too(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    fake_github.fail_next("GET", PULL, 429, headers={"Retry-After": "3600"})
    with pytest.raises(GitHubRateLimited):
        await reader.pull_request(5)


async def test_a_passing_5xx_is_retried_and_a_lasting_one_is_unavailable(
    fake_github: FakeGitHub, reader: GitHubReader
) -> None:
    fake_github.fail_next("GET", PULL, 502)
    assert (await reader.pull_request(5)).number == 5
    fake_github.fail_next("GET", PULL, 503, times=10)
    with pytest.raises(GitHubUnavailable):
        await reader.pull_request(5)
    assert len(fake_github.calls_to("GET", PULL)) == 2 + 3  # 1 retry, then 3 tries


async def test_no_token_jwt_or_key_reaches_the_logs_even_at_debug(
    fake_github: FakeGitHub,
    github_app_keys: AppKeys,
    github_http: httpx.AsyncClient,
    capfd: pytest.CaptureFixture[str],
) -> None:
    raw_records = io.StringIO()
    unscrubbed = logging.StreamHandler(raw_records)  # sees stdlib records before any scrubbing
    root = logging.getLogger()
    saved = (structlog.get_config(), list(root.handlers), root.level)
    configure_logging("json", [], level=logging.DEBUG)
    for name in ("github", "httpx", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(unscrubbed)
    try:
        with structlog.testing.capture_logs() as events:
            repo = _pr_with_files(fake_github, 2)
            tokens = app_tokens(fake_github, github_app_keys, github_http)
            reader = reader_for(fake_github, repo, tokens)
            await fetch_pull_request_files(reader, await reader.pull_request(5))
            used_tokens = list(fake_github.grants)
            fake_github.grants.clear()
            fake_github.fail_next("POST", "/app/installations/{i}/access_tokens", 401, times=1)
            with pytest.raises(GitHubError) as caught:
                await reader.pull_request(5)
            await reader.close()
    finally:
        structlog.configure(**saved[0])
        root.handlers[:] = saved[1]
        root.setLevel(saved[2])
        for name in ("github", "httpx", "httpcore", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)
    minted = [c for c in fake_github.calls if c.path.endswith("/access_tokens")]
    secrets = [*used_tokens]
    secrets += [c.headers["authorization"].split()[1] for c in minted]
    secrets += github_app_keys.private_pem.reveal().splitlines()[1:3]
    captured = capfd.readouterr()
    text = captured.out + captured.err + raw_records.getvalue() + repr(events) + str(caught.value)
    assert "github.token_minted" in repr(events)
    for secret in secrets:
        assert secret not in text
    assert "ghs_" not in text
