"""The small interface every model client speaks, and the values it returns.

A `ModelClient` turns one `ChatRequest` into one `ModelReply` or raises a
typed `ModelCallError` (worker.llm.errors). It never retries and never fails
over: that policy lives in worker.llm.failover, so the clients stay thin
adapters around one HTTP call each (OpenAI-compatible or Anthropic Messages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from worker.config import ModelEndpoint

Role = Literal["main", "fallback"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What is asked of a model. Frozen, so a retry sends exactly the same request."""

    messages: tuple[ChatMessage, ...]
    thinking: bool

    @classmethod
    def build(cls, messages: Iterable[Mapping[str, str]], *, thinking: bool) -> ChatRequest:
        """From the caller's `[{"role": ..., "content": ...}]` list."""
        frozen = []
        for message in messages:
            role = message["role"]
            if role not in ("system", "user", "assistant"):
                raise ValueError(f"unsupported message role {role!r}")
            frozen.append(ChatMessage(role, message["content"]))  # type: ignore[arg-type]
        return cls(tuple(frozen), thinking)

    def followed_by(self, *messages: ChatMessage) -> ChatRequest:
        """The same request with more turns appended (the repair round-trip)."""
        return ChatRequest((*self.messages, *messages), self.thinking)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens one or more calls consumed; `cached` is the part of `prompt` read from cache."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.cached + other.cached,
        )


@dataclass(frozen=True, slots=True)
class ModelReply:
    """One successful answer.

    `text` is the answer proper (`content`). The model's reasoning
    (`reasoning_content`, Anthropic `thinking` blocks) is never kept: only its
    length, for metrics, so nothing of it can reach a posted review.
    """

    text: str
    usage: TokenUsage
    model: str
    finish_reason: str | None = None
    reasoning_chars: int = 0


class ModelClient(Protocol):
    """One endpoint (main or fallback) behind one key."""

    @property
    def endpoint(self) -> ModelEndpoint: ...

    async def complete(self, request: ChatRequest) -> ModelReply:
        """Send one request; raise a `ModelCallError` subclass on any failure."""
        ...
