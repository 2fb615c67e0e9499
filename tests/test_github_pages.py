"""Listings against the fake GitHub: links off GITHUB_API_URL refused, lookups from the newest end.

GitHub lists reviews and comments oldest first, 100 a page; the bot reads at
most 30 pages. Its own review and sticky summary are usually the newest items,
so they are looked up from the last page back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.fakes.github_http import Reply, Request, Route, paginate
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.auth import RepoRef, StaticTokenSource
from worker.github.pacing import WritePacer
from worker.github.paging import GitHubForeignLink, check_link, origin
from worker.github.rest import GitHubRest
from worker.publish.fingerprint import SUMMARY_MARKER, review_marker
from worker.publish.poster import ReviewPoster
from worker.secrets import Secret

TOKEN = "ghp_" + "q" * 36
REVIEWS = "/repos/octo/widgets/pulls/1/reviews"
BOT = {"login": "kimi-review[bot]", "type": "Bot"}
HUMAN = {"login": "octocat", "type": "User"}
BUSY = 3_050  # more than the 3,000 items (30 pages) a listing reads


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    fake_github.add_personal_token(TOKEN)
    repo = fake_github.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"a.py": "x = 1\n"}, branch="main")
    repo.commit({"a.py": "x = 2\n"}, parent=base, branch="feature")
    repo.open_pull(1, base="main", head="feature")
    return repo


@pytest.fixture
async def poster(fake_github: FakeGitHub, repo: FakeRepo) -> AsyncIterator[ReviewPoster]:
    ref = RepoRef(repo.owner, repo.name, repo.id, repo.installation_id)
    async with httpx.AsyncClient(timeout=10) as http:
        rest = GitHubRest(
            ref, StaticTokenSource(Secret(TOKEN)), http, api_url=fake_github.url, pacer=WritePacer()
        )
        yield ReviewPoster(rest, bot_login="kimi-review[bot]")


def _review(n: int, user: dict[str, str], body: str = "") -> dict[str, Any]:
    return {"id": 10_000 + n, "user": user, "body": body or f"review {n}", "state": "COMMENTED"}


# --- links off GITHUB_API_URL --------------------------------------------------------------
def _next_link_to(fake: FakeGitHub, target: str) -> None:
    """The reviews listing answers one page whose `next` link points at `target`."""

    def handler(request: Request) -> Reply:
        reply = paginate(request, [_review(1, HUMAN)])
        reply.headers["Link"] = f'<{target}>; rel="next"'
        return reply

    listing = next(r for r in fake.routes if r.method == "GET" and r.pattern.fullmatch(REVIEWS))
    fake.routes.insert(0, Route("GET", listing.template, listing.pattern, handler, "repo"))


@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://localhost:{port}/repos/octo/widgets/pulls/1/reviews?page=2",  # another host
        "https://127.0.0.1:{port}/repos/octo/widgets/pulls/1/reviews?page=2",  # another scheme
        "http://127.0.0.1:1/repos/octo/widgets/pulls/1/reviews?page=2",  # another port
    ],
)
async def test_a_next_link_off_the_api_origin_is_not_followed_and_no_token_goes_there(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster, elsewhere: str
) -> None:
    """Regression: absolute `Link: next` URLs were followed wherever they pointed, with the
    installation token. A listing that stopped quietly could miss the bot's own review and
    post a second one, so the listing fails with a typed error the log explains."""
    port = httpx.URL(fake_github.url).port
    _next_link_to(fake_github, elsewhere.format(port=port))
    with pytest.raises(GitHubForeignLink, match="not at GITHUB_API_URL's"):
        await poster.rest.pages(REVIEWS, what="listing reviews")
    hosts = {c.headers.get("host") for c in fake_github.calls_to("GET", REVIEWS)}
    assert hosts == {f"127.0.0.1:{port}"}  # never localhost, nor a second call at all
    assert len(fake_github.calls_to("GET", REVIEWS)) == 1


def test_the_origin_check_compares_scheme_host_and_port() -> None:
    api = "https://ghe.example.com/api/v3"
    check_link("/repos/o/r/pulls/1/reviews?page=2", api_url=api, what="x")
    check_link("https://ghe.example.com:443/api/v3/repos?page=2", api_url=api, what="x")
    for foreign in (
        "http://ghe.example.com/api/v3/repos?page=2",
        "https://ghe.example.com:8443/api/v3/repos?page=2",
        "https://ghe.example.com.evil.test/api/v3/repos?page=2",
        "https://evil.test/api/v3/repos?page=2",
    ):
        with pytest.raises(GitHubForeignLink):
            check_link(foreign, api_url=api, what="x")
    assert origin("https://api.github.com") == "https://api.github.com:443"


# --- lookups from the newest end (issue #12 item 7) ---------------------------------------
async def test_the_bots_review_is_found_on_a_pr_with_more_than_3000_reviews(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    """Regression: the listing stopped at 3,000 reviews (oldest first), so the bot's own
    review, the newest, was missed and the same head could be reviewed twice."""
    head = repo.pulls[1].head_sha
    reviews = [_review(n, HUMAN) for n in range(BUSY)]
    reviews.append(_review(BUSY, BOT, f"{review_marker(head)}\nReview"))
    fake_github.written.reviews[1] = reviews
    found = await poster.find_review(1, head)
    assert found is not None
    assert found.review_id == 10_000 + BUSY
    assert len(fake_github.calls_to("GET", REVIEWS)) == 2  # the first page, then the last


async def test_the_sticky_summary_is_edited_on_a_pr_with_more_than_3000_comments(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    """Regression: past 3,000 comments the summary was not found and a second one posted."""
    comments = fake_github.written.issue_comments
    for n in range(BUSY):
        comments[20_000 + n] = {"id": 20_000 + n, "issue_number": 1, "user": HUMAN, "body": "hi"}
    summary = {"id": 99_999, "issue_number": 1, "user": BOT, "body": f"{SUMMARY_MARKER}\nold"}
    comments[99_999] = summary
    assert await poster.upsert_summary(1, f"{SUMMARY_MARKER}\nnew") == 99_999
    assert comments[99_999]["body"].endswith("new")
    assert len(comments) == BUSY + 1


async def test_a_lookup_reads_no_page_past_its_match(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    fake_github.written.reviews[1] = [_review(n, HUMAN) for n in range(BUSY)]
    listed = await poster.rest.pages(
        REVIEWS, what="listing reviews", newest_first=True, until=lambda r: r["id"] == 12_950
    )
    assert listed[0]["id"] == 10_000 + BUSY - 1
    assert listed[-1]["id"] == 12_900  # the page of the match, read whole, and no further
    pages = [c.query.get("page", ["1"])[-1] for c in fake_github.calls_to("GET", REVIEWS)]
    assert pages == ["1", "31", "30"]


async def test_a_listing_cut_at_the_page_limit_is_logged(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    """Regression: listings stopped at 3,000 items without a word."""
    fake_github.written.reviews[1] = [_review(n, HUMAN) for n in range(BUSY)]
    with capture_logs() as logs:
        found = await poster.find_review(1, repo.pulls[1].head_sha)
        listed = await poster.rest.pages(REVIEWS, what="listing reviews")
    assert found is None
    assert len(listed) == 3_000
    cuts = [e for e in logs if e["event"] == "github_listing_cut"]
    assert len(cuts) == 2
    assert {c["what"] for c in cuts} == {"listing reviews of #1", "listing reviews"}


async def test_a_short_listing_is_read_once_newest_first(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    fake_github.written.reviews[1] = [_review(n, HUMAN) for n in range(3)]
    listed = await poster.rest.pages(REVIEWS, what="listing reviews", newest_first=True)
    seen = [r["id"] for r in listed]
    assert seen == [10_002, 10_001, 10_000]
    assert len(fake_github.calls_to("GET", REVIEWS)) == 1


async def test_newest_first_reads_every_page_once_back_to_the_first(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    fake_github.written.reviews[1] = [_review(n, HUMAN) for n in range(250)]
    listed = await poster.rest.pages(REVIEWS, what="listing reviews", newest_first=True)
    seen = [r["id"] for r in listed]
    assert seen == [10_000 + n for n in reversed(range(250))]
    pages = [c.query.get("page", ["1"])[-1] for c in fake_github.calls_to("GET", REVIEWS)]
    assert pages == ["1", "3", "2"]


async def test_a_full_listing_reads_each_page_once(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    """Regression: the next link was requested with `params={}`, which httpx takes as "no
    query": every page after the first was page 1 again, with GitHub's default 30 items."""
    fake_github.written.reviews[1] = [_review(n, HUMAN) for n in range(250)]
    listed = await poster.rest.pages(REVIEWS, what="listing reviews")
    assert [r["id"] for r in listed] == [10_000 + n for n in range(250)]
