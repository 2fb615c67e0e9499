"""Error classification (pure): status + error.type + message -> failover row, and wait hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.fakes.model_replies import (
    Reply,
    anthropic_error,
    gateway_html,
    kimi_code_agents_only,
    kimi_code_limit,
    kimi_code_membership,
    kimi_context_too_long,
    kimi_overloaded,
    kimi_quota_exceeded,
    kimi_rate_limited,
    kimi_unauthorized,
    server_error,
)
from worker.llm.classify import classify_response, kind_of, retry_after_seconds


def _classify(reply: Reply) -> tuple[str, float | None]:
    detail = classify_response(reply.status, reply.headers, reply.encoded())
    return detail.kind, detail.retry_after


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (kimi_rate_limited(3), "rate_limited"),
        (kimi_overloaded(), "rate_limited"),
        (kimi_quota_exceeded(), "quota"),
        (kimi_code_membership(), "quota"),
        (kimi_code_limit(), "quota"),
        (kimi_code_agents_only(), "agents_only"),
        (kimi_unauthorized(), "auth"),
        (kimi_context_too_long(), "context_too_long"),
        (server_error(500), "server"),
        (server_error(503), "server"),
        (gateway_html(502), "server"),
        (anthropic_error(529, "overloaded_error", "Overloaded"), "rate_limited"),
        (
            anthropic_error(429, "rate_limit_error", "Number of request tokens exceeded"),
            "rate_limited",
        ),
        (anthropic_error(401, "authentication_error", "invalid x-api-key"), "auth"),
        (anthropic_error(403, "permission_error", "not allowed to use this model"), "auth"),
        (anthropic_error(402, "billing_error", "billing issue"), "quota"),
        (
            anthropic_error(
                400, "invalid_request_error", "Your credit balance is too low to access the API"
            ),
            "quota",
        ),
        (
            anthropic_error(400, "invalid_request_error", "prompt is too long: 210000 > 200000"),
            "context_too_long",
        ),
        (
            anthropic_error(413, "request_too_large", "Request exceeds the maximum size"),
            "context_too_long",
        ),
        (
            anthropic_error(
                400, "invalid_request_error", "response_format: Extra inputs are not permitted"
            ),
            "rejected",
        ),
        (anthropic_error(404, "not_found_error", "model: claude-x"), "rejected"),
    ],
)
def test_provider_answers_map_to_their_failover_row(reply: Reply, kind: str) -> None:
    assert _classify(reply)[0] == kind


def test_kimi_code_period_limit_on_429_is_a_quota_not_a_rate_limit() -> None:
    """Kimi Code's 5-hour window answers 429 too; waiting seconds would not help."""
    assert kind_of(429, None, "You've reached your usage limit for this period") == "quota"
    assert kind_of(429, None, "You've reached kimi monthly usage limit") == "quota"
    assert kind_of(429, None, "We're receiving too many requests") == "rate_limited"


def test_access_terminated_is_recognised_from_the_body_whatever_the_status() -> None:
    assert kind_of(429, "access_terminated_error", "Access terminated.") == "agents_only"
    assert kind_of(403, None, "only available for Coding Agents such as Kimi CLI") == "agents_only"


def test_wait_hint_is_read_from_kimis_message_text() -> None:
    assert _classify(kimi_rate_limited(7)) == ("rate_limited", 7.0)


def test_retry_after_header_wins_over_the_message_text() -> None:
    assert _classify(kimi_rate_limited(7, {"Retry-After": "2"})) == ("rate_limited", 2.0)


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": header}, "", now) == pytest.approx(30)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("please try again after 1 seconds", 1.0),
        ("Please try again in 1.5s.", 1.5),
        ("Please try again in 250ms", 0.25),
        ("retry after 2 minutes", 120.0),
        ("The engine is currently overloaded, please try again later", None),
    ],
)
def test_wait_hint_units_in_text(text: str, seconds: float | None) -> None:
    assert retry_after_seconds({}, text) == seconds


def test_quota_and_auth_answers_carry_no_wait_hint() -> None:
    assert _classify(kimi_quota_exceeded()) == ("quota", None)


def test_provider_text_echoing_a_key_is_scrubbed() -> None:
    key = "sk-live-abcdefghijklmnopqrstuvwxyz"
    reply = kimi_unauthorized()
    body = reply.encoded().replace(b"Invalid Authentication", f"bad key {key}".encode())
    detail = classify_response(401, {}, body, known_secrets=(key,))
    assert key not in detail.message
    assert detail.kind == "auth"
