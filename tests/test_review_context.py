"""What the model sees beside the diff: repository context and instruction files, every path.

Through the real `review --diff --repo` code (in-process) and the App's review
flow against the fake GitHub (the head read as a tarball), each prompt must
carry the first line of every function and class holding one of its changed
lines, however far above the hunk; the callers of a changed function; the
instruction files of the BASE revision, whatever the pull request does to them.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.cli.review_diff import DiffRequest, review_diff
from tests.fakes.github_archive import CODELOAD_PREFIX
from tests.fakes.github_helpers import TEST_APP_ID, AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeKimi
from tests.support import context_world as world
from tests.support.env import MODEL_KEY, product_env
from tests.support.flow_world import in_process_flow
from tests.support.git import git
from tests.support.review_world import reviewing_responder
from worker.config import load_settings
from worker.context import ArchiveSource
from worker.github.auth import RepoRef, token_source
from worker.github.client import GitHubReader
from worker.github.tarball import TarballTooLarge
from worker.review.flow import ReviewFlow
from worker.review.machinery import github_http_client
from worker.review.outcome import FlowOutcome, ReviewTarget

PR = 7
TARBALL = "/repos/{owner}/{repo}/tarball/{ref}"


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MODEL_KEY, responder=reviewing_responder) as server:
        yield server


def _prompts(kimi: FakeKimi) -> list[str]:
    return [world.user_message(body) for body in kimi.bodies()]


# --- review --diff --repo --------------------------------------------------------------


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    """BASE committed at HEAD, HEAD's files in the working tree (not committed)."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    for files in (world.BASE, world.HEAD):
        for path, text in files.items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
        if files is world.BASE:
            git(tmp_path, "add", "-A")
            git(tmp_path, "commit", "-qm", "base")
    return tmp_path


async def _review_diff(repo: Path, kimi: FakeKimi, **env: str) -> str:
    settings = load_settings(
        product_env("redis://127.0.0.1:9/0", API_OPENAI_FORCE_BASE_URL=kimi.base_url, **env)
    )
    out, err = io.StringIO(), io.StringIO()
    code = await review_diff(
        settings, git(repo, "diff"), as_json=False, out=out, err=err, request=DiffRequest(repo=repo)
    )
    assert code == 0, err.getvalue()
    return out.getvalue()


async def test_review_diff_prompts_carry_every_enclosing_scope_and_the_callers(
    work_tree: Path, kimi: FakeKimi
) -> None:
    """The model saw only the hunk: `def total` (100 lines up) and `class Cart` never reached it."""
    report = await _review_diff(work_tree, kimi)
    prompts = _prompts(kimi)
    assert world.checked_lines(prompts) >= 2
    assert world.missing_scopes(prompts, world.HEAD) == []
    context = "".join(world.block(p, "context") for p in prompts)
    assert "5| return apply_discount(cart.total(), rate)" in " ".join(context.split())
    assert "SNIPPET pkg/checkout.py" in context
    assert "Context: code from the working tree" in report


async def test_review_diff_reads_instructions_from_head_commit_not_the_work_tree(
    work_tree: Path, kimi: FakeKimi
) -> None:
    """AGENTS.md as committed reaches the model; the edited copy in the work tree does not."""
    report = await _review_diff(work_tree, kimi)
    for prompt in _prompts(kimi):
        slot = world.instructions_slot(prompt)
        assert world.BASE_AGENTS.strip() in slot
        assert world.NESTED_REVIEW.strip() in slot  # nearest to pkg/orders.py
        assert world.HEAD_AGENTS.strip() not in slot
    assert "`AGENTS.md`, `pkg/REVIEW.md`" in report


async def test_context_off_sends_no_context(work_tree: Path, kimi: FakeKimi) -> None:
    report = await _review_diff(work_tree, kimi, API_LLM_CONTEXT="off")
    prompts = _prompts(kimi)
    assert prompts
    assert all("<<<UNTRUSTED context" not in p for p in prompts)
    assert "Context:" not in report


# --- the App's flow against the fake GitHub ---------------------------------------------


