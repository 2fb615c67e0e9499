"""Answers: decoded into worker.model_answer's types, one repair round-trip, drop with a note."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fakes.model_gate import RecordingSleep
from tests.fakes.model_replies import anthropic_ok, kimi_ok
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import (
    FALLBACK_KEY,
    MESSAGES,
    Stack,
    build_stack,
    endpoint,
    llm_settings,
)
from worker.llm.base import ModelReply, TokenUsage
from worker.llm.requests import AUTO_THINKING_MIN_TOKENS
from worker.review.chunk_review import parse_reply, strip_code_fence


def _stack(kimi: FakeKimi, http: httpx.AsyncClient, **llm: Any) -> Stack:
    settings = llm_settings(endpoint("main", kimi.base_url), **llm)
    return build_stack(settings, http, sleep=RecordingSleep())


def _answer(**finding: object) -> str:
    base = {"path": "src/app.py", "line": 3, "title": "Off by one", "body": "Skips the last."}
    return json.dumps({"summary": "s", "findings": [{**base, **finding}]})


async def test_answer_decodes_into_the_design_types(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(kimi_ok(_answer(start_line=2, severity="critical", suggestion="x = 1")))
    result = await _stack(kimi, http).reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r"
    )
    assert result.answer is not None
    finding = result.answer.findings[0]
    assert (finding.path, finding.line, finding.start_line) == ("src/app.py", 3, 2)
    assert (finding.severity, finding.side, finding.suggestion) == ("critical", "RIGHT", "x = 1")
    assert result.repaired is False


async def test_findings_outside_the_chunk_are_kept_for_placement(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    """Never silently dropped: the placement step snaps them or moves them to the summary."""
    kimi.script(kimi_ok(_answer(path="src/elsewhere.py", line=9_999)))
    result = await _stack(kimi, http).reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r"
    )
    assert result.answer is not None
    assert [(f.path, f.line) for f in result.answer.findings] == [("src/elsewhere.py", 9_999)]


async def test_unparsable_answer_is_asked_again_with_the_parse_error(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(kimi_ok('{"summary": "s", "findings": [{"path": "a.py"}]}'), kimi_ok())
    result = await _stack(kimi, http).reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r"
    )
    assert result.answer is not None
    assert result.repaired is True
    repair = kimi.requests[1].body["messages"]
    assert repair[: len(MESSAGES)] == MESSAGES
    assert repair[-2]["role"] == "assistant"
    assert repair[-1]["role"] == "user"
    assert "missing required field `line`" in repair[-1]["content"].lower()
    assert result.usage == TokenUsage(2400, 600, 1600)  # both calls counted


async def test_unparsable_twice_drops_the_chunk_and_says_so(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(kimi_ok("not json at all"), kimi_ok("still { not json"))
    result = await _stack(kimi, http).reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r"
    )
    assert result.answer is None
    assert len(result.notes) == 1
    assert result.notes[0].startswith("chunk dropped: unparsable answer twice")
    assert len(kimi.requests) == 2


async def test_empty_answer_is_repaired_without_an_empty_assistant_turn(
    http: httpx.AsyncClient,
) -> None:
    """All tokens spent thinking leaves `content` empty; Anthropic refuses empty turns."""
    with FakeAnthropic(api_key=FALLBACK_KEY) as claude:
        main = endpoint(
            "main", claude.base_url, provider="anthropic", model="claude", key=FALLBACK_KEY
        )
        stack = build_stack(llm_settings(main), http, sleep=RecordingSleep())
        claude.script(anthropic_ok(""), anthropic_ok())
        result = await stack.reviewer.review_chunk(MESSAGES, chunk_tokens=5000, review_key="r")
        assert result.answer is not None
        repair = claude.requests[1].body["messages"]
    assert [m["role"] for m in repair] == ["user", "user"]
    assert "it was empty" in repair[-1]["content"]


async def test_thinking_auto_follows_the_chunk_size_on_the_wire(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    reviewer = _stack(kimi, http, thinking="auto").reviewer
    small = await reviewer.review_chunk(MESSAGES, chunk_tokens=200, review_key="r")
    large = await reviewer.review_chunk(
        MESSAGES, chunk_tokens=AUTO_THINKING_MIN_TOKENS * 4, review_key="r"
    )
    assert (small.thinking, large.thinking) == (False, True)
    assert [r.body["thinking"] for r in kimi.requests] == [
        {"type": "disabled"},
        {"type": "enabled"},
    ]


async def test_a_per_call_thinking_mode_replaces_the_environment_default(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    """A repository's `thinking = "disabled"` turns thinking off though API_LLM_THINKING is on."""
    reviewer = _stack(kimi, http, thinking="enabled").reviewer
    repo_off = await reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r", thinking="disabled"
    )
    default = await reviewer.review_chunk(MESSAGES, chunk_tokens=5000, review_key="r")
    assert (repo_off.thinking, default.thinking) == (False, True)
    assert [r.body["thinking"] for r in kimi.requests] == [
        {"type": "disabled"},
        {"type": "enabled"},
    ]


async def test_the_reasoning_override_still_wins_over_a_per_call_thinking_mode(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    override = {"thinking": {"type": "enabled"}}
    reviewer = _stack(kimi, http, reasoning_override=override).reviewer
    result = await reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r", thinking="disabled"
    )
    assert result.thinking is True
    assert kimi.requests[0].body["thinking"] == {"type": "enabled"}


async def test_reasoning_text_never_reaches_the_result(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    thoughts = "private chain of thought that must not be posted"
    kimi.script(kimi_ok(reasoning=thoughts))
    result = await _stack(kimi, http).reviewer.review_chunk(
        MESSAGES, chunk_tokens=5000, review_key="r"
    )
    assert thoughts not in repr(result)
    assert result.reasoning_chars == len(thoughts)


def test_a_code_fenced_answer_is_unwrapped() -> None:
    assert strip_code_fence('```json\n{"summary": "s"}\n```') == '{"summary": "s"}'
    assert strip_code_fence('{"summary": "s"}') == '{"summary": "s"}'


def test_a_truncated_answer_says_it_was_cut_off() -> None:
    reply = ModelReply('{"summary": "s", "find', TokenUsage(), "m", finish_reason="length")
    answer, why = parse_reply(reply)
    assert answer is None
    assert "cut off at max_completion_tokens" in why
