"""Secret values that cannot leak through repr, str, logs or exceptions.

A `Secret` wraps a credential so that printing the settings object, logging
it or putting it in an exception message shows `Secret('***')`. Code that
needs the value calls `reveal()` at the one place it goes on the wire.
`scrub` removes known secret values and secret-looking tokens from any text,
for the logging processor and for error messages built from HTTP bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

REDACTED: Final = "***"

# Shapes of credentials this product handles: GitHub tokens (ghp_, ghs_, gho_,
# ghu_, ghr_, github_pat_), OpenAI/Moonshot style `sk-` keys, Anthropic
# `sk-ant-` keys, bearer headers and JWTs (App auth), PEM private keys.
_TOKEN_PATTERNS: Final = re.compile(
    r"(?:gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|sk-[A-Za-z0-9_\-]{16,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]{16,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$))"
)
# Credentials embedded in URLs: redis://user:password@host, https://u:p@host.
_URL_PASSWORD: Final = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@")


class Secret:
    """A credential. Never shows its value except through `reveal()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The raw value, for the one place it is sent to its service."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def redact_url(url: str) -> str:
    """`redis://:pw@host:6379/0` -> `redis://:***@host:6379/0`."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", url)


def scrub(text: str, known: Iterable[str] = ()) -> str:
    """Remove known secret values, credential-shaped tokens and URL passwords."""
    for value in known:
        if value and len(value) >= 4:
            text = text.replace(value, REDACTED)
    text = _TOKEN_PATTERNS.sub(REDACTED, text)
    return redact_url(text)
