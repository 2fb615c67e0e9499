"""Pure rules for following GitHub's pagination links: where to, and in which order.

GitHub pages a list with a `Link` header of absolute URLs (`next`, `prev`,
`first`, `last`): https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api
Those URLs come from an answer, and every request we send carries the
installation token, so a link is followed only on the origin of
GITHUB_API_URL (same scheme, host and port). Anything else is refused with
`GitHubForeignLink` rather than skipped: a listing that stopped quietly
would make the bot miss its own review or summary and post a second one.

Lists come oldest first and most endpoints take no `direction`, so lookups
of the bot's latest items read from the `last` page back (`prev` links).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import httpx

from worker.github.errors import GitHubError

PER_PAGE: Final = 100
MAX_PAGES: Final = 30  # 3000 items: far more reviews or comments than a PR usually carries
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Item = dict[str, Any]
Match = Callable[[Item], bool]  # the item a lookup stops reading pages at


class GitHubForeignLink(GitHubError):
    """A pagination link points off GITHUB_API_URL's origin: not followed, no token sent.

    Usually GITHUB_API_URL names the server differently from how it names
    itself (a GitHub Enterprise Server behind another host name); otherwise
    something between us and GitHub rewrote the answer.
    """


def origin(url: str) -> str:
    """`scheme://host:port` of `url`, the default port made explicit."""
    parsed = httpx.URL(url)
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    return f"{parsed.scheme}://{parsed.host}:{port}"


def is_absolute(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def check_link(url: str, *, api_url: str, what: str) -> None:
    """Raise `GitHubForeignLink` unless `url` (relative, or absolute) is on `api_url`'s origin."""
    if not is_absolute(url):
        return
    if origin(url) != origin(api_url):
        raise GitHubForeignLink(
            f"{what}: GitHub's Link header points at {origin(url)}, not at GITHUB_API_URL's "
            f"{origin(api_url)}; it was not followed (the token is only sent to GITHUB_API_URL)"
        )


def link(response: httpx.Response, relation: str) -> str | None:
    """The URL of one `Link` relation of an answer, if present."""
    url = response.links.get(relation, {}).get("url")
    return url if isinstance(url, str) and url else None


def page_number(url: str) -> int | None:
    """The `page` query parameter of a page link (None for cursor-paged lists)."""
    value = httpx.URL(url).params.get("page")
    return int(value) if value is not None and value.isdigit() else None
