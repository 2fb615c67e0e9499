"""Typed failures of the GitHub read layer, each carrying what an operator needs.

Every message is scrubbed of credentials before it is stored: GitHub error
bodies and request URLs end up in logs and in check-run text, tokens never do.
A job decides what to do from the type alone: `GitHubRateLimited` and
`GitHubUnavailable` are worth retrying later, `GitHubAuthError` is a
configuration problem, `GitHubNotFound` is an answer (a deleted branch, a
force-pushed SHA, an uninstalled App).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from worker.secrets import scrub


class GitHubError(Exception):
    """Base of every failure talking to the GitHub REST API."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        self.status = status
        self.url = scrub(url) if url else None
        where = f" ({self.url})" if self.url else ""
        super().__init__(scrub(message) + where)


class GitHubAuthError(GitHubError):
    """GitHub refused our credentials: bad App id or key, revoked token, App not installed."""


class GitHubNotFound(GitHubError):
    """404: the repository, pull request, file or commit does not exist (or is not visible)."""


class GitHubRateLimited(GitHubError):
    """Primary or secondary rate limit; `retry_after` is GitHub's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        status: int | None = None,
        url: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, url=url)


class GitHubUnavailable(GitHubError):
    """5xx, timeout or connection failure: GitHub (or the network) is having a bad moment."""


class GitHubRequestFailed(GitHubError):
    """Any other refusal (403 permission, 422 validation): retrying will not help."""


def retry_after_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """GitHub's wait hint: `Retry-After` (secondary limits), else `x-ratelimit-reset`.

    https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None
    if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
        try:
            return max(0.0, float(lowered["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def is_rate_limit(status: int, message: str, headers: Mapping[str, str]) -> bool:
    """403 and 429 both mean "slow down" when GitHub says so in the headers or the text."""
    if status == 429:
        return True
    if status != 403:
        return False
    lowered = {key.lower(): value for key, value in headers.items()}
    return (
        "retry-after" in lowered
        or lowered.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    )


def error_for_status(
    status: int, message: str, headers: Mapping[str, str], *, url: str, what: str, now: float
) -> GitHubError:
    """The typed error for a non-2xx answer; `what` says what we were doing."""
    text = f"{what}: GitHub answered {status} {message}".rstrip()
    if is_rate_limit(status, message, headers):
        wait = retry_after_seconds(headers, now=now)
        return GitHubRateLimited(text, retry_after=wait, status=status, url=url)
    if status == 401:
        return GitHubAuthError(text, status=status, url=url)
    if status == 404:
        return GitHubNotFound(text, status=status, url=url)
    if status >= 500:
        return GitHubUnavailable(text, status=status, url=url)
    return GitHubRequestFailed(text, status=status, url=url)


RetryStep = Literal["reauth"] | float  # a float: seconds to wait, then try again


def retry_step(
    error: GitHubError,
    *,
    auth_retried: bool,
    rate_retries: int,
    max_wait: float,
    max_retries: int,
) -> RetryStep | None:
    """What a read or a write does after `error`: the one policy for both paths.

    `reauth`: the cached token was revoked or expired early, mint a new one
    (once). A number: a rate limit whose Retry-After is short enough to wait
    out here (at most `max_retries` times). None: raise, the job defers.
    """
    if isinstance(error, GitHubAuthError) and not auth_retried:
        return "reauth"
    if (
        isinstance(error, GitHubRateLimited)
        and error.retry_after is not None
        and error.retry_after <= max_wait
        and rate_retries < max_retries
    ):
        return float(error.retry_after)
    return None