def _pull(fake: FakeGitHub) -> None:
    repo = fake.add_repo("octo/widgets", installation_id=77)
    repo.commit(dict(world.BASE), branch="main", message="base")
    changes: dict[str, bytes | str | None] = {
        "pkg/orders.py": world.ORDERS_HEAD,
        "AGENTS.md": world.HEAD_AGENTS,
    }
    repo.commit(changes, parent=repo.branches["main"], branch="feature")
    repo.open_pull(PR, base="main", head="feature", title="Round discounts")


@asynccontextmanager
async def _flow(fake: FakeGitHub, kimi: FakeKimi, keys: AppKeys) -> AsyncIterator[ReviewFlow]:
    """The review flow a worker builds, with the App's credentials and no Redis."""
    async with in_process_flow(fake, kimi, keys) as flow:
        yield flow


async def _run_flow(fake: FakeGitHub, kimi: FakeKimi, keys: AppKeys) -> FlowOutcome:
    _pull(fake)
    async with _flow(fake, kimi, keys) as flow:
        outcome = await flow.run(ReviewTarget(PR, None))
    assert outcome.status == "posted", outcome.reason
    return outcome


def _summary(fake: FakeGitHub) -> str:
    (comment,) = fake.written.issue_comments.values()
    return str(comment["body"])


async def test_app_prompts_carry_scopes_from_the_head_tarball_and_base_instructions(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    """The App's prompts held the diff alone; the PR's own AGENTS.md must not instruct it."""
    await _run_flow(fake_github, kimi, github_app_keys)
    prompts = _prompts(kimi)
    assert world.checked_lines(prompts) >= 2
    assert world.missing_scopes(prompts, world.HEAD) == []
    assert any("SNIPPET pkg/checkout.py" in world.block(p, "context") for p in prompts)
    for prompt in prompts:
        slot = world.instructions_slot(prompt)
        assert world.BASE_AGENTS.strip() in slot
        assert world.HEAD_AGENTS.strip() not in slot
    summary = _summary(fake_github)
    assert "Context: code from the head" in summary
    assert "`AGENTS.md`" in summary


async def test_tarball_redirect_is_followed_without_the_token(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    """The installation token must reach the API host only, never the archive's host."""
    await _run_flow(fake_github, kimi, github_app_keys)
    (asked,) = fake_github.calls_to("GET", TARBALL)
    assert asked.status == 302
    assert asked.headers["authorization"].startswith("token ")
    (served,) = [c for c in fake_github.calls if c.path.startswith(CODELOAD_PREFIX)]
    assert served.status == 200
    assert "authorization" not in served.headers


async def test_reader_tarball_unpacks_to_the_head_files_within_its_cap(
    fake_github: FakeGitHub, github_app_keys: AppKeys
) -> None:
    _pull(fake_github)
    head = fake_github.repos["octo/widgets"].pulls[PR].head_sha
    settings = load_settings(
        product_env(
            "redis://127.0.0.1:9/0",
            GITHUB_API_URL=fake_github.url,
            GITHUB_APP_ID=str(TEST_APP_ID),
            GITHUB_APP_PRIVATE_KEY=github_app_keys.private_pem.reveal(),
        )
    )
    async with github_http_client() as http:
        reader = GitHubReader(
            RepoRef("octo", "widgets"), token_source(settings.github, http), api_url=fake_github.url
        )
        data = await reader.tarball(head)
        with pytest.raises(TarballTooLarge, match="cap") as refused:
            await reader.tarball(head, max_bytes=100)  # a huge repository costs bounded memory
        await reader.close()
    assert "signed-url-secret" not in str(refused.value)
    source = ArchiveSource.from_tar(io.BytesIO(data))
    assert source.read("pkg/orders.py") == world.ORDERS_HEAD


async def test_a_failed_tarball_reviews_without_context_and_says_so(
    fake_github: FakeGitHub, kimi: FakeKimi, github_app_keys: AppKeys
) -> None:
    fake_github.fail_next("GET", TARBALL, 502)
    outcome = await _run_flow(fake_github, kimi, github_app_keys)
    prompts = _prompts(kimi)
    assert prompts
    assert all("<<<UNTRUSTED context" not in p for p in prompts)
    assert outcome.result is not None
    summary = _summary(fake_github)
    assert "Context: reviewed without repository context" in summary
    assert "502" in summary
