"""A fake GitHub REST API: a real HTTP server on 127.0.0.1, state in memory.

What it checks like GitHub does: the App JWT (RS256, signed by the test's
key, `iss` = App id, exp at most 10 minutes ahead), installation tokens
(minted by `POST /app/installations/{id}/access_tokens`, expiring, scoped to
the repositories asked for: a token used on another repository gets 404),
pagination (Link header, per_page max 100, 3000-file cap on PR files), error
bodies, `x-ratelimit-*` headers on every answer.

What it records: every call (method, path, query, headers, JSON body, status)
in `calls`, for assertions. What a test can inject: "the next N calls to route
X answer status S with headers H" (`fail_next`), and the clock.

Usage (see tests/fakes/github_fixtures.py for the fixtures):

    repo = fake.add_repo("octo/widgets", installation_id=7)
    base = repo.commit({"app.py": "x = 1\\n"}, branch="main")
    repo.commit({"app.py": "x = 2\\n"}, parent=base, branch="feature")
    repo.open_pull(1, base="main", head="feature")
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

from tests.fakes import github_archive, github_routes, github_writes
from tests.fakes.github_http import ApiError, AuthKind, Handler, Reply, Request, Route
from tests.fakes.github_http import compile_template as _compile
from tests.fakes.github_state import FakeRepo, next_id


@dataclass
class RecordedCall:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    status: int = 0


@dataclass
class TokenGrant:
    token: str
    installation_id: int | None  # None: a personal token that sees every repo
    repository_ids: set[int] | None  # None: every repo of the installation
    expires_at: float


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    remaining: int
    after: bool = False  # the request is carried out first, then its answer is lost


@dataclass
class FakeInstallation:
    id: int
    account: str
    repository_selection: str = "all"
    suspended: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class FakeGitHub:
    """The fake API. `start()` binds a free port; `url` is the GITHUB_API_URL to use."""

    def __init__(
        self,
        *,
        app_id: int,
        public_key_pem: str,
        app_slug: str = "kimi-review",
        host: str = "127.0.0.1",
    ) -> None:
        self.app_id = app_id
        self.host = host  # another address only for a fake run outside tests (standalone.py)
        self.app_slug = app_slug
        self.public_key_pem = public_key_pem
        self.clock: Callable[[], float] = time.time
        self.token_ttl = 3600.0
        self.inline_content_limit = 1024 * 1024  # contents API: larger files come without content
        self.pr_files_cap = 3000
        self.installations: dict[int, FakeInstallation] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.grants: dict[str, TokenGrant] = {}
        self.calls: list[RecordedCall] = []
        self.routes: list[Route] = []
        self._injected: list[Injected] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.rate_remaining = 5000
        self.written = github_writes.Written()  # what the product wrote (reviews, comments...)
        # (path, line) pairs GitHub refuses a comment on although they are in the diff, as
        # it does for a line of a diff it shows truncated: "Line could not be resolved".
        self.refuse_comment_lines: set[tuple[str, int]] = set()
        # login -> "admin" | "write" | "read"; anyone else is no collaborator (404).
        self.permissions: dict[str, str] = {}
        github_routes.register(self)
        github_writes.register(self)
        github_archive.register(self)

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> FakeGitHub:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    # --- state set-up ----------------------------------------------------------
    def add_installation(self, installation_id: int, account: str) -> FakeInstallation:
        found = self.installations.get(installation_id)
        if found is None:
            found = self.installations[installation_id] = FakeInstallation(installation_id, account)
        return found

    def add_repo(
        self, full_name: str, *, installation_id: int | None = None, repo_id: int | None = None
    ) -> FakeRepo:
        owner, name = full_name.split("/")
        if installation_id is not None:
            self.add_installation(installation_id, owner)
        repo = FakeRepo(
            id=repo_id or next_id(), owner=owner, name=name, installation_id=installation_id
        )
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name.lower()]

    def add_personal_token(self, token: str) -> None:
        """A `GITHUB_TOKEN`-style token that may read every repository."""
        self.grants[token] = TokenGrant(token, None, None, float("inf"))

    def mint_token(self, installation_id: int, repository_ids: set[int] | None) -> TokenGrant:
        token = "ghs_" + secrets.token_hex(18)
        grant = TokenGrant(token, installation_id, repository_ids, self.clock() + self.token_ttl)
        self.grants[token] = grant
        return grant

    # --- routes, injection, recording -----------------------------------------
    def add_route(self, method: str, template: str, handler: Handler, auth: AuthKind) -> None:
        self.routes.append(Route(method, template, _compile(template), handler, auth))

    def fail_next(
        self,
        method: str,
        template: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` calls matching (method, route template) answer `status`."""
        self._inject(method, template, status, times=times, headers=headers, body=body)

    def lose_answer_next(self, method: str, template: str, status: int = 502) -> None:
        """The next matching call is carried out, but its answer is lost (a proxy's 502, or
        the worker crashing before it read it): what a retry must cope with."""
        self._inject(method, template, status, times=1, after=True)

    def _inject(
        self,
        method: str,
        template: str,
        status: int,
        *,
        times: int,
        headers: dict[str, str] | None = None,
        body: Any = None,
        after: bool = False,
    ) -> None:
        if body is None:
            body = {
                "message": _default_message(status),
                "documentation_url": "https://docs.github.com/rest",
            }
        with self._lock:
            self._injected.append(
                Injected(
                    method.upper(), _compile(template), status, headers or {}, body, times, after
                )
            )

    def secondary_rate_limit_next(
        self, method: str, template: str, *, retry_after: int = 0, times: int = 1
    ) -> None:
        """GitHub's secondary rate limit answer: 403 with Retry-After."""
        self.fail_next(
            method,
            template,
            403,
            times=times,
            headers={"Retry-After": str(retry_after)},
            body={
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                "before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            },
        )

    def calls_to(self, method: str, template: str) -> list[RecordedCall]:
        pattern = _compile(template)
        with self._lock:
            return [
                c for c in self.calls if c.method == method.upper() and pattern.fullmatch(c.path)
            ]

    # --- request handling -------------------------------------------------------
    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in http.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = RecordedCall(http.command, unquote(parts.path), parse_qs(parts.query), headers, body)
        request = Request(call.method, call.path, call.query, headers, body, base_url=self.url)
        with self._lock:
            self.calls.append(call)
        try:
            reply = self._answer(request)
        except ApiError as exc:
            reply = exc.reply
        except Exception as exc:  # a bug in the fake: answer 500 so the test shows it
            reply = Reply(500, {"message": f"fake GitHub failed: {exc!r}"})
        call.status = reply.status
        self._send(http, reply)

    def _answer(self, request: Request) -> Reply:
        lost: Injected | None = None
        with self._lock:
            for injected in self._injected:
                if (
                    injected.remaining > 0
                    and injected.method in (request.method, "*")
                    and injected.pattern.fullmatch(request.path)
                ):
                    injected.remaining -= 1
                    if not injected.after:
                        return Reply(injected.status, injected.body, dict(injected.headers))
                    lost = injected
                    break
        reply = self._route(request)
        if lost is not None:
            return Reply(lost.status, lost.body, dict(lost.headers))
        return reply

    def _route(self, request: Request) -> Reply:
        for route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if match is None or route.method != request.method:
                continue
            request.params = {k: unquote(v) for k, v in match.groupdict().items()}
            self._authenticate(request, route.auth)
            with self._lock:
                return route.handler(request)
        raise ApiError(404, "Not Found")

    def _authenticate(self, request: Request, auth: AuthKind) -> None:
        if auth == "none":
            return
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if auth == "jwt":
            if scheme.lower() != "bearer":
                raise ApiError(401, "A JSON web token could not be decoded")
            self._check_jwt(credential)
            return
        grant = self.grants.get(credential) if scheme.lower() in ("token", "bearer") else None
        if grant is None or self.clock() >= grant.expires_at:
            raise ApiError(401, "Bad credentials")
        request.grant = grant
        if auth == "repo":
            repo = self.repos.get(f"{request.params['owner']}/{request.params['repo']}".lower())
            if repo is None or not _grant_covers(grant, repo):
                raise ApiError(404, "Not Found")

    def _check_jwt(self, token: str) -> None:
        try:
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["iat", "exp", "iss"],
                },
            )
        except jwt.PyJWTError:
            raise ApiError(401, "A JSON web token could not be decoded") from None
        now = self.clock()
        if str(claims["iss"]) != str(self.app_id):
            raise ApiError(401, "Integration not found")
        if claims["exp"] <= now:
            raise ApiError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the "
                "future time at which the assertion expires",
            )
        if claims["exp"] - now > 600 or claims["iat"] > now + 60:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")

    def _send(self, http: BaseHTTPRequestHandler, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            payload, content_type = reply.body, reply.content_type
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
            content_type = reply.content_type
        else:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            content_type = "application/json; charset=utf-8"
        with self._lock:
            self.rate_remaining = max(0, self.rate_remaining - 1)
            remaining = self.rate_remaining
        http.send_response(reply.status)
        http.send_header("Content-Type", content_type)
        http.send_header("Content-Length", str(len(payload)))
        http.send_header("X-RateLimit-Limit", "5000")
        http.send_header("X-RateLimit-Remaining", str(remaining))
        http.send_header("X-RateLimit-Used", str(5000 - remaining))
        http.send_header("X-RateLimit-Reset", str(int(self.clock()) + 3600))
        http.send_header("X-RateLimit-Resource", "core")
        http.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for name, value in reply.headers.items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(payload)

    def iso(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _grant_covers(grant: TokenGrant, repo: FakeRepo) -> bool:
    if grant.installation_id is None:
        return True
    if repo.installation_id != grant.installation_id:
        return False
    return grant.repository_ids is None or repo.id in grant.repository_ids


def _default_message(status: int) -> str:
    return {
        401: "Bad credentials",
        403: "Resource not accessible by integration",
        404: "Not Found",
        422: "Validation Failed",
        429: "Too Many Requests",
        500: "Server Error",
        502: "Server Error",
        503: "Service Unavailable",
    }.get(status, "Error")
