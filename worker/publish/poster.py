"""The ONE review the bot writes on a pull request head; its other writes: `pr_writer`.

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
from worker.publish.findings import Placement, SummaryFinding, demote_rejected
from worker.publish.fingerprint import already_reviewed, earlier_fingerprints
from worker.publish.pr_writer import PullRequestWriter
from worker.publish.rejections import (
    Bisection,
    ClearPendingThenRetry,
    Repost,
    Stop,
    read_rejection,
    recovery_for,
)
from worker.publish.render import review_comment, review_payload

log = structlog.get_logger(__name__)

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


class ReviewPoster(PullRequestWriter):
    """The write side of one pull request's repository: the ONE review, and every other
    write (`PullRequestWriter`: summary, comments, check runs, reactions)."""

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
            f"{self._pull(pr_number)}/comments",
            what=f"listing review comments of #{pr_number}",
            newest_first=True,  # past the page limit, the latest are the ones to keep
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
            f"{self._pull(pr_number)}/reviews",
            what=f"listing reviews of #{pr_number}",
            newest_first=True,  # ours is usually the latest; no page is read past it
            until=lambda r: self._is_ours(r) and already_reviewed([r.get("body")], head_sha, run),
        )
        for review in reviews:
            body = review.get("body")
            if self._is_ours(review) and already_reviewed([body], head_sha, run):
                return review
        return None

    async def _delete_pending_reviews(self, pr_number: int) -> None:
        await self._know_self()
        reviews = await self.rest.pages(
            f"{self._pull(pr_number)}/reviews",
            what=f"listing reviews of #{pr_number}",
            newest_first=True,  # a probe left pending is among the latest
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
