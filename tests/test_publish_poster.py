"""ReviewPoster against the fake GitHub (real HTTP): one review, 422 recovery, summary, checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.github_http import ApiError, Reply, Request, Route
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.auth import RepoRef, StaticTokenSource
from worker.github.errors import GitHubRateLimited
from worker.github.pacing import WritePacer
from worker.github.rest import GitHubRest
from worker.model_answer import Finding
from worker.publish.check_run import CheckRunOutput, CheckRunUpdate, check_in_progress
from worker.publish.findings import InlineFinding, Placement
from worker.publish.fingerprint import SUMMARY_MARKER
from worker.publish.poster import ReviewPoster
from worker.secrets import Secret

TOKEN = "ghp_" + "p" * 36
OLD = "".join(f"line {i}\n" for i in range(1, 41))
NEW = OLD.replace("line 3\n", "line three\n").replace("line 30\n", "line thirty\n")
REVIEWS = "/repos/octo/widgets/pulls/1/reviews"


class RecordedTime:
    """A clock that moves only when the code under test sleeps; every sleep recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def repo(fake_github: FakeGitHub) -> FakeRepo:
    fake_github.add_personal_token(TOKEN)
    repo = fake_github.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"a.py": OLD}, branch="main")
    repo.commit({"a.py": NEW}, parent=base, branch="feature")
    repo.open_pull(1, base="main", head="feature")
    return repo


@pytest.fixture
def time_(fake_github: FakeGitHub) -> RecordedTime:
    return RecordedTime()


@pytest.fixture
async def poster(
    fake_github: FakeGitHub, repo: FakeRepo, time_: RecordedTime
) -> AsyncIterator[ReviewPoster]:
    pacer = WritePacer(clock=time_.clock, sleep=time_.sleep)
    ref = RepoRef(repo.owner, repo.name, repo.id, repo.installation_id)
    async with httpx.AsyncClient(timeout=10) as http:
        rest = GitHubRest(
            ref, StaticTokenSource(Secret(TOKEN)), http, api_url=fake_github.url, pacer=pacer
        )
        yield ReviewPoster(rest, bot_login="kimi-review[bot]")


def head(repo: FakeRepo) -> str:
    return repo.pulls[1].head_sha


def inline(line: int, n: int, *, side: str = "RIGHT") -> InlineFinding:
    finding = Finding(path="a.py", line=line, title=f"finding {n}", body=f"why {n}", side=side)  # type: ignore[arg-type]
    return InlineFinding(finding=finding, fingerprint=f"{n:016x}", line=line)


def placement(*items: InlineFinding) -> Placement:
    return Placement(inline=list(items), in_summary=[])


def final_posts(fake: FakeGitHub) -> list[dict[str, object]]:
    """The review POSTs that carried `event` (probes carry none)."""
    return [c.json for c in fake.calls_to("POST", REVIEWS) if "event" in (c.json or {})]


