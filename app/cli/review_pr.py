"""`kimi-review review <PR URL>`: one review of a GitHub pull request, in-process.

The worker's `ReviewFlow` (prepare → review chunks → ONE review → sticky
summary → check run), run once without Redis: checkpoints in memory, an
in-process gate and breaker, no lease and no queue, so an operator can try
the product on a PR, or review one by hand, from a laptop. With `--dry-run`
the flow gets no poster and GitHub is only read.

Only owner, repository and number are taken from the URL: every request
goes to `GITHUB_API_URL` (never taken from a payload), so a pasted
link cannot send the token to another host. A URL whose host does not belong
to that API is reviewed anyway, with a warning, as the API may well hold the
same repository.

Exit codes: 0 reviewed, already reviewed or skipped (the report says which),
2 bad input, 4 no model can serve, 5 GitHub refused or failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import msgspec

from app.cli.exit_codes import ExitCode
from app.cli.report import render_json, render_text, terminal_safe
from app.cli.review_diff import ProgressLine
from worker.config import Settings
from worker.github.auth import RepoRef, token_source
from worker.github.errors import GitHubAuthError, GitHubError, GitHubNotFound
from worker.github.pacing import WritePacer
from worker.llm.transport import open_http_client
from worker.publish.check_run import check_skipped
from worker.publish.poster import ReviewPoster
from worker.review.checkpoints import MemoryCheckpoint
from worker.review.flow import ReviewFlow
from worker.review.machinery import (
    bot_identity,
    build_model_path,
    build_poster,
    build_reader,
    github_http_client,
)
from worker.review.outcome import FlowOutcome, ReviewDeferred, ReviewTarget

PREFIX: Final = "kimi-review review"

# GitHub's rules: owners are letters, digits and single hyphens; repository
# names add dots and underscores. Anything after the number (/files, /commits,
# a query or a fragment) is a view of the same pull request.
_PATH: Final = re.compile(
    r"^/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/(?P<name>[A-Za-z0-9._-]+)"
    r"/pull/(?P<number>[1-9][0-9]{0,9})(?:/.*)?$"
)


class PullUrlError(ValueError):
    """The argument is not a pull request's web address."""


@dataclass(frozen=True, slots=True)
class PullUrl:
    host: str
    repo: RepoRef
    number: int


def parse_pull_url(url: str) -> PullUrl:
    """`https://HOST/OWNER/REPO/pull/N[/...]` → its parts; raises PullUrlError."""
    expected = "expected https://github.com/OWNER/REPO/pull/NUMBER"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PullUrlError(f"{url!r} is not a web address; {expected}")
    found = _PATH.match(parts.path)
    if found is None or found["name"] in (".", ".."):
        raise PullUrlError(f"{url!r} is not a pull request's address; {expected}")
    repo = RepoRef(found["owner"], found["name"].removesuffix(".git"))
    return PullUrl(parts.hostname.lower(), repo, int(found["number"]))


def host_mismatch(pull: PullUrl, api_url: str) -> str | None:
    """A warning when the URL's host is not the web host of `GITHUB_API_URL`.

    github.com's API is api.github.com (GHE.com: api.NAME.ghe.com); a GitHub
    Enterprise Server answers its API on its own host under /api/v3.
    """
    api_host = (urlsplit(api_url).hostname or "").lower()
    if pull.host in (api_host, api_host.removeprefix("api.")):
        return None
    return (
        f"warning: the URL is on {pull.host} but GITHUB_API_URL is {api_url}; "
        f"reading {pull.repo.full_name}#{pull.number} from GITHUB_API_URL"
    )


class OneShotHooks:
    """`ReviewHooks` for one review in one process: nothing outlives the run."""

    def __init__(self) -> None:
        self._checkpoints: dict[tuple[str, str | None], MemoryCheckpoint] = {}

    async def check_run_ids(self) -> list[int]:
        """Check runs this run started (to complete them when it stops early)."""
        found = [await c.check_run_id() for c in self._checkpoints.values()]
        return [check_id for check_id in found if check_id is not None]

    def checkpoint(self, head_sha: str, run: str | None) -> MemoryCheckpoint:
        return self._checkpoints.setdefault((head_sha, run), MemoryCheckpoint())

    async def last_reviewed(self) -> str | None:
        return None  # always a full review: nothing remembers an earlier one

    async def set_last_reviewed(self, head_sha: str) -> None:
        """Nothing to remember: the next run reviews the whole PR again."""

    async def has_own_job(self, head_sha: str) -> bool:
        return False  # no queue: a newer head is reviewed by this run instead

    async def ensure_owner(self) -> None:
        """No lease: this process always owns its review."""

    async def fence(self) -> None:
        """No lease: nothing to fence."""

    async def quota_line(self) -> str | None:
        return None


