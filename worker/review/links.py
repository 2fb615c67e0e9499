"""Which links the bot may post as clickable: only to the GitHub host in use.

A pull request can steer the model (prompt injection) into writing
`[Sign in to fix](https://phish.example/login)`; posted as a link, it would be
a phishing link under the bot's name. `sanitize` keeps a link clickable only
when `link_allowed` says so, and shows every other one as code.

The GitHub host is the web UI's host for `GITHUB_API_URL` (`web_host`):
api.github.com → github.com, a GitHub Enterprise Server `https://ghe.example/api/v3`
→ ghe.example (https://docs.github.com/enterprise-server/rest/quickstart).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

# What a kept link may hold: no `&` (a character reference such as `&#x2F;`
# would be decoded into the href, `&#x2F;&#x2F;host` becoming `//host`), no
# backslash (browsers read `/\host` as `//host`), no space or control
# character (browsers drop tabs and newlines inside a URL).
_SAFE_URL: Final = re.compile(r"[A-Za-z0-9/._~%?#=+,:;@!$*'-]*")
# Bare URLs outside a link are kept only when plainer still: `@`, `*`, `;`
# could change where GitHub's autolink ends or start a mention inside it.
_SAFE_BARE_URL: Final = re.compile(r"[A-Za-z0-9/._~%?#=+,:-]*")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def web_host(api_url: str) -> str:
    """The host of GitHub's web UI for a REST base URL (see the module docstring)."""
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if parts.path.rstrip("/").endswith("/api/v3"):
        return host  # GitHub Enterprise Server: the API lives under the web host
    if host.startswith("api.") and host.count(".") >= 2:
        return host.removeprefix("api.")  # api.github.com, api.<name>.ghe.com
    return host


def link_allowed(url: str, host: str | None, *, bare: bool = False) -> bool:
    """True when `url` may stay clickable: relative, or http(s) on `host` exactly.

    `bare`: a URL in running text that GitHub autolinks (`www.` means http).
    `host` None allows relative links only.
    """
    if _SAFE_URL.fullmatch(url) is None:
        return False
    if bare:
        if _SAFE_BARE_URL.fullmatch(url) is None:
            return False
        if url[:4].lower() == "www.":
            url = f"http://{url}"
    if url.startswith("//"):
        return False  # protocol-relative: another host
    if _SCHEME.match(url) is None:
        return not bare  # a relative link resolves on the page's own host
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        return False  # `https://github.com@phish.example` goes to phish.example
    return host is not None and (parts.hostname or "") == host.lower()
