"""Routing of verified deliveries: the (event, action) table, commands, the bot itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.events import MalformedPayload, decode_event
from app.routing import (
    BotIdentity,
    Decision,
    Enqueue,
    Ignore,
    Pong,
    RecordInstallation,
    parse_command,
    route,
)
from tests.support.webhooks import payload, pr_comment

BOT = BotIdentity(app_id=4242, slug="kimi-review")
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def _route(event: str, data: dict[str, Any], delivery: str = "d-1") -> Decision:
    return route(event, decode_event(event, json.dumps(data).encode()), delivery, BOT)


@pytest.mark.parametrize("action", ["opened", "synchronize", "ready_for_review", "reopened"])
def test_reviewed_pull_request_actions_are_queued_by_head(action: str) -> None:
    data = payload("pull_request.opened")
    data["action"] = action
    decision = _route("pull_request", data)
    assert isinstance(decision, Enqueue)
    assert decision.job_id == f"review:186853002:2:{HEAD}"
    assert decision.request.head_sha == HEAD
    assert decision.request.repo_full_name == "Codertocat/Hello-World"
    assert decision.request.trigger == "pull_request"


def test_the_same_head_gets_the_same_job_id_whatever_the_action() -> None:
    ids = {
        _route("pull_request", payload(name)).job_id  # type: ignore[union-attr]
        for name in ("pull_request.opened", "pull_request.synchronize")
    }
    assert len(ids) == 1


def test_closed_pull_request_is_ignored() -> None:
    decision = _route("pull_request", payload("pull_request.closed"))
    assert decision == Ignore("pull_request.closed is not reviewed")


def test_draft_is_queued_with_its_flag_for_the_worker_to_decide() -> None:
    data = payload("pull_request.opened")
    data["pull_request"]["draft"] = True
    decision = _route("pull_request", data)
    assert isinstance(decision, Enqueue)
    assert decision.request.draft is True


def test_installation_id_is_carried_to_the_job() -> None:
    decision = _route("pull_request", payload("pull_request.synchronize"))
    assert isinstance(decision, Enqueue)
    assert decision.request.installation_id == 1


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("/review", "review"),
        ("  /review  \nplease", "review"),
        ("/review full", "review_full"),
        ("/REVIEW   FULL", "review_full"),
        ("/help", "help"),
        ("\n\n/help", "help"),
        ("please /review", None),
        ("/reviewer", None),
        ("", None),
        (None, None),
    ],
)
def test_commands_are_read_from_the_first_line(body: str | None, command: str | None) -> None:
    assert parse_command(body) == command


def test_command_on_a_pull_request_from_a_member_is_queued_by_comment() -> None:
    data = pr_comment("/review full", "MEMBER")
    decision = _route("issue_comment", data)
    assert isinstance(decision, Enqueue)
    assert decision.job_id == f"command:186853002:1:{data['comment']['id']}"
    assert decision.request.command == "review_full"
    assert decision.request.head_sha is None


@pytest.mark.parametrize("association", ["NONE", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR"])
def test_commands_from_users_without_write_access_are_ignored(association: str) -> None:
    decision = _route("issue_comment", pr_comment("/review", association))
    assert isinstance(decision, Ignore)
    assert association in decision.reason


def test_command_on_a_plain_issue_is_ignored() -> None:
    decision = _route("issue_comment", payload("issue_comment.created"))
    assert decision == Ignore("comment is on an issue, not a pull request")


def test_comments_that_are_not_commands_are_ignored() -> None:
    assert _route("issue_comment", pr_comment("LGTM")) == Ignore("comment is not a command")


def test_the_bots_own_comments_are_ignored() -> None:
    by_app = pr_comment("/review", "OWNER", performed_via_github_app={"id": 4242})
    by_login = pr_comment("/review", "OWNER", user={"login": "kimi-review[bot]", "type": "Bot"})
    assert _route("issue_comment", by_app) == Ignore("sent by this bot")
    assert _route("issue_comment", by_login) == Ignore("sent by this bot")


def test_another_apps_comment_is_judged_on_its_own() -> None:
    data = pr_comment("/review", "MEMBER", performed_via_github_app={"id": 7})
    assert isinstance(_route("issue_comment", data), Enqueue)


def test_ping_is_answered() -> None:
    decision = _route("ping", payload("ping"))
    assert isinstance(decision, Pong)


def test_installation_is_recorded() -> None:
    decision = _route("installation", payload("installation.created"))
    assert decision == RecordInstallation(957387, "Codertocat", "created")


def test_unknown_events_are_ignored_without_decoding() -> None:
    assert route("push", None, "d", BOT) == Ignore("push events are not handled")


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"action": "opened"}', b'{"action": 1, "number": "x"}']
)
def test_malformed_payloads_raise(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        decode_event("pull_request", body)
