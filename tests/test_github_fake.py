"""The fake GitHub answers like GitHub: errors, pagination, review validation, writes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.github_helpers import AppKeys, generate_app_keys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.auth import make_app_jwt

TOKEN = "ghp_" + "t" * 36
OLD = "".join(f"line {i}\n" for i in range(1, 31))
NEW = OLD.replace("line 3\n", "line three\n").replace("line 25\n", "line 25!\n")


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    fake_github.add_personal_token(TOKEN)
    repo = fake_github.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"a.py": OLD}, branch="main")
    repo.commit({"a.py": NEW}, parent=base, branch="feature")
    repo.open_pull(1, base="main", head="feature")
    return repo


@pytest.fixture
async def api(fake_github: FakeGitHub, repo: FakeRepo) -> AsyncIterator[httpx.AsyncClient]:
    auth = {"Authorization": f"token {TOKEN}"}
    async with httpx.AsyncClient(base_url=fake_github.url, headers=auth) as client:
        yield client


async def _review(api: httpx.AsyncClient, *comments: dict[str, object]) -> httpx.Response:
    body = {"event": "COMMENT", "body": "summary", "comments": list(comments)}
    return await api.post("/repos/octo/widgets/pulls/1/reviews", json=body)


async def test_a_review_with_comments_on_the_diff_is_accepted_and_kept(
    fake_github: FakeGitHub, api: httpx.AsyncClient
) -> None:
    answer = await _review(
        api,
        {"path": "a.py", "line": 3, "side": "RIGHT", "body": "x"},
        {"path": "a.py", "start_line": 2, "line": 4, "body": "range"},
        {"path": "a.py", "line": 3, "side": "LEFT", "body": "old"},
    )
    assert answer.status_code == 200
    assert answer.json()["state"] == "COMMENTED"
    assert len(fake_github.written.review_comments[1]) == 3
    listed = await api.get("/repos/octo/widgets/pulls/1/reviews")
    assert [r["id"] for r in listed.json()] == [answer.json()["id"]]


async def test_a_comment_off_the_diff_fails_the_whole_review_with_githubs_422(
    fake_github: FakeGitHub, api: httpx.AsyncClient
) -> None:
    answer = await _review(
        api,
        {"path": "a.py", "line": 3, "body": "fine"},
        {"path": "a.py", "line": 15, "body": "between hunks"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == ["Pull request review thread line must be part of the diff"]
    assert answer.json()["message"] == "Unprocessable Entity"
    assert fake_github.written.reviews[1] == []


async def test_a_range_across_two_hunks_and_an_unknown_path_are_refused(
    api: httpx.AsyncClient,
) -> None:
    across = await _review(api, {"path": "a.py", "start_line": 3, "line": 25, "body": "x"})
    assert across.json()["errors"] == [
        "Pull request review thread start line must be part of the same hunk as the line."
    ]
    elsewhere = await _review(api, {"path": "b.py", "line": 1, "body": "x"})
    assert elsewhere.json()["errors"] == ["Path could not be resolved"]


async def test_a_null_field_is_refused(api: httpx.AsyncClient) -> None:
    answer = await _review(api, {"path": "a.py", "line": 3, "start_line": None, "body": "x"})
    assert answer.status_code == 422
    assert "start_line" in answer.json()["message"]


async def test_the_whole_diff_media_type_is_refused_past_300_files(
    fake_github: FakeGitHub, repo: FakeRepo, api: httpx.AsyncClient
) -> None:
    diff = {"Accept": "application/vnd.github.diff"}
    small = await api.get("/repos/octo/widgets/pulls/1", headers=diff)
    assert small.status_code == 200
    assert small.text.startswith("diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@")
    repo.commit({f"f{i}.txt": "x\n" for i in range(301)}, branch="feature")
    repo.pulls[1].head_sha = repo.branches["feature"]
    big = await api.get("/repos/octo/widgets/pulls/1", headers=diff)
    assert big.status_code == 406
    assert big.json()["errors"][0]["code"] == "too_large"


async def test_pages_carry_a_link_header_and_per_page_stops_at_100(
    fake_github: FakeGitHub, repo: FakeRepo, api: httpx.AsyncClient
) -> None:
    repo.commit({f"f{i:03}.txt": "x\n" for i in range(250)}, branch="feature")
    repo.pulls[1].head_sha = repo.branches["feature"]
    first = await api.get("/repos/octo/widgets/pulls/1/files", params={"per_page": 500})
    assert len(first.json()) == 100
    assert first.headers["Link"] == (
        f'<{fake_github.url}/repos/octo/widgets/pulls/1/files?per_page=100&page=2>; rel="next", '
        f'<{fake_github.url}/repos/octo/widgets/pulls/1/files?per_page=100&page=3>; rel="last"'
    )
    assert first.headers["X-RateLimit-Limit"] == "5000"


async def test_injected_failures_answer_exactly_n_times(
    fake_github: FakeGitHub, api: httpx.AsyncClient
) -> None:
    fake_github.fail_next(
        "GET", "/repos/{o}/{r}/pulls/{n}", 502, times=2, headers={"X-Why": "test"}
    )
    statuses = [(await api.get("/repos/octo/widgets/pulls/1")).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert fake_github.calls[0].headers["authorization"] == f"token {TOKEN}"


async def test_jwts_of_another_key_and_expired_tokens_get_401(
    fake_github: FakeGitHub, github_app_keys: AppKeys, api: httpx.AsyncClient
) -> None:
    forged = make_app_jwt(fake_github.app_id, generate_app_keys().private_pem, now=time.time())
    answer = await api.get("/app", headers={"Authorization": f"Bearer {forged.reveal()}"})
    assert answer.status_code == 401
    good = make_app_jwt(fake_github.app_id, github_app_keys.private_pem, now=time.time())
    assert (
        await api.get("/app", headers={"Authorization": f"Bearer {good.reveal()}"})
    ).status_code == 200

    grant = fake_github.mint_token(7, None)
    fake_github.clock = lambda: time.time() + 3601
    expired = await api.get(
        "/repos/octo/widgets", headers={"Authorization": f"token {grant.token}"}
    )
    assert (expired.status_code, expired.json()["message"]) == (401, "Bad credentials")


async def test_comments_check_runs_reactions_and_redeliveries_are_written(
    fake_github: FakeGitHub, github_app_keys: AppKeys, api: httpx.AsyncClient
) -> None:
    made = await api.post("/repos/octo/widgets/issues/1/comments", json={"body": "sticky"})
    comment_id = made.json()["id"]
    await api.patch(f"/repos/octo/widgets/issues/comments/{comment_id}", json={"body": "edited"})
    listed = await api.get("/repos/octo/widgets/issues/1/comments")
    assert [c["body"] for c in listed.json()] == ["edited"]

    run = await api.post(
        "/repos/octo/widgets/check-runs", json={"name": "kimi-review", "head_sha": "abc"}
    )
    run_id = run.json()["id"]
    await api.patch(
        f"/repos/octo/widgets/check-runs/{run_id}",
        json={"status": "completed", "conclusion": "success"},
    )
    assert fake_github.written.check_runs[run_id]["conclusion"] == "success"

    eyes = await api.post(
        f"/repos/octo/widgets/issues/comments/{comment_id}/reactions", json={"content": "eyes"}
    )
    assert eyes.status_code == 201
    bad = await api.post(
        f"/repos/octo/widgets/issues/comments/{comment_id}/reactions", json={"content": "wow"}
    )
    assert bad.status_code == 422

    fake_github.written.deliveries.append({"id": 5, "status": "FAIL", "status_code": 502})
    jwt = make_app_jwt(fake_github.app_id, github_app_keys.private_pem, now=time.time()).reveal()
    app = {"Authorization": f"Bearer {jwt}"}
    assert (await api.get("/app/hook/deliveries", headers=app)).json()[0]["id"] == 5
    again = await api.post("/app/hook/deliveries/5/attempts", headers=app)
    assert again.status_code == 202
    assert fake_github.written.redelivered == [5]
