"""A commit's files as GitHub's tarball, size-capped, the token sent to the API host only.

`GET {GITHUB_API_URL}/repos/{owner}/{repo}/tarball/{sha}` answers 302 to a
short-lived signed URL on another host (codeload.github.com):
https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar
The redirect is followed by hand, WITHOUT the Authorization header: the
installation token goes to the `GITHUB_API_URL` host and nowhere else (httpx
would keep the header on a same-host redirect, and a GitHub Enterprise
deployment may serve archives from its own host). The download stops, with
`TarballTooLarge`, past `max_bytes`: a huge repository costs bounded memory.
"""

from __future__ import annotations

import time
from typing import Final

import httpx

from worker import metrics
from worker.github.errors import (
    GitHubError,
    GitHubRateLimited,
    GitHubUnavailable,
    error_for_status,
)
from worker.secrets import Secret
from worker.version import user_agent

MAX_TARBALL_BYTES: Final = 100 * 1024 * 1024
MAX_REDIRECTS: Final = 3
TIMEOUT: Final = httpx.Timeout(120, connect=10)  # per read: a large archive streams for a while
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


class TarballTooLarge(GitHubError):
    """The archive is larger than the cap: the review goes on without context."""


async def download_tarball(
    api_url: str,
    full_name: str,
    sha: str,
    *,
    token: Secret,
    max_bytes: int = MAX_TARBALL_BYTES,
) -> bytes:
    """The gzipped tar of `full_name` at `sha`; raises a GitHubError subclass on failure."""
    url = f"{api_url.rstrip('/')}/repos/{full_name}/tarball/{sha}"
    what = f"downloading the archive of {sha[:12]}"
    headers = {"Authorization": f"token {token.reveal()}", "Accept": "application/vnd.github+json"}
    async with httpx.AsyncClient(
        timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": user_agent()}
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                found = await _fetch(client, url, headers, max_bytes=max_bytes, what=what)
            except httpx.HTTPError as exc:
                # The archive host's URL is signed in its query: never in an error.
                error = GitHubUnavailable(f"{what}: {type(exc).__name__}", url=url.split("?")[0])
                _observe_failure(error)
                raise error from None
            if isinstance(found, bytes):
                return found
            url, headers = found, {}  # never the token past the API host's first answer
    raise GitHubError(f"{what}: more than {MAX_REDIRECTS} redirects")


async def _fetch(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], *, max_bytes: int, what: str
) -> bytes | str:
    """The body (capped), or the redirect's absolute target URL."""
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code in _REDIRECTS and "location" in response.headers:
            metrics.observe_github_request("GET", response.status_code)
            return str(response.url.join(response.headers["location"]))
        if response.status_code != 200:
            body = (await response.aread())[:500].decode("utf-8", "replace")
            error = error_for_status(
                response.status_code,
                body,
                dict(response.headers),
                url=url.split("?", 1)[0],
                what=what,
                now=time.time(),
            )
            _observe_failure(error)
            raise error
        declared = int(response.headers.get("content-length") or 0)
        if declared > max_bytes:
            raise TarballTooLarge(f"{what}: {declared:,} bytes, over the {max_bytes:,} cap")
        chunks: list[bytes] = []
        size = 0
        async for part in response.aiter_bytes():
            size += len(part)
            if size > max_bytes:
                raise TarballTooLarge(f"{what}: over the {max_bytes:,}-byte cap")
            chunks.append(part)
        metrics.observe_github_request("GET", 200)
        return b"".join(chunks)


def _observe_failure(error: GitHubError) -> None:
    metrics.observe_github_failure(
        "GET", error.status, rate_limited=isinstance(error, GitHubRateLimited)
    )