async def test_one_review_carries_every_comment(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    posted = await poster.post_review(1, head(repo), placement(inline(3, 1), inline(30, 2)))
    assert posted.outcome == "posted"
    assert posted.demoted == []
    assert [r["id"] for r in fake_github.written.reviews[1]] == [posted.review_id]
    assert len(fake_github.written.review_comments[1]) == 2
    assert len(final_posts(fake_github)) == 1


async def test_a_retried_post_finds_the_earlier_review_and_does_not_post_again(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    first = await poster.post_review(1, head(repo), placement(inline(3, 1)))
    again = await poster.post_review(1, head(repo), placement(inline(3, 1)))
    assert again.outcome == "already_posted"
    assert again.review_id == first.review_id
    assert len(fake_github.calls_to("POST", REVIEWS)) == 1


async def test_a_review_for_another_run_of_the_same_head_is_posted(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    await poster.post_review(1, head(repo), placement(inline(3, 1)))
    extra = await poster.post_review(1, head(repo), placement(inline(3, 1)), run="comment-9")
    assert extra.outcome == "posted"
    assert len(fake_github.written.reviews[1]) == 2


async def test_a_refused_comment_is_demoted_and_the_others_go_in_one_final_review(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    items = [inline(3, 1), inline(30, 2), inline(15, 3), inline(31, 4)]  # line 15: off the diff
    posted = await poster.post_review(1, head(repo), placement(*items))
    assert posted.outcome == "posted"
    assert [f.fingerprint for f in posted.demoted] == [f"{3:016x}"]
    assert posted.demoted[0].reason == "rejected"
    assert posted.probes > 0
    finals = final_posts(fake_github)
    assert len(finals) == 2  # the refused first attempt, then the one final review
    assert len(fake_github.written.reviews[1]) == 1  # every probe was deleted
    assert fake_github.written.reviews[1][0]["state"] == "COMMENTED"
    lines = sorted(c["line"] for c in fake_github.written.review_comments[1])
    assert lines == [3, 30, 31]
    assert fake_github.calls_to("DELETE", f"{REVIEWS}/{{review_id}}")


async def test_no_second_review_when_a_422_left_one_behind(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    """GitHub has been seen to answer 422 yet keep the review: the re-post must not happen."""
    create = next(
        r for r in fake_github.routes if r.method == "POST" and r.template.endswith("/reviews")
    )
    leaks = [1]

    def keep_then_refuse(request: Request) -> Reply:
        if not leaks:
            return create.handler(request)
        leaks.pop()
        create.handler(request)
        raise ApiError(422, "Unprocessable Entity", errors=["Line could not be resolved"])

    fake_github.routes.insert(
        0, Route("POST", create.template, create.pattern, keep_then_refuse, "repo")
    )
    posted = await poster.post_review(1, head(repo), placement(inline(3, 1)))
    assert posted.outcome == "already_posted"
    assert len(fake_github.written.reviews[1]) == 1
    assert len(fake_github.calls_to("POST", REVIEWS)) == 1 + posted.probes


async def test_a_secondary_rate_limit_is_waited_out_then_one_review_posted(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster, time_: RecordedTime
) -> None:
    fake_github.secondary_rate_limit_next("POST", REVIEWS, retry_after=7)
    posted = await poster.post_review(1, head(repo), placement(inline(3, 1)))
    assert posted.outcome == "posted"
    assert 7 in time_.sleeps
    assert len(fake_github.written.reviews[1]) == 1


async def test_a_long_secondary_rate_limit_is_raised_for_the_job_to_defer(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster, time_: RecordedTime
) -> None:
    fake_github.secondary_rate_limit_next("POST", REVIEWS, retry_after=600)
    with pytest.raises(GitHubRateLimited) as raised:
        await poster.post_review(1, head(repo), placement(inline(3, 1)))
    assert raised.value.retry_after == 600
    assert 600 not in time_.sleeps
    assert TOKEN not in str(raised.value)


async def test_the_summary_is_created_then_edited_in_place(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    first = await poster.upsert_summary(1, f"{SUMMARY_MARKER}\nfirst")
    second = await poster.upsert_summary(1, f"{SUMMARY_MARKER}\nsecond")
    assert first == second
    assert list(fake_github.written.issue_comments) == [first]
    assert fake_github.written.issue_comments[first]["body"].endswith("second")
    assert len(fake_github.calls_to("PATCH", "/repos/octo/widgets/issues/comments/{id}")) == 1


async def test_the_check_run_is_created_then_updated(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    run_id = await poster.start_check(head(repo), check_in_progress(0, 4))
    done = CheckRunUpdate(
        status="completed",
        conclusion="success",
        output=CheckRunOutput(title="2 findings", summary="done"),
    )
    await poster.update_check(run_id, done)
    stored = fake_github.written.check_runs[run_id]
    assert stored["name"] == "Kimi review"
    assert stored["head_sha"] == head(repo)
    assert stored["status"] == "completed"
    assert stored["conclusion"] == "success"
    created = fake_github.calls_to("POST", "/repos/octo/widgets/check-runs")[0].json
    assert "conclusion" not in created  # no null for optional fields


async def test_a_command_gets_an_eyes_reaction(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    await poster.react(4242)
    assert fake_github.written.reactions[0]["content"] == "eyes"


async def test_content_creating_calls_are_at_least_one_second_apart(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster, time_: RecordedTime
) -> None:
    run_id = await poster.start_check(head(repo), check_in_progress(0, 2))
    await poster.update_check(run_id, check_in_progress(1, 2))
    await poster.upsert_summary(1, f"{SUMMARY_MARKER}\nhi")
    await poster.react(1)
    assert time_.sleeps == [1.0, 1.0, 1.0]  # the reads in between are not paced


async def test_pacing_keeps_to_80_writes_a_minute() -> None:
    time_ = RecordedTime()
    pacer = WritePacer(clock=time_.clock, sleep=time_.sleep, min_interval=0.0)
    for _ in range(81):
        async with pacer.turn(7):
            pass
    assert time_.sleeps == [60.0]
    other = WritePacer(clock=time_.clock, sleep=time_.sleep)
    async with other.turn(7):
        pass
    async with other.turn(8):  # another installation has its own lane
        pass
    assert time_.sleeps == [60.0]


async def test_a_leftover_pending_review_is_deleted_then_the_review_posted(
    fake_github: FakeGitHub, repo: FakeRepo, poster: ReviewPoster
) -> None:
    """A probe whose DELETE was lost blocks the next review: it is cleared, then one post."""
    async with httpx.AsyncClient(base_url=fake_github.url) as api:
        left = await api.post(
            REVIEWS,
            headers={"Authorization": f"token {TOKEN}"},
            json={"commit_id": head(repo), "comments": [{"path": "a.py", "line": 3, "body": "x"}]},
        )
    assert left.json()["state"] == "PENDING"
    pending = {
        "message": "Unprocessable Entity",
        "errors": ["User can only have one pending review per pull request"],
    }
    fake_github.fail_next("POST", REVIEWS, 422, body=pending)
    posted = await poster.post_review(1, head(repo), placement(inline(3, 1)))
    assert posted.outcome == "posted"
    assert posted.demoted == []
    assert [r["state"] for r in fake_github.written.reviews[1]] == ["COMMENTED"]
    assert len(final_posts(fake_github)) == 2
