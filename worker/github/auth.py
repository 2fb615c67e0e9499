"""GitHub credentials: App JWT -> per-repository installation token, or a plain token.

A worker authenticates as the GitHub App: it signs a short JWT with the App's
private key and trades it for an installation access token scoped to the one
repository under review (`repository_ids`), so a bug or a prompt injection in
one review cannot touch the installation's other repositories. Tokens live one
hour; they are cached in this process only (never in Redis, never logged) and
replaced `refresh_margin` seconds before they expire, so a token handed out is
always good for at least that long.

The one-shot `kimi-review review` command may use a plain `GITHUB_TOKEN`
instead (`StaticTokenSource`). Every URL is built from `GITHUB_API_URL`, never
from a webhook payload.

https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
import jwt
import msgspec
import structlog

from worker.config import GitHubSettings
from worker.github.errors import (
    GitHubAuthError,
    GitHubError,
    GitHubNotFound,
    GitHubUnavailable,
    error_for_status,
)
from worker.secrets import Secret
from worker.version import user_agent

log = structlog.get_logger(__name__)

API_VERSION: Final = "2022-11-28"
# GitHub refuses a JWT whose exp is more than 10 minutes ahead; iat is set 60 s
# in the past to absorb clock drift between us and GitHub (as GitHub advises).
JWT_BACKDATE_SECONDS: Final = 60
JWT_LIFETIME_SECONDS: Final = 9 * 60
JWT_REUSE_SECONDS: Final = 7 * 60
DEFAULT_REFRESH_MARGIN: Final = 300.0


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A repository as the worker knows it from the job (ids when the webhook gave them)."""

    owner: str
    name: str
    repo_id: int | None = None
    installation_id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @classmethod
    def parse(
        cls, full_name: str, *, repo_id: int | None = None, installation_id: int | None = None
    ) -> RepoRef:
        owner, sep, name = full_name.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise ValueError(f"expected owner/name, got {full_name!r}")
        return cls(owner, name, repo_id, installation_id)


class TokenSource(Protocol):
    """Hands out a token good for `repo` (for at least the refresh margin)."""

    async def token_for(self, repo: RepoRef) -> Secret: ...

    def forget(self, repo: RepoRef) -> None:
        """Drop a cached token GitHub just refused (401), so the next call mints a new one."""
        ...


def app_headers(token: Secret, *, scheme: str = "Bearer") -> dict[str, str]:
    """Headers of a REST call: API version pinned, honest User-Agent, credentials."""
    return {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": user_agent(),
        "Authorization": f"{scheme} {token.reveal()}",
    }


def make_app_jwt(app_id: int, private_key: Secret, *, now: float) -> Secret:
    """The App's JWT (RS256): iat 60 s in the past, exp 9 minutes ahead."""
    claims = {
        "iat": int(now) - JWT_BACKDATE_SECONDS,
        "exp": int(now) + JWT_LIFETIME_SECONDS,
        "iss": str(app_id),  # PyJWT >= 2.10 insists on a string issuer; GitHub accepts it.
    }
    return Secret(jwt.encode(claims, private_key.reveal(), algorithm="RS256"))


class _AccessToken(msgspec.Struct):
    token: str
    expires_at: datetime


class _Installation(msgspec.Struct):
    id: int


_token_decoder: Final = msgspec.json.Decoder(_AccessToken)
_installation_decoder: Final = msgspec.json.Decoder(_Installation)


class _App(msgspec.Struct):
    slug: str


_app_decoder: Final = msgspec.json.Decoder(_App)


@dataclass(slots=True)
class _CachedToken:
    value: Secret
    expires_at: float  # epoch seconds


