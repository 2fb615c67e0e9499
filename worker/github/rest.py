"""GitHub REST calls over one shared httpx.AsyncClient: auth, pacing, rate limits, pages.

Writes go through httpx rather than PyGithub (which the reader uses): the
poster needs the raw 422 body to recover from a refused review, must never
have a POST retried behind its back, and paces its writes itself on the event
loop, with no worker thread held while it waits.

Every content-creating request (POST, PATCH, PUT, DELETE) takes its turn in
the installation's `WritePacer` lane. A 403/429 rate-limit answer whose
`Retry-After` (or `x-ratelimit-reset`) is short is slept out and the request
sent again; a long one raises `GitHubRateLimited` for the job to defer.
A 401 makes the token source forget its token and mint a new one, once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import httpx

from worker import pipeline_metrics
from worker.github.auth import API_VERSION, RepoRef, TokenSource
from worker.github.errors import (
    GitHubError,
    GitHubRateLimited,
    GitHubUnavailable,
    error_for_status,
    retry_step,
)
from worker.github.pacing import WritePacer
from worker.version import user_agent

WRITE_METHODS: Final = frozenset({"POST", "PATCH", "PUT", "DELETE"})
PER_PAGE: Final = 100
MAX_PAGES: Final = 30  # 3000 items: far more reviews or comments than a PR carries


class GitHubRest:
    """Authenticated, paced REST calls on one repository."""

    def __init__(
        self,
        repo: RepoRef,
        tokens: TokenSource,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        pacer: WritePacer,
        max_rate_limit_wait: float = 10.0,
        rate_limit_retries: int = 2,
    ) -> None:
        self.repo = repo
        self._tokens = tokens
        self._http = http
        self._api_url = api_url.rstrip("/")
        self.pacer = pacer
        self._max_wait = max_rate_limit_wait
        self._rate_retries = rate_limit_retries

    @property
    def api_url(self) -> str:
        """The REST base URL (`GITHUB_API_URL`) every request goes to."""
        return self._api_url

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.repo.owner}/{self.repo.name}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, object] | None = None,
        params: Mapping[str, str | int] | None = None,
        what: str,
        accept: frozenset[int] = frozenset(),
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        """One call; a 2xx (or a status in `accept`) is returned, anything else raised typed.

        `before_send` runs right before each sending, after the pacer's wait
        (a fence: it raises when the request must no longer go out).
        """
        auth_retried = False
        rate_retries = 0
        while True:
            response = await self._send(
                method, path, json=json, params=params, what=what, before_send=before_send
            )
            if response.is_success or response.status_code in accept:
                return response
            error = self._error(response, what=what)
            if isinstance(error, GitHubRateLimited):
                pipeline_metrics.observe_github_rate_limited(method)
            step = retry_step(
                error,
                auth_retried=auth_retried,
                rate_retries=rate_retries,
                max_wait=self._max_wait,
                max_retries=self._rate_retries,
            )
            if step == "reauth":
                auth_retried = True
                self._tokens.forget(self.repo)
                continue
            if isinstance(step, float):
                rate_retries += 1
                pipeline_metrics.observe_github_wait("retry_after", step)
                await self.pacer.sleep(step)
                continue
            raise error

    async def pages(
        self, path: str, *, what: str, params: Mapping[str, str | int] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a paginated list, following GitHub's Link header."""
        found: list[dict[str, Any]] = []
        query: dict[str, str | int] = {**(params or {}), "per_page": PER_PAGE}
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = await self.request("GET", url, params=query, what=what)
            page = response.json()
            if not isinstance(page, list):
                raise GitHubError(f"{what}: expected a list, GitHub sent {type(page).__name__}")
            found += [item for item in page if isinstance(item, dict)]
            url = response.links.get("next", {}).get("url")
            query = {}  # the next link carries its own query
        return found

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, object] | None,
        params: Mapping[str, str | int] | None,
        what: str,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else f"{self._api_url}{path}"
        token = await self._tokens.token_for(self.repo)
        headers = {
            "Authorization": f"Bearer {token.reveal()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": user_agent(),
        }
        try:
            if method.upper() not in WRITE_METHODS:
                if before_send is not None:
                    await before_send()
                response = await self._http.request(
                    method, url, headers=headers, json=json, params=params
                )
            else:
                lane = self.repo.installation_id or self.repo.full_name
                async with self.pacer.turn(lane):
                    if before_send is not None:
                        await before_send()  # after the pacer's wait: nothing awaits between
                    response = await self._http.request(
                        method, url, headers=headers, json=json, params=params
                    )
        except httpx.HTTPError as exc:
            pipeline_metrics.observe_github_request(method, None)
            raise GitHubUnavailable(f"{what}: {type(exc).__name__}", url=self._api_url) from None
        pipeline_metrics.observe_github_request(method, response.status_code)
        return response

    def _error(self, response: httpx.Response, *, what: str) -> GitHubError:
        message = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
        return error_for_status(
            response.status_code,
            message,
            dict(response.headers),
            url=f"{self._api_url}{self.repo_path}",
            what=what,
            now=time.time(),
        )
