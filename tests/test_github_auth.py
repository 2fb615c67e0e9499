"""GitHub App auth against the fake GitHub: JWT, per-repo tokens, caching, refusals."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from tests.fakes.github_helpers import (
    AppKeys,
    app_tokens,
    generate_app_keys,
    reader_for,
)
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.config import GitHubSettings
from worker.github.auth import (
    AppTokenSource,
    RepoRef,
    StaticTokenSource,
    make_app_jwt,
    token_source,
)
from worker.github.errors import GitHubAuthError, GitHubNotFound
from worker.secrets import Secret

ACCESS_TOKENS = "/app/installations/{id}/access_tokens"


def _repo_with_pr(fake: FakeGitHub, name: str = "octo/widgets", installation: int = 7) -> FakeRepo:
    repo = fake.add_repo(name, installation_id=installation)
    base = repo.commit({"app.py": "x = 1\n"}, branch="main")
    repo.commit({"app.py": "x = 2\n"}, parent=base, branch="feature")
    repo.open_pull(1, base="main", head="feature")
    return repo


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_app_jwt_is_rs256_backdated_and_expires_within_ten_minutes(
    github_app_keys: AppKeys,
) -> None:
    now = 1_700_000_000.0
    token = make_app_jwt(4242, github_app_keys.private_pem, now=now).reveal()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        github_app_keys.public_pem,
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == "4242"
    assert claims["iat"] == now - 60
    assert 0 < claims["exp"] - now <= 600


async def test_installation_token_is_scoped_to_the_one_repository(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _repo_with_pr(fake_github)
    other = _repo_with_pr(fake_github, "octo/secrets")  # same installation
    tokens = app_tokens(fake_github, github_app_keys, github_http)

    pr = await reader_for(fake_github, repo, tokens).pull_request(1)
    assert pr.number == 1
    (mint,) = fake_github.calls_to("POST", ACCESS_TOKENS)
    assert mint.json == {"repository_ids": [repo.id]}
    assert mint.headers["authorization"].startswith("Bearer ")

    token = (await tokens.token_for(RepoRef("octo", "widgets", repo.id, 7))).reveal()
    answer = await github_http.get(
        f"{fake_github.url}/repos/octo/secrets/pulls/1",
        headers={"Authorization": f"token {token}"},
    )
    assert answer.status_code == 404, "a token minted for one repo must not read another"
    assert other.id != repo.id


async def test_token_is_reused_until_shortly_before_it_expires(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _repo_with_pr(fake_github)
    clock = Clock()
    fake_github.clock = clock
    tokens = app_tokens(fake_github, github_app_keys, github_http, clock=clock, refresh_margin=300)
    reader = reader_for(fake_github, repo, tokens)

    await reader.pull_request(1)
    clock.now += 3000  # 50 minutes: still 10 minutes left, more than the margin
    await reader.pull_request(1)
    assert len(fake_github.calls_to("POST", ACCESS_TOKENS)) == 1

    clock.now += 400  # 56m40s: inside the 5-minute margin
    await reader.pull_request(1)
    assert len(fake_github.calls_to("POST", ACCESS_TOKENS)) == 2
    await reader.close()


async def test_many_tasks_asking_at_once_mint_a_single_token(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _repo_with_pr(fake_github)
    tokens = app_tokens(fake_github, github_app_keys, github_http)
    ref = RepoRef(repo.owner, repo.name, repo.id, 7)
    found = await asyncio.gather(*(tokens.token_for(ref) for _ in range(20)))
    assert len({t.reveal() for t in found}) == 1
    assert len(fake_github.calls_to("POST", ACCESS_TOKENS)) == 1


async def test_a_revoked_token_is_replaced_once_and_the_read_succeeds(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _repo_with_pr(fake_github)
    tokens = app_tokens(fake_github, github_app_keys, github_http)
    reader = reader_for(fake_github, repo, tokens)
    await reader.pull_request(1)
    fake_github.grants.clear()  # GitHub forgot every token (revoked, or expired early)

    pr = await reader.pull_request(1)
    assert pr.number == 1
    assert len(fake_github.calls_to("POST", ACCESS_TOKENS)) == 2
    await reader.close()


async def test_a_key_of_another_app_is_a_clear_auth_error(
    fake_github: FakeGitHub, github_http: httpx.AsyncClient
) -> None:
    stranger = generate_app_keys()
    repo = _repo_with_pr(fake_github)
    tokens = AppTokenSource(
        api_url=fake_github.url,
        app_id=fake_github.app_id,
        private_key=stranger.private_pem,
        http=github_http,
    )
    with pytest.raises(GitHubAuthError) as caught:
        await tokens.token_for(RepoRef(repo.owner, repo.name, repo.id, 7))
    assert "GITHUB_APP_ID" in str(caught.value)
    assert stranger.private_pem.reveal()[40:80] not in str(caught.value)


async def test_installation_id_is_looked_up_from_the_repository(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _repo_with_pr(fake_github, installation=99)
    tokens = app_tokens(fake_github, github_app_keys, github_http)
    assert await tokens.installation_id("octo", "widgets") == 99

    # The CLI knows only owner/name: installation and repo are resolved by name.
    reader = reader_for(fake_github, repo, tokens)
    reader.repo = RepoRef("octo", "widgets")
    assert (await reader.pull_request(1)).number == 1
    (mint,) = fake_github.calls_to("POST", "/app/installations/99/access_tokens")
    assert mint.json == {"repositories": ["widgets"]}
    assert len(fake_github.calls_to("GET", "/repos/{o}/{r}/installation")) == 1
    await reader.close()


async def test_a_repository_without_the_app_is_not_found(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    fake_github.add_repo("octo/elsewhere")
    tokens = app_tokens(fake_github, github_app_keys, github_http)
    with pytest.raises(GitHubNotFound):
        await tokens.installation_id("octo", "elsewhere")


async def test_cli_token_is_used_as_is_when_preferred(
    fake_github: FakeGitHub, github_app_keys: AppKeys, github_http: httpx.AsyncClient
) -> None:
    repo = _repo_with_pr(fake_github)
    fake_github.add_personal_token("ghp_" + "a" * 36)
    settings = GitHubSettings(
        api_url=fake_github.url,
        app_id=fake_github.app_id,
        private_key=github_app_keys.private_pem,
        token=Secret("ghp_" + "a" * 36),
    )
    cli = token_source(settings, github_http, prefer_token=True)
    worker = token_source(settings, github_http)
    assert isinstance(cli, StaticTokenSource)
    assert isinstance(worker, AppTokenSource)
    reader = reader_for(fake_github, repo, cli)
    assert (await reader.pull_request(1)).head_sha == repo.branches["feature"]
    assert fake_github.calls_to("POST", ACCESS_TOKENS) == []
    await reader.close()
