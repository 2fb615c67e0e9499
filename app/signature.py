"""GitHub webhook signatures (X-Hub-Signature-256), pure.

GitHub signs the exact body bytes with HMAC-SHA256 and the App's webhook
secret: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
The check runs on the raw bytes before anything decodes them, and compares in
constant time. Only `sha256=` is accepted: the legacy SHA-1 header is weaker
and GitHub always sends both.

The header is checked in two steps so the receiver can refuse a delivery
before reading its body: `signature_digest` (the header alone: present, and
`sha256=` followed by 64 hex digits) and `verify_signature` (the body's HMAC).
Headers arrive decoded as latin-1, so a hostile one may hold any character;
only ASCII hex ever reaches `hmac.compare_digest`, which raises TypeError on
non-ASCII text.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from typing import Final

DIGEST_CHARS: Final = 64  # hex digits of a SHA-256
_HEX: Final = frozenset(string.hexdigits)


class SignatureError(Exception):
    """The delivery is not signed with our secret; answered 401."""


class MissingSignature(SignatureError):
    pass


class InvalidSignature(SignatureError):
    pass


def sign(body: bytes, *, secret: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_digest(header: str | None) -> str:
    """The lower-case hex digest in `header`; a SignatureError when it cannot match any body."""
    if not header:
        raise MissingSignature("X-Hub-Signature-256 header is missing")
    algorithm, _, digest = header.strip().partition("=")
    if algorithm != "sha256" or len(digest) != DIGEST_CHARS or not _HEX.issuperset(digest):
        raise InvalidSignature("X-Hub-Signature-256 must look like sha256=<64 hex digits>")
    return digest.lower()


def verify_signature(body: bytes, *, header: str | None, secret: bytes) -> None:
    """Raise a SignatureError unless `header` is the HMAC-SHA256 of `body`."""
    digest = signature_digest(header)
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest):
        raise InvalidSignature("X-Hub-Signature-256 does not match the body")
