"""The bot's writes beside its review: the sticky summary, comments, reactions, check runs.

Also what every write needs: telling the bot's own items from others' (its
login, learnt from GitHub when it is not configured). `ReviewPoster`
(worker.publish.poster) adds the ONE review on top; this module is the
plain, one-request-per-write half, through `GitHubRest` (paced, rate-limit
aware).
"""

from __future__ import annotations

from typing import Any

from worker.github.identity import BotIdentity
from worker.github.rest import GitHubRest
from worker.publish.check_run import CHECK_RUN_NAME, CheckRunUpdate
from worker.publish.fingerprint import is_summary_comment
from worker.publish.links import web_host


class PullRequestWriter:
    """One repository's writes other than the review (see the module docstring)."""

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

    # --- summary, check runs, reactions ------------------------------------------
    async def upsert_summary(self, pr_number: int, body: str) -> int:
        """Edit the bot's sticky summary comment in place, or create it; its id."""
        await self._know_self()
        repo = self.rest.repo_path
        comments = await self.rest.pages(
            f"{repo}/issues/{pr_number}/comments",
            what=f"listing comments of #{pr_number}",
            newest_first=True,  # the sticky summary is found even past the page limit
            until=lambda c: self._is_ours(c) and is_summary_comment(c.get("body")),
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
