"""Reads from the GitHub REST API with PyGithub, off the event loop.

PyGithub is synchronous, so every call runs in `asyncio.to_thread`. Its
connection object is not safe to share between threads (`request()` stores
the verb and URL that `getresponse()` then sends), so the reader keeps a small
pool of `Github` clients and lends each to one thread at a time: that is what
lets the fetch stage read file contents in parallel.

PyGithub's own retry is narrowed to what is safe inside a thread: connection
errors and 5xx on GETs, twice, with a short backoff. Rate limits come back to
us as `GitHubRateLimited`; a short `Retry-After` is waited out here with
`asyncio.sleep` (the thread is not held), a long one is the job's to defer.
Its default 0.25 s pause before every request is turned off: reads are not
what GitHub's secondary limits are about (writes and concurrency are).

Answers are converted from PyGithub's `raw_data` into our own Structs, so no
PyGithub object leaves this module.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

from github import Auth, Github, GithubException
from github.ContentFile import ContentFile
from github.Repository import Repository
from urllib3.util.retry import Retry

from worker import metrics
from worker.github.auth import RepoRef, TokenSource
from worker.github.errors import (
    GitHubAuthError,
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    error_for_status,
    retry_step,
)
from worker.github.models import CompareResult, DiffEntry, FileBlob, PullRequestInfo
from worker.github.sansio import error_message
from worker.github.tarball import MAX_TARBALL_BYTES, download_tarball
from worker.secrets import Secret
from worker.version import user_agent

T = TypeVar("T")

# GitHub lists at most 3000 files of a pull request, 100 per page.
# https://docs.github.com/rest/pulls/pulls#list-pull-requests-files
MAX_PR_FILES: Final = 3000
PER_PAGE: Final = 100
DEFAULT_MAX_BLOB_BYTES: Final = 1024 * 1024


class _LiveToken(Auth.Auth):
    """PyGithub auth whose token is swapped in before each call (tokens expire hourly)."""

    def __init__(self) -> None:
        self.current = Secret("")

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self.current.reveal()

    @property
    def _masked_token(self) -> str:
        return "token (hidden)"


class _PooledClient:
    def __init__(self, github: Github, auth: _LiveToken, repo: Repository) -> None:
        self.github = github
        self.auth = auth
        self.repo = repo


def read_retry() -> Retry:
    """urllib3 retry for PyGithub: transient failures of idempotent reads only."""
    return Retry(
        total=2,
        connect=2,
        read=2,
        status=2,
        backoff_factor=0.5,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        # urllib3 would otherwise sleep out any 429/503 Retry-After (an hour, even)
        # inside the worker thread; rate limits are handled in `_run` instead.
        respect_retry_after_header=False,
        raise_on_status=False,
    )


class GitHubReader:
    """Everything the review reads from one repository, authenticated per call."""

    def __init__(
        self,
        repo: RepoRef,
        tokens: TokenSource,
        *,
        api_url: str,
        parallel: int = 4,
        timeout: int = 30,
        max_rate_limit_wait: float = 10.0,
        rate_limit_retries: int = 2,
    ) -> None:
        self.repo = repo
        self._tokens = tokens
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._max_rate_limit_wait = max_rate_limit_wait
        self._rate_limit_retries = rate_limit_retries
        self._pool: asyncio.Queue[_PooledClient] = asyncio.Queue()
        self._size = max(1, parallel)
        self._created = 0

    # --- reads ---------------------------------------------------------------
    async def pull_request(self, number: int) -> PullRequestInfo:
        """`GET /repos/{o}/{r}/pulls/{n}`: state, draft, head and base, title, body, author."""

        def read(repo: Repository) -> dict[str, Any]:
            return repo.get_pull(number).raw_data

        data = await self._run(read, what=f"reading pull request #{number}")
        return PullRequestInfo.from_github(data)

    async def pull_request_files(
        self, number: int, *, limit: int = MAX_PR_FILES
    ) -> list[DiffEntry]:
        """`GET /repos/{o}/{r}/pulls/{n}/files`, every page (GitHub stops at 3000 files)."""

        def read(repo: Repository) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for item in repo.get_pull(number).get_files():
                found.append(item.raw_data)
                if len(found) >= limit:
                    break
            return found

        items = await self._run(read, what=f"listing the files of pull request #{number}")
        return [DiffEntry.from_github(item) for item in items]

    async def compare(self, base: str, head: str) -> CompareResult:
        """`GET /repos/{o}/{r}/compare/{base}...{head}`; GitHub lists up to 300 files."""

        def read(repo: Repository) -> dict[str, Any]:
            return repo.compare(base, head).raw_data

        data = await self._run(read, what=f"comparing {base[:12]}...{head[:12]}")
        return CompareResult.from_github(data)

    async def file_at(
        self, path: str, ref: str, *, max_bytes: int = DEFAULT_MAX_BLOB_BYTES
    ) -> FileBlob | None:
        """`GET /repos/{o}/{r}/contents/{path}?ref=`: the file at `ref`, None when absent.

        Content over `max_bytes` (or over GitHub's 1 MB inline limit) is not
        decoded: the blob says its size and carries no bytes.
        """

        def read(repo: Repository) -> dict[str, Any] | list[Any]:
            found = repo.get_contents(path, ref=ref)
            if isinstance(found, list):
                return []  # a directory; its entries are not needed (and would be fetched)
            return _raw(found)

        try:
            data = await self._run(read, what=f"reading {path} at {ref[:12]}")
        except GitHubNotFound:
            return None
        if isinstance(data, list):
            return FileBlob(path=path, ref=ref, kind="dir", size=0, content=None)
        return _blob(path, ref, data, max_bytes)

    async def text_at(
        self, path: str, ref: str, *, max_bytes: int = DEFAULT_MAX_BLOB_BYTES
    ) -> str | None:
        """A text file at `ref` (e.g. `.kimi-review.toml` at the base branch); None when absent.

        Raises GitHubError when the path is a directory, binary or too large:
        a config file that cannot be read is an error, not a missing file.
        """
        blob = await self.file_at(path, ref, max_bytes=max_bytes)
        if blob is None:
            return None
        if blob.kind != "file" or blob.content is None:
            raise GitHubError(
                f"{path} at {ref} is a {blob.kind} of {blob.size} bytes, not readable text"
            )
        try:
            return blob.content.decode("utf-8")
        except UnicodeDecodeError:
            raise GitHubError(f"{path} at {ref} is not UTF-8 text") from None

    async def base_file_text(self, pr: PullRequestInfo, path: str) -> str | None:
        """A file read from the PR's BASE branch, never its head (see docs/ARCHITECTURE.md)."""
        return await self.text_at(path, pr.base_ref)

    async def tarball(self, sha: str, *, max_bytes: int = MAX_TARBALL_BYTES) -> bytes:
        """The repository at `sha` as GitHub's gzipped tar (worker.github.tarball), capped."""
        token = await self._tokens.token_for(self.repo)
        try:
            return await download_tarball(
                self._api_url, self.repo.full_name, sha, token=token, max_bytes=max_bytes
            )
        except GitHubAuthError:  # a token revoked early: mint a new one, once
            self._tokens.forget(self.repo)
            token = await self._tokens.token_for(self.repo)
            return await download_tarball(
                self._api_url, self.repo.full_name, sha, token=token, max_bytes=max_bytes
            )

    # --- plumbing ------------------------------------------------------------
    def _new_client(self) -> _PooledClient:
        auth = _LiveToken()
        github = Github(
            base_url=self._api_url,
            auth=auth,
            timeout=self._timeout,
            user_agent=user_agent(),
            per_page=PER_PAGE,
            retry=read_retry(),
            seconds_between_requests=None,
            lazy=True,
        )
        return _PooledClient(github, auth, github.get_repo(self.repo.full_name))

    async def _borrow(self) -> _PooledClient:
        if self._pool.empty() and self._created < self._size:
            self._created += 1
            return self._new_client()
        return await self._pool.get()

    async def _run(self, read: Callable[[Repository], T], *, what: str) -> T:
        auth_retried = False
        rate_retries = 0
        while True:
            token = await self._tokens.token_for(self.repo)
            client = await self._borrow()
            cancelled = False
            try:
                client.auth.current = token
                found = await asyncio.to_thread(read, client.repo)
            except asyncio.CancelledError:
                cancelled = True
                raise
            except GithubException as exc:
                error = _translate(
                    exc, what=what, url=f"{self._api_url}/repos/{self.repo.full_name}"
                )
            except OSError as exc:  # requests' ConnectionError and Timeout are OSErrors
                error = GitHubUnavailable(f"{what}: {type(exc).__name__}", url=self._api_url)
            else:
                metrics.observe_github_request("GET", 200)
                return found
            finally:
                if cancelled:  # the thread may still be using this client: never lend it again
                    self._created -= 1
                else:
                    self._pool.put_nowait(client)
            metrics.observe_github_failure(
                "GET", error.status, rate_limited=isinstance(error, GitHubRateLimited)
            )
            step = retry_step(
                error,
                auth_retried=auth_retried,
                rate_retries=rate_retries,
                max_wait=self._max_rate_limit_wait,
                max_retries=self._rate_limit_retries,
            )
            if step == "reauth":
                auth_retried = True
                self._tokens.forget(self.repo)
                continue
            if isinstance(step, float):
                rate_retries += 1
                metrics.observe_github_wait("retry_after", step)
                await asyncio.sleep(step)
                continue
            raise error

    async def close(self) -> None:
        """Close the pooled HTTP sessions."""
        while not self._pool.empty():
            client = self._pool.get_nowait()
            await asyncio.to_thread(client.github.close)
            self._created -= 1


def _raw(content: ContentFile) -> dict[str, Any]:
    return content.raw_data


def _translate(exc: GithubException, *, what: str, url: str) -> GitHubError:
    data = exc.data
    message = error_message(data) or (data[:200] if isinstance(data, str) else "")
    headers = {str(k): str(v) for k, v in (exc.headers or {}).items()}
    return error_for_status(exc.status, message, headers, url=url, what=what, now=time.time())


def _blob(path: str, ref: str, data: dict[str, Any], max_bytes: int) -> FileBlob:
    kind: Literal["file", "dir", "symlink", "submodule"] = data.get("type", "file")
    size = int(data.get("size") or 0)
    content: bytes | None = None
    if kind == "file" and size <= max_bytes and data.get("encoding") == "base64":
        content = base64.b64decode(data.get("content") or "")
    return FileBlob(path=path, ref=ref, kind=kind, size=size, content=content)