class StaticTokenSource:
    """A fixed token (`GITHUB_TOKEN`) for the one-shot CLI: same token for every repo."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    async def token_for(self, repo: RepoRef) -> Secret:
        return self._token

    def forget(self, repo: RepoRef) -> None:
        """A refused static token cannot be replaced; the next call fails the same way."""


class AppTokenSource:
    """Installation tokens of one GitHub App, minted per repository and cached in memory."""

    def __init__(
        self,
        *,
        api_url: str,
        app_id: int,
        private_key: Secret,
        http: httpx.AsyncClient,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        permissions: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._app_id = app_id
        self._private_key = private_key
        self._http = http
        self._refresh_margin = refresh_margin
        self._permissions = dict(permissions) if permissions else None
        self._clock = clock
        self._jwt: _CachedToken | None = None
        self._tokens: dict[tuple[int, str], _CachedToken] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._installations: dict[str, int] = {}

    def app_jwt(self) -> Secret:
        """The App's JWT, re-signed every few minutes (signing is ~1 ms of CPU)."""
        now = self._clock()
        if self._jwt is None or now >= self._jwt.expires_at:
            value = make_app_jwt(self._app_id, self._private_key, now=now)
            self._jwt = _CachedToken(value, now + JWT_REUSE_SECONDS)
        return self._jwt.value

    async def installation_id(self, owner: str, name: str) -> int:
        """The App's installation on `owner/name` (`GET /repos/{o}/{r}/installation`)."""
        full_name = f"{owner}/{name}".lower()
        if full_name in self._installations:
            return self._installations[full_name]
        path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/installation"
        body = await self._call(
            "GET", path, None, what=f"finding the App's installation on {owner}/{name}"
        )
        found = _installation_decoder.decode(body).id
        self._installations[full_name] = found
        return found

    async def app_slug(self) -> str:
        """The App's slug (`GET /app` with the App's JWT): its bot is `<slug>[bot]`."""
        body = await self._call("GET", "/app", None, what="reading the App's slug (GET /app)")
        return _app_decoder.decode(body).slug

    async def token_for(self, repo: RepoRef) -> Secret:
        installation_id = repo.installation_id
        if installation_id is None:
            installation_id = await self.installation_id(repo.owner, repo.name)
        scope = str(repo.repo_id) if repo.repo_id is not None else repo.name.lower()
        key = (installation_id, scope)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one mint per repo when many tasks ask at once
            cached = self._fresh(key)
            if cached is not None:
                return cached
            try:
                token = await self._mint(installation_id, repo)
            except GitHubNotFound:
                # The App was uninstalled (or reinstalled under a new id): look it up again.
                self._installations.pop(repo.full_name.lower(), None)
                raise
            self._tokens[key] = token
            return token.value

    def forget(self, repo: RepoRef) -> None:
        scope = str(repo.repo_id) if repo.repo_id is not None else repo.name.lower()
        for key in [k for k in self._tokens if k[1] == scope]:
            del self._tokens[key]

    def _fresh(self, key: tuple[int, str]) -> Secret | None:
        cached = self._tokens.get(key)
        if cached is None or self._clock() >= cached.expires_at - self._refresh_margin:
            return None
        return cached.value

    async def _mint(self, installation_id: int, repo: RepoRef) -> _CachedToken:
        body: dict[str, Any] = {}
        if repo.repo_id is not None:
            body["repository_ids"] = [repo.repo_id]
        else:
            body["repositories"] = [repo.name]
        if self._permissions:
            body["permissions"] = self._permissions
        path = f"/app/installations/{installation_id}/access_tokens"
        raw = await self._call(
            "POST",
            path,
            body,
            what=f"minting a token of installation {installation_id} for {repo.full_name}",
        )
        answer = _token_decoder.decode(raw)
        log.info(
            "github.token_minted",
            installation_id=installation_id,
            repo=repo.full_name,
            expires_at=answer.expires_at.isoformat(),
        )
        return _CachedToken(Secret(answer.token), answer.expires_at.timestamp())

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, *, what: str
    ) -> bytes:
        url = f"{self._api_url}{path}"
        try:
            response = await self._http.request(
                method, url, json=body, headers=app_headers(self.app_jwt())
            )
        except httpx.TransportError as exc:
            raise GitHubUnavailable(f"{what}: {type(exc).__name__}", url=url) from None
        if response.status_code >= 300:
            message = _message_of(response)
            error = error_for_status(
                response.status_code,
                message,
                response.headers,
                url=url,
                what=what,
                now=self._clock(),
            )
            if isinstance(error, GitHubAuthError):
                raise GitHubAuthError(
                    f"{error}. Check that GITHUB_APP_ID and the private key belong to the same "
                    "App and that this machine's clock is right",
                    status=error.status,
                ) from None
            raise error
        return response.content


def _message_of(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return response.reason_phrase


def token_source(
    github: GitHubSettings, http: httpx.AsyncClient, *, prefer_token: bool = False
) -> TokenSource:
    """App auth when the App is configured (tokens scoped per repo), else `GITHUB_TOKEN`.

    `prefer_token` is for the one-shot CLI, where an operator's own token wins.
    """
    has_app = github.app_id is not None and github.private_key is not None
    if github.token is not None and (prefer_token or not has_app):
        return StaticTokenSource(github.token)
    if github.app_id is not None and github.private_key is not None:
        return AppTokenSource(
            api_url=github.api_url, app_id=github.app_id, private_key=github.private_key, http=http
        )
    raise GitHubError(
        "no GitHub credentials: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN"
    )
