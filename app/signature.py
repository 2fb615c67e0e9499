"""GitHub webhook signatures (X-Hub-Signature-256), pure.

GitHub signs the exact body bytes with HMAC-SHA256 and the App's webhook
secret: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
The check runs on the raw bytes before anything decodes them, and compares in
constant time. Only `sha256=` is accepted: the legacy SHA-1 header is weaker
and GitHub always sends both.
"""

from __future__ import annotations

import hashlib
import hmac


class SignatureError(Exception):
    """The delivery is not signed with our secret; answered 401."""


class MissingSignature(SignatureError):
    pass


class InvalidSignature(SignatureError):
    pass


def sign(body: bytes, *, secret: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, *, header: str | None, secret: bytes) -> None:
    """Raise a SignatureError unless `header` is the HMAC-SHA256 of `body`."""
    if not header:
        raise MissingSignature("X-Hub-Signature-256 header is missing")
    algorithm, _, digest = header.strip().partition("=")
    if algorithm != "sha256" or not digest:
        raise InvalidSignature("X-Hub-Signature-256 must look like sha256=<hex>")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.lower()):
        raise InvalidSignature("X-Hub-Signature-256 does not match the body")
