"""What the receiver does with each (event, action), as a small pure table.

Acted on (docs/ARCHITECTURE.md, "Events acted on"): pull_request opened/reopened/synchronize/
ready_for_review; issue_comment created on a PR with a command from an
OWNER/MEMBER/COLLABORATOR; ping; installation events (recorded). Everything
else, and anything the bot itself sent, is answered 200 {"ignored": reason}.
"""

from __future__ import annotations

from typing import Final

import msgspec

from app.events import (
    Event,
    InstallationEvent,
    IssueCommentEvent,
    PingEvent,
    PullRequestEvent,
    User,
)
from worker.contract import CommandName, ReviewRequest
from worker.keys import command_job_id, review_job_id

PR_ACTIONS: Final = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
TRUSTED_ASSOCIATIONS: Final = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
COMMANDS: Final[dict[str, CommandName]] = {
    "/review": "review",
    "/review full": "review_full",
    "/help": "help",
}


class BotIdentity(msgspec.Struct, frozen=True):
    """Who "the bot itself" is: its App id and, when configured, its slug."""

    app_id: int | None = None
    slug: str | None = None

    def is_me(self, user: User, via_app_id: int | None = None) -> bool:
        if self.app_id is not None and via_app_id == self.app_id:
            return True
        return self.slug is not None and user.login == f"{self.slug}[bot]"


class Enqueue(msgspec.Struct, frozen=True):
    job_id: str
    request: ReviewRequest


class Ignore(msgspec.Struct, frozen=True):
    reason: str


class Pong(msgspec.Struct, frozen=True):
    zen: str


class RecordInstallation(msgspec.Struct, frozen=True):
    installation_id: int
    account: str
    action: str


Decision = Enqueue | Ignore | Pong | RecordInstallation


def parse_command(body: str | None) -> CommandName | None:
    """The command on a comment's first non-empty line, if it is one of ours."""
    for line in (body or "").splitlines():
        text = " ".join(line.split()).lower()
        if text:
            return COMMANDS.get(text)
    return None


def _pull_request(event: PullRequestEvent, delivery_id: str, bot: BotIdentity) -> Decision:
    if event.action not in PR_ACTIONS:
        return Ignore(f"pull_request.{event.action} is not reviewed")
    if bot.is_me(event.sender):
        return Ignore("sent by this bot")
    if event.pull_request.state != "open":
        return Ignore("pull request is not open")
    head = event.pull_request.head.sha
    request = ReviewRequest(
        delivery_id=delivery_id,
        trigger="pull_request",
        action=event.action,
        repo_id=event.repository.id,
        repo_full_name=event.repository.full_name,
        pr_number=event.number,
        installation_id=event.installation.id if event.installation else None,
        head_sha=head,
        sender=event.sender.login,
        draft=event.pull_request.draft,
    )
    return Enqueue(review_job_id(event.repository.id, event.number, head), request)


def _issue_comment(event: IssueCommentEvent, delivery_id: str, bot: BotIdentity) -> Decision:
    comment = event.comment
    via = comment.performed_via_github_app.id if comment.performed_via_github_app else None
    if bot.is_me(comment.user, via) or bot.is_me(event.sender):
        return Ignore("sent by this bot")
    if event.action != "created":
        return Ignore(f"issue_comment.{event.action} is not a command")
    if event.issue.pull_request is None:
        return Ignore("comment is on an issue, not a pull request")
    command = parse_command(comment.body)
    if command is None:
        return Ignore("comment is not a command")
    if comment.author_association not in TRUSTED_ASSOCIATIONS:
        return Ignore(f"{comment.author_association} may not run commands")
    request = ReviewRequest(
        delivery_id=delivery_id,
        trigger="command",
        action=command,
        repo_id=event.repository.id,
        repo_full_name=event.repository.full_name,
        pr_number=event.issue.number,
        installation_id=event.installation.id if event.installation else None,
        comment_id=comment.id,
        command=command,
        sender=comment.user.login,
    )
    return Enqueue(command_job_id(event.repository.id, event.issue.number, comment.id), request)


def _installation(event: InstallationEvent) -> Decision:
    account = event.installation.account.login if event.installation.account else ""
    return RecordInstallation(event.installation.id, account, event.action)


def route(event_name: str, event: Event | None, delivery_id: str, bot: BotIdentity) -> Decision:
    """Decide what to do with a verified, decoded delivery."""
    match event:
        case PullRequestEvent():
            return _pull_request(event, delivery_id, bot)
        case IssueCommentEvent():
            return _issue_comment(event, delivery_id, bot)
        case InstallationEvent():
            return _installation(event)
        case PingEvent():
            return Pong(event.zen)
    return Ignore(f"{event_name} events are not handled")