async def review_pull(
    settings: Settings, pull: PullUrl, *, dry_run: bool, as_json: bool, out: TextIO, err: TextIO
) -> ExitCode:
    """Review the PR (posting unless `dry_run`) and print the outcome; the exit code.

    A dry run reads with GITHUB_TOKEN when it is set. Posting prefers the
    App: GitHub lets only Apps create check runs, and the flow recognises
    its earlier reviews (no second review per head) by their Bot author.
    """
    llm = settings.llm
    if llm.main is None:  # Settings.require("review") guarantees it; kept for mypy
        err.write(f"{PREFIX}: API_OPEN_AI_API_KEY is required\n")
        return ExitCode.BAD_INPUT
    warning = host_mismatch(pull, settings.github.api_url)
    if warning:
        err.write(f"{PREFIX}: {warning}\n")
    hooks = OneShotHooks()
    async with open_http_client(llm) as model_http, github_http_client() as github_http:
        tokens = token_source(settings.github, github_http, prefer_token=dry_run)
        reader = build_reader(settings.github, pull.repo, tokens)
        poster = None
        if not dry_run:
            identity = bot_identity(settings.github, tokens)
            poster = build_poster(
                settings.github,
                pull.repo,
                tokens,
                github_http,
                pacer=WritePacer(),
                identity=identity,
            )
        reviewer = build_model_path(llm, model_http, redis=None).reviewer
        progress = ProgressLine(err)
        flow = ReviewFlow(
            settings, reader, poster, reviewer, hooks, pull.repo.full_name, progress=progress
        )
        problem: str | None = None
        code = ExitCode.OK
        try:
            outcome = await flow.run(ReviewTarget(pull.number, None, full=True, asked=True))
        except ReviewDeferred as exc:
            problem, code = exc.reason, ExitCode.MODELS_UNAVAILABLE
        except GitHubError as exc:
            problem, code = github_problem(exc, pull), ExitCode.GITHUB_FAILED
        finally:
            progress.finish()
            await reader.close()
        if problem is not None:
            err.write(f"{PREFIX}: {problem}\n")
            if poster is not None:
                await close_checks(hooks, poster, problem, err)
            return code
    return print_outcome(outcome, as_json=as_json, out=out, err=err)


async def close_checks(
    hooks: OneShotHooks, poster: ReviewPoster, problem: str, err: TextIO
) -> None:
    """Complete the check run a failed run started: no worker will come back to it."""
    for check_id in await hooks.check_run_ids():
        try:
            await poster.update_check(check_id, check_skipped(f"{problem} ({PREFIX} stopped)"))
        except GitHubError as exc:
            err.write(f"{PREFIX}: the check run was left in progress: {exc}\n")


def github_problem(exc: GitHubError, pull: PullUrl) -> str:
    """The error (already scrubbed of credentials) and what to do about it."""
    hint = ""
    if isinstance(exc, GitHubNotFound):
        hint = (
            f"; is {pull.repo.full_name}#{pull.number} right, and visible to GITHUB_TOKEN "
            "(or the App installed on the repository)?"
        )
    elif isinstance(exc, GitHubAuthError):
        hint = "; GitHub refused the credentials: check GITHUB_TOKEN (or the App's id and key)"
    elif exc.status == 403:
        hint = (
            "; posting needs Pull requests, Issues and Checks write access, and GitHub lets "
            "only Apps create check runs: set the App's variables, or use --dry-run"
        )
    return f"GitHub: {exc}{hint}"


def print_outcome(outcome: FlowOutcome, *, as_json: bool, out: TextIO, err: TextIO) -> ExitCode:
    """The findings (text or JSON) and what happened on GitHub; the exit code."""
    status: dict[str, Any] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "head_sha": outcome.head_sha,
        "review_url": outcome.review_url,
    }
    if as_json and outcome.prepared is not None and outcome.result is not None:
        out.write(render_json(outcome.prepared, outcome.result, extra=status).decode())
    elif as_json:  # nothing reviewed in this run: only what happened
        out.write(msgspec.json.format(msgspec.json.encode(status), indent=2).decode() + "\n")
    elif outcome.prepared is not None and outcome.result is not None:
        out.write(render_text(outcome.prepared, outcome.result))
    head = (outcome.head_sha or "")[:12]
    url = terminal_safe(outcome.review_url or "")
    if outcome.status == "superseded":
        err.write(f"{PREFIX}: not posted: {outcome.reason}; run the command again\n")
        return ExitCode.GITHUB_FAILED
    if as_json:
        return ExitCode.OK
    if outcome.status == "posted":
        out.write(f"Review posted: {url}\n")
    elif outcome.status == "already_posted" and outcome.result is not None:
        out.write(f"A review of {head} was already posted, nothing added: {url}\n")
    elif outcome.status == "already_posted":
        out.write(f"Already reviewed at {head}, nothing posted: {url}\n")
    elif outcome.status == "dry_run":
        out.write(f"Not posted (--dry-run); head {head}\n")
    else:
        out.write(f"Not reviewed: {outcome.reason}\n")
    return ExitCode.OK
