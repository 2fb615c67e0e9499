"""Model answers that are hostile or broken: nested too deeply, too slow in all, too large.

Against the fake servers over real HTTP. Each case ends on a row of the
failover table: an unusable answer is asked again once and then dropped with
a note; an answer over the deadline is a timeout and one over the size cap a
server failure, both retried once and then sent to the fallback.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.model_gate import RecordingSleep
from tests.fakes.model_replies import Reply, dribbled, huge, kimi_ok
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import (
    FALLBACK_KEY,
    MESSAGES,
    Stack,
    build_stack,
    endpoint,
    llm_settings,
    short_timeouts,
)
from worker.llm.errors import ServerFailed
from worker.llm.transport import (
    ANSWER_FLOOR_BYTES,
    DEADLINE_FACTOR,
    ERROR_BODY_BYTES,
    answer_cap,
    auth_headers,
    post_json,
)
from worker.review.chunk_review import TOO_DEEP, ChunkResult

DEEP = '{"notes": ' + "[" * 100_000  # cut off too: the depth is met before the end
DEEP_FIELD = '{"summary": "s", "findings": [], "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"


def _stack(kimi: FakeKimi, claude: FakeAnthropic | None, http: httpx.AsyncClient) -> Stack:
    fallback = None
    if claude is not None:
        fallback = endpoint(
            "fallback", claude.base_url, provider="anthropic", model="claude", key=FALLBACK_KEY
        )
    llm = llm_settings(endpoint("main", kimi.base_url), fallback)
    return build_stack(llm, http, sleep=RecordingSleep())


async def _review(stack: Stack) -> ChunkResult:
    return await stack.reviewer.review_chunk(MESSAGES, chunk_tokens=5000, review_key="r")


# --- nested JSON: the "unparsable answer" row, never a RecursionError -------------------
@pytest.mark.parametrize("content", [DEEP, DEEP_FIELD])
async def test_an_answer_nested_too_deeply_is_asked_again_then_dropped_with_a_note(
    kimi: FakeKimi, http: httpx.AsyncClient, content: str
) -> None:
    """Regression: msgspec raised RecursionError out of the review; the job was retried
    8 times and then abandoned with the exception text posted on the pull request."""
    kimi.script(kimi_ok(content), kimi_ok(content))
    result = await _review(_stack(kimi, None, http))
    assert result.answer is None
    assert result.notes == (
        "chunk dropped: unparsable answer twice (its JSON is nested too deeply)",
    )
    repair = kimi.requests[1].body["messages"][-1]["content"]
    assert TOO_DEEP in repair


async def test_a_deep_answer_then_a_good_one_is_repaired(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(kimi_ok(DEEP_FIELD), kimi_ok())
    result = await _review(_stack(kimi, None, http))
    assert result.answer is not None
    assert result.repaired is True


async def test_a_chat_completion_nested_too_deeply_is_a_server_failure(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient
) -> None:
    """Regression: a 200 whose envelope (not its content) was nested too deeply crashed."""
    envelope = json.loads(kimi_ok().encoded())
    body = json.dumps(envelope)[:-1] + ', "junk": ' + "[" * 100_000 + "]" * 100_000 + "}"
    kimi.script(Reply(body=body), Reply(body=body))
    result = await _review(_stack(kimi, claude, http))
    assert result.role == "fallback"
    assert len(kimi.requests) == 2


async def test_an_error_body_nested_too_deeply_is_still_classified(
    kimi: FakeKimi, http: httpx.AsyncClient
) -> None:
    kimi.script(Reply(status=503, body=DEEP), kimi_ok())
    result = await _review(_stack(kimi, None, http))
    assert result.answer is not None
    assert len(kimi.requests) == 2  # 5xx: retried once on main


# --- a total deadline per call ---------------------------------------------------------
async def test_an_answer_dribbled_past_the_deadline_is_a_timeout_then_the_fallback(
    kimi: FakeKimi, claude: FakeAnthropic
) -> None:
    """Regression: only each read was timed, so a server sending a byte at a time held the
    call (and its gate slot) as long as it liked. Every read here is quick; the whole is not."""
    read_timeout = 0.3  # stands for API_LLM_TIMEOUT: the deadline is DEADLINE_FACTOR of it
    slow = dribbled(kimi_ok(), every=0.05)  # ~600 bytes, 16 at a time: ~2 s in all
    kimi.script(slow, slow)
    async with short_timeouts(read=read_timeout) as http:
        result = await _review(_stack(kimi, claude, http))
    assert DEADLINE_FACTOR * read_timeout < 2.0
    assert result.role == "fallback"
    assert len(kimi.requests) == 2  # one retry on main, as for any timeout


async def test_a_slow_answer_within_the_deadline_is_served(kimi: FakeKimi) -> None:
    kimi.script(dribbled(kimi_ok(), every=0.002))
    async with short_timeouts(read=5.0) as http:
        result = await _review(_stack(kimi, None, http))
    assert result.answer is not None


# --- a cap on the answer's bytes -------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_over_the_size_cap_is_a_server_failure_then_the_fallback(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, chunked: bool
) -> None:
    """Regression: a body of any size was read whole into memory."""
    megabytes = ANSWER_FLOOR_BYTES / (1024 * 1024) + 1
    kimi.script(huge(megabytes, chunked=chunked), huge(megabytes, chunked=chunked))
    stack = _stack(kimi, claude, http)
    assert answer_cap(stack.llm) == ANSWER_FLOOR_BYTES
    result = await _review(stack)
    assert result.role == "fallback"
    assert len(kimi.requests) == 2


async def test_the_cap_stops_reading_a_streamed_answer(kimi: FakeKimi) -> None:
    kimi.script(huge(2, chunked=True))
    main = endpoint("main", kimi.base_url)
    async with httpx.AsyncClient(timeout=5) as http:
        with pytest.raises(ServerFailed, match="answer over 65,536 bytes"):
            await post_json(
                http,
                f"{kimi.base_url}/chat/completions",
                endpoint=main,
                headers=auth_headers(main),
                body=json.dumps({"model": "kimi-k2.6", "messages": MESSAGES}).encode(),
                max_bytes=64 * 1024,
            )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_huge_error_answer_is_classified_from_its_start(
    kimi: FakeKimi, claude: FakeAnthropic, http: httpx.AsyncClient, chunked: bool
) -> None:
    """Only ERROR_BODY_BYTES of an error are read; its type is at the start."""
    filler = "x" * (4 * ERROR_BODY_BYTES)
    quota = {"error": {"type": "exceeded_current_quota_error", "message": filler}}
    kimi.script(Reply(status=429, body=quota, chunked=chunked))
    stack = _stack(kimi, claude, http)
    result = await _review(stack)
    assert result.role == "fallback"
    assert len(kimi.requests) == 1  # a quota: the fallback at once, no retry
    assert stack.llm.main is not None
    trip = await stack.breaker.tripped(stack.llm.main.key_id)
    assert trip is not None
    assert trip.kind == "quota"


def test_the_cap_grows_with_the_completion_tokens_asked() -> None:
    main = endpoint("main", "http://127.0.0.1:9/v1")
    small = llm_settings(main, max_completion_tokens=32768)
    large = llm_settings(main, max_completion_tokens=1_000_000)
    assert answer_cap(small) == ANSWER_FLOOR_BYTES
    assert answer_cap(large) == 32_000_000
