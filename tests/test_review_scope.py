"""Incremental review scope: since the last reviewed head, or in full after a force-push."""

from __future__ import annotations

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.client import GitHubReader
from worker.review.scope import review_scope

COMPARE = "/repos/{o}/{r}/compare/{basehead}"


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    repo = fake_github.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"a.py": "a = 1\n", "b.py": "b = 1\n"}, branch="main")
    repo.commit({"a.py": "a = 2\n"}, parent=base, branch="feature", message="first")
    repo.open_pull(1, base="main", head="feature")
    return repo


async def test_the_first_review_is_full(repo: FakeRepo, reader: GitHubReader) -> None:
    scope = await review_scope(reader, await reader.pull_request(1), last_reviewed_sha=None)
    assert (scope.mode, scope.reason) == ("full", "first review of this pull request")
    assert [f.path for f in scope.files] == ["a.py"]


async def test_a_push_reviews_only_what_changed_since_the_last_reviewed_head(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    reviewed = repo.branches["feature"]
    repo.push(1, repo.commit({"b.py": "b = 2\n"}, parent=reviewed))
    scope = await review_scope(reader, await reader.pull_request(1), last_reviewed_sha=reviewed)
    assert scope.mode == "incremental"
    assert scope.since_sha == reviewed
    assert [(f.path, f.patch) for f in scope.files] == [("b.py", "@@ -1 +1 @@\n-b = 1\n+b = 2")]
    # comments still anchor on the whole PR diff
    assert sorted(f.path for f in scope.pr_files.files) == ["a.py", "b.py"]


async def test_a_force_push_falls_back_to_a_full_review_and_says_why(
    fake_github: FakeGitHub, repo: FakeRepo, reader: GitHubReader
) -> None:
    reviewed = repo.branches["feature"]
    rewritten = repo.commit({"a.py": "a = 3\n"}, parent=repo.branches["main"], message="amended")
    repo.push(1, rewritten)
    scope = await review_scope(reader, await reader.pull_request(1), last_reviewed_sha=reviewed)
    assert scope.mode == "full"
    assert "force-push" in scope.reason
    assert "diverged" in scope.reason
    assert [(f.path, f.patch) for f in scope.files] == [("a.py", "@@ -1 +1 @@\n-a = 1\n+a = 3")]
    assert len(fake_github.calls_to("GET", COMPARE)) == 1


async def test_a_last_reviewed_commit_github_no_longer_knows_means_a_full_review(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    repo.push(1, repo.commit({"b.py": "b = 2\n"}, branch="feature"))
    scope = await review_scope(reader, await reader.pull_request(1), last_reviewed_sha="f" * 40)
    assert scope.mode == "full"
    assert "no longer exists" in scope.reason


async def test_an_already_reviewed_head_has_nothing_new(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    pr = await reader.pull_request(1)
    scope = await review_scope(reader, pr, last_reviewed_sha=pr.head_sha)
    assert (scope.mode, scope.files) == ("nothing_new", [])


async def test_a_merge_of_the_base_branch_brings_nothing_of_the_authors_to_review(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    reviewed = repo.branches["feature"]
    main = repo.commit({"c.py": "c = 1\n"}, branch="main")
    merged = repo.commit(
        {"c.py": "c = 1\n"}, parents=[reviewed, main], message="Merge main into feature"
    )
    repo.push(1, merged)
    scope = await review_scope(reader, await reader.pull_request(1), last_reviewed_sha=reviewed)
    assert scope.mode == "nothing_new"


async def test_review_full_ignores_the_last_reviewed_head(
    repo: FakeRepo, reader: GitHubReader
) -> None:
    pr = await reader.pull_request(1)
    scope = await review_scope(reader, pr, last_reviewed_sha=pr.head_sha, full=True)
    assert scope.mode == "full"
    assert [f.path for f in scope.files] == ["a.py"]
