"""Answers the fake model servers give: successes and the providers' real error shapes.

Error texts are the ones the providers document or were seen answering:
Moonshot developer API https://platform.moonshot.ai/docs/api/chat#error-codes,
Kimi Code https://www.kimi.com/code/docs/en/kimi-code/error-reference.html,
Anthropic https://docs.anthropic.com/en/api/errors. Where a document gives
the message but not `error.type` (Kimi Code 402 and 403 limit), the type
here is an assumption; the client classifies those by status and text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_ANSWER = json.dumps(
    {
        "summary": "Adds a helper.",
        "findings": [
            {
                "path": "src/app.py",
                "line": 3,
                "side": "RIGHT",
                "severity": "high",
                "category": "bug",
                "title": "Off by one",
                "body": "The loop skips the last item.",
            }
        ],
    }
)


VERIFIER_OPENING = "Now act as kimi-review's verifier"
KEEP_ALL_VERDICTS = json.dumps({"verdicts": [{"id": 1, "verdict": "keep", "reason": "plausible"}]})


def _text(content: Any) -> str:
    if isinstance(content, list):  # Anthropic content blocks
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def is_verify_request(body: Any) -> bool:
    """Whether a request body is the verifying pass's, in either wire format.

    The verify request repeats the finder's messages, then the findings as an
    assistant turn, then a user message opening with the verifier's
    instructions; a repair follow-up keeps that message, so it counts too.
    """
    if not isinstance(body, dict):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    return any(
        isinstance(m, dict)
        and m.get("role") == "user"
        and _text(m.get("content")).startswith(VERIFIER_OPENING)
        for m in messages
    )


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `delay` holds the answer back; `reset` drops the connection.

    `dribble` sends the body `DRIBBLE_BYTES` at a time with that many seconds
    between pieces (each read is quick, the whole answer slow); `chunked`
    sends it without a Content-Length, as a streamed answer of unknown size.
    """

    status: int = 200
    body: Any = None  # dict -> JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    dribble: float = 0.0
    chunked: bool = False

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


# --- OpenAI-compatible (Kimi) -------------------------------------------
def kimi_ok(
    content: str = DEFAULT_ANSWER,
    *,
    reasoning: str = "Let me look at the loop bounds first.",
    prompt: int = 1200,
    completion: int = 300,
    cached: int | None = 800,
    openai_style_cache: bool = False,
    finish_reason: str = "stop",
    model: str = "kimi-k2.6",
) -> Reply:
    """A chat completion. Kimi reports cache hits as top-level `usage.cached_tokens`."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        if openai_style_cache:
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        else:
            usage["cached_tokens"] = cached
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    return Reply(
        body={
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": usage,
        }
    )


def kimi_error(
    status: int, error_type: str | None, message: str, headers: dict[str, str] | None = None
) -> Reply:
    error: dict[str, Any] = {"message": message}
    if error_type is not None:
        error["type"] = error_type
    return Reply(status, {"error": error}, headers or {})


def kimi_rate_limited(seconds: int = 1, headers: dict[str, str] | None = None) -> Reply:
    return kimi_error(
        429,
        "rate_limit_reached_error",
        "Your account org-fake<ak-fake> request reached organization max RPM: 3, "
        f"please try again after {seconds} seconds",
        headers,
    )


def kimi_overloaded() -> Reply:
    return kimi_error(
        429, "engine_overloaded_error", "The engine is currently overloaded, please try again later"
    )


def kimi_quota_exceeded() -> Reply:
    return kimi_error(
        429,
        "exceeded_current_quota_error",
        "Your account org-fake<ak-fake> is suspended, please check your plan and billing details",
    )


def kimi_code_membership() -> Reply:
    return kimi_error(
        402,
        "payment_required_error",  # type assumed; the document gives the text
        "We're unable to verify your membership benefits at this time. Please try again later.",
    )


def kimi_code_limit() -> Reply:
    return kimi_error(
        403,
        "permission_denied_error",  # type assumed; the document gives the text
        "You've reached your usage limit for this billing cycle. Please upgrade your plan.",
    )


def kimi_code_agents_only() -> Reply:
    return kimi_error(
        403,
        "access_terminated_error",
        "Kimi For Coding is currently only available for Coding Agents such as Kimi CLI, "
        "Claude Code, Roo Code, Kilo Code, etc.",
    )


def kimi_unauthorized() -> Reply:
    return kimi_error(401, "invalid_authentication_error", "Invalid Authentication")


def kimi_context_too_long() -> Reply:
    return kimi_error(
        400,
        "invalid_request_error",
        "Invalid request: Your request exceeded model token limit: 262144 (requested: 269030)",
    )


def server_error(status: int = 500) -> Reply:
    return kimi_error(status, "server_error", "internal server error, please retry later")


def gateway_html(status: int = 502) -> Reply:
    return Reply(status, b"<html><body><h1>502 Bad Gateway</h1></body></html>")


def hang(seconds: float) -> Reply:
    """Answers only after `seconds`: longer than the client's read timeout, it is a timeout."""
    return Reply(delay=seconds, body=json.loads(kimi_ok().encoded()))


def dribbled(reply: Reply, every: float) -> Reply:
    """`reply`, sent a few bytes at a time, `every` seconds apart."""
    return replace(reply, dribble=every)


def huge(megabytes: float, *, chunked: bool = False, status: int = 200) -> Reply:
    """An answer of `megabytes` MiB: a chat completion whose content is mostly filler."""
    filler = "x" * int(megabytes * 1024 * 1024)
    if status != 200:
        return replace(server_error(status), body={"error": {"message": filler}}, chunked=chunked)
    return replace(kimi_ok(filler), chunked=chunked)


def reset() -> Reply:
    """Drops the connection without answering (TCP RST)."""
    return Reply(reset=True)


# --- Anthropic Messages ---------------------------------------------------
def anthropic_ok(
    text: str = DEFAULT_ANSWER,
    *,
    thinking: str = "Checking the loop.",
    input_tokens: int = 400,
    output_tokens: int = 250,
    cache_read: int = 600,
    cache_write: int = 200,
    model: str = "claude-sonnet-4-5",
) -> Reply:
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": "sig-fake"})
    content.append({"type": "text", "text": text})
    return Reply(
        body={
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_read_input_tokens": cache_read,
                "cache_creation_input_tokens": cache_write,
            },
        }
    )


def anthropic_error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(
        status,
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": "req_fake",
        },
        headers or {},
    )
