"""Everything the bot writes on a pull request: ONE review, the sticky summary, check runs.

`ReviewPoster.post_review` is idempotent: it lists the bot's reviews first
and returns the one already posted for this head (and run). Otherwise it
posts one review; on a 422 it follows `review.rejections.recovery_for`
(demote named comments, collapse ranges, or find the refused comments with
PENDING probe reviews that are deleted at once), then posts the final review
once, checking again before every re-post that a 422 left no review behind.
It never posts one request per comment.

The pure decisions live in worker/review (render, rejections, fingerprint,
check_run); this module only does the HTTP, through `GitHubRest` (paced,
rate-limit aware).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

import msgspec
import structlog

from worker.github.errors import GitHubRequestFailed
from worker.github.identity import BotIdentity
from worker.github.rest import GitHubRest
from worker.review.check_run import CheckRunUpdate
from worker.review.findings import Placement, SummaryFinding, demote_rejected
from worker.review.fingerprint import (
    already_reviewed,
    earlier_fingerprints,
    is_summary_comment,
)
from worker.review.links import web_host
from worker.review.rejections import (
    Bisection,
    ClearPendingThenRetry,
    Repost,
    Stop,
    read_rejection,
    recovery_for,
)
from worker.review.render import review_comment, review_payload

log = structlog.get_logger(__name__)

CHECK_RUN_NAME: Final = "Kimi review"
# First post, a re-post after a demotion or range collapse, one after the
# bisection, and a last one with every comment in the summary.
MAX_REVIEW_POSTS: Final = 5

Outcome = Literal["posted", "already_posted", "commit_moved"]


class PostedReview(msgspec.Struct, frozen=True, kw_only=True):
    """What `post_review` did; `placement` is what the review and the summary must show."""

    outcome: Outcome
    placement: Placement
    review_id: int | None = None
    html_url: str | None = None
    demoted: list[SummaryFinding] = msgspec.field(default_factory=list)  # refused by GitHub
    probes: int = 0  # pending reviews posted (and deleted) to find refused comments


class ReviewPoster:
    """The write side of one pull request's repository (see the module docstring)."""

    def __init__(
        self,
        rest: GitHubRest,
        *,
        bot_login: str | None = None,
        identity: BotIdentity | None = None,
    ) -> None:
        self.rest = rest
        # e.g. "kimi-review[bot]"; None: any Bot author (no App: a plain token's run).
        self._bot_login = bot_login
        self._identity = identity  # learns the login from GitHub when it is not known
        # Model-written links stay clickable only to this host (review.links).
        self.link_host = web_host(rest.api_url)

    # --- the review ------------------------------------------------------------
    async def post_review(
        self,
        pr_number: int,
        head_sha: str,
        placement: Placement,
        *,
        run: str | None = None,
        fence: Callable[[], Awaitable[None]] | None = None,
    ) -> PostedReview:
        """Post the ONE review of `head_sha` (see the module docstring).

        `fence` runs right before each review POST is sent (after the listing
        of reviews and the pacer's wait) and raises when this process may no
        longer post: another worker that took the review over posts it.
        """
        original = placement
        current = placement
        ranges_collapsed = False
        pending_cleared = False
        probes = 0
        for attempt in range(MAX_REVIEW_POSTS):
            found = await self._existing_review(pr_number, head_sha, run)
            if found is not None:
                return self._posted(found, "already_posted", original, current, probes)
            if attempt == MAX_REVIEW_POSTS - 1:  # last chance: nothing inline can be refused
                current = demote_rejected(current, range(len(current.inline)))
            response = await self.rest.request(
                "POST",
                f"{self._pull(pr_number)}/reviews",
                json=review_payload(current, head_sha=head_sha, run=run, link_host=self.link_host),
                what=f"posting the review of pull request #{pr_number}",
                accept=frozenset({422}),
                before_send=fence,
            )
            if response.status_code != 422:
                return self._posted(response.json(), "posted", original, current, probes)
            rejection = read_rejection(response.content)
            log.info("review refused", pr=pr_number, kinds=sorted(rejection.kinds))
            step = recovery_for(rejection, current, ranges_collapsed=ranges_collapsed)
            if isinstance(step, Stop):
                return PostedReview(outcome="commit_moved", placement=current, probes=probes)
            if isinstance(step, ClearPendingThenRetry):
                if pending_cleared:  # it came back: give up on inline comments
                    current = demote_rejected(current, range(len(current.inline)))
                pending_cleared = True
                await self._delete_pending_reviews(pr_number)
            elif isinstance(step, Repost):
                ranges_collapsed |= len(step.placement.inline) == len(current.inline)
                current = step.placement
            else:
                current, used = await self._bisect(pr_number, head_sha, current, step)
                probes += used
        raise GitHubRequestFailed(
            f"pull request #{pr_number}: GitHub refused the review {MAX_REVIEW_POSTS} times",
            status=422,
        )

    async def find_review(
        self, pr_number: int, head_sha: str, run: str | None = None
    ) -> PostedReview | None:
        """The bot's review already posted for this head (and run), if any."""
        found = await self._existing_review(pr_number, head_sha, run)
        if found is None:
            return None
        empty = Placement(inline=[], in_summary=[], already_posted=[], merged_duplicates=0)
        return self._posted(found, "already_posted", empty, empty, 0)

    async def earlier_fingerprints(self, pr_number: int) -> frozenset[str]:
        """Fingerprints of the bot's inline comments already on the PR: not to be repeated."""
        await self._know_self()
        comments = await self.rest.pages(
            f"{self._pull(pr_number)}/comments", what=f"listing review comments of #{pr_number}"
        )
        return earlier_fingerprints(c.get("body") for c in comments if self._is_ours(c))

    async def _bisect(
        self, pr_number: int, head_sha: str, placement: Placement, state: Bisection
    ) -> tuple[Placement, int]:
        """Find the refused comments with pending probe reviews; the placement without them."""
        used = 0
        while (probe := state.next_probe()) is not None:
            # No `event`: a PENDING review only its author sees. No body, so no
            # review marker: a probe left behind is never taken for the review.
            payload = {
                "commit_id": head_sha,
                "comments": [
                    review_comment(placement.inline[i], link_host=self.link_host) for i in probe
                ],
            }
            response = await self.rest.request(
                "POST",
                f"{self._pull(pr_number)}/reviews",
                json=payload,
                what=f"probing {len(probe)} comments on pull request #{pr_number}",
                accept=frozenset({422}),
            )
            used += 1
            accepted = response.status_code != 422
            if accepted:
                await self._delete_review(pr_number, int(response.json()["id"]))
            state = state.record(accepted)
        return state.apply(placement), used

    async def _existing_review(
        self, pr_number: int, head_sha: str, run: str | None
    ) -> dict[str, Any] | None:
        await self._know_self()
        reviews = await self.rest.pages(
            f"{self._pull(pr_number)}/reviews", what=f"listing reviews of #{pr_number}"
        )
        for review in reviews:
            body = review.get("body")
            if self._is_ours(review) and already_reviewed([body], head_sha, run):
                return review
        return None

    async def _delete_pending_reviews(self, pr_number: int) -> None:
        await self._know_self()
        reviews = await self.rest.pages(
            f"{self._pull(pr_number)}/reviews", what=f"listing reviews of #{pr_number}"
        )
        for review in reviews:
            if self._is_ours(review) and review.get("state") == "PENDING":
                await self._delete_review(pr_number, int(review["id"]))

    async def _delete_review(self, pr_number: int, review_id: int) -> None:
        await self.rest.request(
            "DELETE",
            f"{self._pull(pr_number)}/reviews/{review_id}",
            what=f"deleting pending review {review_id} of #{pr_number}",
        )

    def _posted(
        self,
        review: dict[str, Any],
        outcome: Outcome,
        original: Placement,
        current: Placement,
        probes: int,
    ) -> PostedReview:
        before = {f.fingerprint for f in original.in_summary}
        demoted = [f for f in current.in_summary if f.fingerprint not in before]
        log.info("review posted", outcome=outcome, review_id=review.get("id"), demoted=len(demoted))
        return PostedReview(
            outcome=outcome,
            placement=current,
            review_id=int(review["id"]),
            html_url=review.get("html_url"),
            demoted=demoted,
            probes=probes,
        )

    # --- summary, check runs, reactions ------------------------------------------
    async def upsert_summary(self, pr_number: int, body: str) -> int:
        """Edit the bot's sticky summary comment in place, or create it; its id."""
        await self._know_self()
        repo = self.rest.repo_path
        comments = await self.rest.pages(
            f"{repo}/issues/{pr_number}/comments", what=f"listing comments of #{pr_number}"
        )
        for comment in comments:
            if self._is_ours(comment) and is_summary_comment(comment.get("body")):
                comment_id = int(comment["id"])
                await self.rest.request(
                    "PATCH",
                    f"{repo}/issues/comments/{comment_id}",
                    json={"body": body},
                    what=f"editing the summary of #{pr_number}",
                )
                return comment_id
        return await self.comment(pr_number, body)

    async def may_command(self, login: str) -> bool:
        """Whether `login` has write access (admin, maintain, write) to the repository.

        The receiver already drops commands from outside the repository
        (author_association); a collaborator with read access only is caught here.
        """
        response = await self.rest.request(
            "GET",
            f"{self.rest.repo_path}/collaborators/{login}/permission",
            what=f"checking {login}'s permission",
            accept=frozenset({404}),
        )
        if response.status_code == 404:
            return False
        return response.json().get("permission") in ("admin", "maintain", "write")

    async def comment(self, pr_number: int, body: str) -> int:
        """A new comment on the PR's conversation (command answers, a review abandoned)."""
        response = await self.rest.request(
            "POST",
            f"{self.rest.repo_path}/issues/{pr_number}/comments",
            json={"body": body},
            what=f"commenting on #{pr_number}",
        )
        return int(response.json()["id"])

    async def start_check(
        self, head_sha: str, update: CheckRunUpdate, *, external_id: str | None = None
    ) -> int:
        """`POST .../check-runs` named "Kimi review" on `head_sha`; the check run's id."""
        payload = {"name": CHECK_RUN_NAME, "head_sha": head_sha, **update.to_payload()}
        if external_id is not None:
            payload["external_id"] = external_id
        response = await self.rest.request(
            "POST",
            f"{self.rest.repo_path}/check-runs",
            json=payload,
            what=f"starting the check run on {head_sha[:12]}",
        )
        return int(response.json()["id"])

    async def find_open_check(self, head_sha: str, external_id: str) -> int | None:
        """The bot's check run on `head_sha` tagged `external_id` and not completed, if any.

        A worker that crashed between creating its check run and saving the id
        left it "in progress": the next attempt takes it over instead of
        leaving it stuck beside a second one. One page of 100 runs of our name
        on one commit is plenty (a few per review at most).
        https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference
        """
        response = await self.rest.request(
            "GET",
            f"{self.rest.repo_path}/commits/{head_sha}/check-runs",
            params={"check_name": CHECK_RUN_NAME, "filter": "all", "per_page": 100},
            what=f"listing check runs of {head_sha[:12]}",
        )
        body = response.json()
        runs = body.get("check_runs") if isinstance(body, dict) else None
        for run in runs if isinstance(runs, list) else []:
            if (
                isinstance(run, dict)
                and run.get("external_id") == external_id
                and run.get("status") != "completed"
            ):
                return int(run["id"])
        return None

    async def update_check(self, check_run_id: int, update: CheckRunUpdate) -> None:
        """`PATCH .../check-runs/{id}` with the new status and text."""
        await self.rest.request(
            "PATCH",
            f"{self.rest.repo_path}/check-runs/{check_run_id}",
            json=update.to_payload(),
            what=f"updating check run {check_run_id}",
        )

    async def react(self, comment_id: int, content: str = "eyes") -> None:
        """A reaction on an issue comment (a command seen: 👀)."""
        await self.rest.request(
            "POST",
            f"{self.rest.repo_path}/issues/comments/{comment_id}/reactions",
            json={"content": content},
            what=f"reacting to comment {comment_id}",
        )

    # --- plumbing ----------------------------------------------------------------
    def _pull(self, pr_number: int) -> str:
        return f"{self.rest.repo_path}/pulls/{pr_number}"

    async def _know_self(self) -> None:
        """Learn the bot's login before telling its items from others' (see `identity`)."""
        if self._bot_login is None and self._identity is not None:
            self._bot_login = await self._identity.login()

    def _is_ours(self, item: dict[str, Any]) -> bool:
        user = item.get("user")
        if not isinstance(user, dict) or user.get("type") != "Bot":
            return False
        return self._bot_login is None or user.get("login") == self._bot_login
