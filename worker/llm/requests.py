"""Request bodies for both wire formats, built as pure functions of the settings.

OpenAI-compatible (Kimi) bodies carry the Kimi specifics (docs/ARCHITECTURE.md):
`thinking: {"type": "enabled" | "disabled"}`, no `temperature` unless
API_LLM_TEMPERATURE_OVERRIDE is set (Kimi K2.x rejects anything but 1),
`max_completion_tokens`, `response_format: json_object`, and finally
API_LLM_REASONING_OVERRIDE merged in (it wins over API_LLM_THINKING).
Moonshot: https://platform.moonshot.ai/docs/api/chat (request body).

Anthropic Messages bodies carry none of those: system text goes to the
top-level `system`, `max_tokens` is required, JSON is asked for in the prompt
(the API refuses unknown fields such as `response_format`), and extended
thinking is only `{"type": "enabled", "budget_tokens": N}` with
1024 <= N < max_tokens. https://docs.anthropic.com/en/api/messages
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from worker.config import LLMSettings, Thinking
from worker.llm.base import ChatRequest

# thinking=auto: chunks smaller than this many prompt tokens are sent with
# thinking disabled. Kimi's guidance is to skip thinking for small, simple
# inputs, where it costs latency and tokens for little gain.
AUTO_THINKING_MIN_TOKENS: Final = 2000

ANTHROPIC_MIN_BUDGET: Final = 1024  # smallest budget_tokens the Messages API accepts
ANTHROPIC_DEFAULT_BUDGET: Final = 16000

_encoder: Final = msgspec.json.Encoder()


def _override_thinking_type(override: dict[str, Any] | None) -> str | None:
    thinking = (override or {}).get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("type"), str):
        return str(thinking["type"])
    return None


def wants_thinking(
    mode: Thinking, chunk_tokens: int, override: dict[str, Any] | None = None
) -> bool:
    """Whether a chunk is reviewed with thinking on.

    API_LLM_REASONING_OVERRIDE's `thinking.type` wins; otherwise `enabled` and
    `disabled` are taken as said, and `auto` turns thinking off for small chunks.
    """
    forced = _override_thinking_type(override)
    if forced is not None:
        return forced != "disabled"
    if mode == "auto":
        return chunk_tokens >= AUTO_THINKING_MIN_TOKENS
    return mode == "enabled"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` wins; nested objects are merged key by key, not replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def openai_body(model: str, request: ChatRequest, llm: LLMSettings) -> dict[str, Any]:
    """POST /chat/completions body for an OpenAI-compatible (Kimi) endpoint."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_completion_tokens": llm.max_completion_tokens,
        "response_format": {"type": "json_object"},
        "thinking": {"type": "enabled" if request.thinking else "disabled"},
    }
    if llm.temperature_override is not None:
        body["temperature"] = llm.temperature_override
    if llm.reasoning_override:
        body = deep_merge(body, llm.reasoning_override)
    return body


def anthropic_budget(llm: LLMSettings) -> int | None:
    """budget_tokens for extended thinking, or None when max_tokens leaves no room.

    Taken from API_LLM_REASONING_OVERRIDE's `thinking.budget_tokens` when set,
    and kept within the API's rule 1024 <= budget < max_tokens.
    """
    ceiling = llm.max_completion_tokens - 1
    if ceiling < ANTHROPIC_MIN_BUDGET:
        return None
    thinking = (llm.reasoning_override or {}).get("thinking")
    wanted = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        wanted = min(ANTHROPIC_DEFAULT_BUDGET, llm.max_completion_tokens // 2)
    return max(ANTHROPIC_MIN_BUDGET, min(wanted, ceiling))


def anthropic_body(model: str, request: ChatRequest, llm: LLMSettings) -> dict[str, Any]:
    """POST /v1/messages body. Only fields the Messages API knows."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": llm.max_completion_tokens,
        "messages": [
            {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
        ],
    }
    if system:
        body["system"] = system
    budget = anthropic_budget(llm) if request.thinking else None
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return body


def encode_body(body: dict[str, Any]) -> bytes:
    return _encoder.encode(body)
