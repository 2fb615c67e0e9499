"""The parts of GitHub webhook payloads the receiver reads, as msgspec Structs.

Structs declare only the fields used; unknown fields are ignored (GitHub adds
fields over time) and optional ones default, so payload changes never break
intake. One decoder per event type, built once.
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from __future__ import annotations

from typing import Final

import msgspec


class User(msgspec.Struct, frozen=True):
    login: str
    type: str = "User"


class Repository(msgspec.Struct, frozen=True):
    id: int
    full_name: str


class Installation(msgspec.Struct, frozen=True):
    id: int
    account: User | None = None


class GitHubApp(msgspec.Struct, frozen=True):
    id: int


class Ref(msgspec.Struct, frozen=True):
    sha: str


class PullRequest(msgspec.Struct, frozen=True):
    number: int
    head: Ref
    state: str = "open"
    draft: bool = False


class PullRequestEvent(msgspec.Struct, frozen=True):
    action: str
    number: int
    pull_request: PullRequest
    repository: Repository
    sender: User
    installation: Installation | None = None


class IssuePullRequestLink(msgspec.Struct, frozen=True):
    url: str | None = None


class Issue(msgspec.Struct, frozen=True):
    number: int
    pull_request: IssuePullRequestLink | None = None
    state: str = "open"


class Comment(msgspec.Struct, frozen=True):
    id: int
    body: str | None
    user: User
    author_association: str = "NONE"
    performed_via_github_app: GitHubApp | None = None


class IssueCommentEvent(msgspec.Struct, frozen=True):
    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User
    installation: Installation | None = None


class InstallationEvent(msgspec.Struct, frozen=True):
    action: str
    installation: Installation
    sender: User


class PingEvent(msgspec.Struct, frozen=True):
    zen: str = ""
    hook_id: int | None = None


Event = PullRequestEvent | IssueCommentEvent | InstallationEvent | PingEvent

DECODERS: Final[dict[str, msgspec.json.Decoder[Event]]] = {
    "pull_request": msgspec.json.Decoder(PullRequestEvent),
    "issue_comment": msgspec.json.Decoder(IssueCommentEvent),
    "installation": msgspec.json.Decoder(InstallationEvent),
    "installation_repositories": msgspec.json.Decoder(InstallationEvent),
    "ping": msgspec.json.Decoder(PingEvent),
}


class MalformedPayload(ValueError):
    """The body is not the JSON GitHub sends for this event; answered 400."""


def decode_event(event: str, body: bytes) -> Event | None:
    """Decode `body` for `event`; None for events we never read."""
    decoder = DECODERS.get(event)
    if decoder is None:
        return None
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise MalformedPayload(f"{event} payload: {exc}") from None
    except RecursionError:
        # msgspec recurses even to skip a field we do not read: a body nested
        # deeper than the interpreter's limit is malformed for us, not a crash.
        raise MalformedPayload(f"{event} payload: JSON nested too deeply") from None
