"""Request/answer plumbing of the fake GitHub: route templates, errors, pagination.

Kept apart from the server so the route modules (reads, writes) depend only on
this and on the state, and a new endpoint is one function plus one line of
registration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

DOCS = "https://docs.github.com/rest"
AuthKind = Literal["none", "jwt", "repo", "any_token"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    json: Any
    params: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    grant: Any = None  # the TokenGrant that authenticated the call, if any

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_param(self, name: str) -> int:
        return int(self.params[name])


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encodable, str for text media types, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


class ApiError(Exception):
    """Raised by a handler to answer like GitHub does on an error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        doc: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.reply = Reply(status, {"message": message, "documentation_url": doc}, headers or {})
        if errors is not None:
            self.reply.body["errors"] = errors
            self.reply.body["status"] = str(status)


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


Handler = Callable[[Request], Reply]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: AuthKind


def compile_template(template: str) -> re.Pattern[str]:
    """`/repos/{owner}/{repo}/pulls/{number}` -> a regex with named groups.

    `{basehead}` style placeholders match one path segment; a trailing
    `{path+}` matches the rest of the path (contents API).
    """
    regex = ""
    for part in re.split(r"(\{[a-z_]+\+?\})", template):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(regex)


def page_window(request: Request, default: int = 30) -> tuple[int, int]:
    per_page = min(100, max(1, int(request.arg("per_page") or default)))
    page = max(1, int(request.arg("page") or 1))
    return per_page, page


def link_header(request: Request, page: int, last: int, per_page: int) -> str:
    def url(number: int) -> str:
        query = {k: v[-1] for k, v in request.query.items() if k not in ("page", "per_page")}
        query.update(per_page=str(per_page), page=str(number))
        return f"<{request.base_url}{request.path}?{urlencode(query)}>"

    links = []
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(page - 1)}; rel="prev"']
    return ", ".join(links)


def paginate(request: Request, items: Sequence[Any], *, cap: int | None = None) -> Reply:
    """One page of `items` with GitHub's Link header (per_page max 100)."""
    if cap is not None:
        items = items[:cap]
    per_page, page = page_window(request)
    last = max(1, -(-len(items) // per_page))
    reply = Reply(200, list(items[(page - 1) * per_page : page * per_page]))
    links = link_header(request, page, last, per_page)
    if links:
        reply.headers["Link"] = links
    return reply
