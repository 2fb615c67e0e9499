"""GitHub's error bodies read without I/O: the one decoder every caller shares.

GitHub answers an error with JSON like `{"message": "Not Found",
"documentation_url": ...}`, and a refused write adds an `errors` list whose
entries are strings or objects (`resource`, `field`, `code`, `message`):
https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
A proxy or an outage may send HTML or nothing instead. These functions take
the body as bytes, text or already-decoded JSON and never raise, in the
manner of gidgethub's `sansio` module: the HTTP adapters (worker.github.rest,
worker.github.auth, worker.github.client, worker.github.redeliveries, the
doctor) only hand them what came back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

Body = bytes | str | Mapping[str, object] | list[object] | None


def _decoded(body: Body) -> object:
    """The JSON value of a body, or the body itself when it is not JSON."""
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except ValueError:  # also UnicodeDecodeError: bytes that are not text
            return body
    return body


def error_message(body: Body) -> str | None:
    """GitHub's `message`, or None when the body carries none (not JSON, not an object)."""
    data = _decoded(body)
    if isinstance(data, Mapping):
        message = data.get("message")
        if isinstance(message, str):
            return message
    return None


def error_texts(body: Body) -> list[str]:
    """Every text a refusal gives: each `errors` entry (its field, message and code), then
    `message`; a body that is not a JSON object is one text as it came."""
    data = _decoded(body)
    if isinstance(data, bytes):
        return [data.decode("utf-8", "replace")]
    if not isinstance(data, Mapping):
        return [data if isinstance(data, str) else str(data)]
    texts: list[str] = []
    errors = data.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, Mapping):
            texts.append(
                " ".join(str(error.get(k, "")) for k in ("field", "message", "code")).strip()
            )
        else:
            texts.append(str(error))
    message = data.get("message")
    if isinstance(message, str) and message:
        texts.append(message)
    return texts
