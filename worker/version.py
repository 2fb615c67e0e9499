"""The product's version and the honest User-Agent every outbound call carries.

The Kimi Code Plan's terms forbid disguising the client (docs/ARCHITECTURE.md, "Kimi
specifics"), so every model call says plainly that it comes from kimi-review.
The version comes from the installed package metadata (pyproject.toml), read
once on first use, never hard-coded.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

PACKAGE = "kimi-review"


@cache
def version() -> str:
    """The installed kimi-review version, or `0+unknown` when run from a bare checkout."""
    try:
        return package_version(PACKAGE)
    except PackageNotFoundError:
        return "0+unknown"


def user_agent() -> str:
    """`kimi-review/<version>`: sent on every model call, main or fallback."""
    return f"{PACKAGE}/{version()}"
