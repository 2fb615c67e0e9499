"""The job request the receiver enqueues and the worker consumes.

Only simple values cross the queue: the worker fetches its own token and the
PR's current state from GitHub. The request is msgspec-encoded (msgpack) into
the arq job; new fields must get defaults so jobs already queued by an older
receiver still decode.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

REVIEW_FUNCTION: Final = "review_pull_request"

Trigger = Literal["pull_request", "command"]
CommandName = Literal["review", "review_full", "help"]


class ReviewRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What to review and why; encoded into the arq job's only argument."""

    delivery_id: str
    trigger: Trigger
    action: str  # pull_request action, or the command name for trigger="command"
    repo_id: int
    repo_full_name: str
    pr_number: int
    installation_id: int | None = None
    head_sha: str | None = None  # None for commands: the worker resolves the head
    comment_id: int | None = None
    command: CommandName | None = None
    sender: str | None = None
    draft: bool = False


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(ReviewRequest)


def encode_request(request: ReviewRequest) -> bytes:
    return _encoder.encode(request)


def decode_request(data: bytes) -> ReviewRequest:
    return _decoder.decode(data)
