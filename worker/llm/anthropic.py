"""Client for the Anthropic Messages API (API_LLM_FALLBACK_PROVIDER=anthropic).

The base URL is the host root (default https://api.anthropic.com); requests
go to /v1/messages with `x-api-key` and `anthropic-version` headers. The
answer is the concatenated `text` blocks; `thinking` blocks are counted, not
kept. Anthropic's `input_tokens` excludes cache reads and writes, so the
prompt total adds them back and `cached` is `cache_read_input_tokens`.
https://docs.anthropic.com/en/api/messages
"""

from __future__ import annotations

from typing import Final

import httpx
import msgspec

from worker.config import LLMSettings, ModelEndpoint
from worker.llm.base import ChatRequest, ModelReply, TokenUsage
from worker.llm.classify import ProviderError
from worker.llm.errors import ServerFailed
from worker.llm.requests import anthropic_body, encode_body
from worker.llm.transport import answer_cap, auth_headers, post_json


class _Block(msgspec.Struct):
    type: str
    text: str | None = None
    thinking: str | None = None


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Message(msgspec.Struct):
    content: list[_Block]
    usage: _Usage | None = None
    model: str | None = None
    stop_reason: str | None = None


_decoder: Final = msgspec.json.Decoder(_Message)


def messages_url(base_url: str) -> str:
    """`https://api.anthropic.com` -> `.../v1/messages` (a base already ending in /v1 is kept)."""
    root = base_url.rstrip("/")
    return f"{root}/messages" if root.endswith("/v1") else f"{root}/v1/messages"


class AnthropicClient:
    """One Anthropic endpoint behind one key; shares the worker's httpx client."""

    def __init__(self, endpoint: ModelEndpoint, http: httpx.AsyncClient, llm: LLMSettings) -> None:
        self._endpoint = endpoint
        self._http = http
        self._llm = llm
        self._url = messages_url(endpoint.base_url)

    @property
    def endpoint(self) -> ModelEndpoint:
        return self._endpoint

    async def complete(self, request: ChatRequest) -> ModelReply:
        body = encode_body(anthropic_body(self._endpoint.model, request, self._llm))
        headers = auth_headers(self._endpoint)
        answer = await post_json(
            self._http,
            self._url,
            endpoint=self._endpoint,
            headers=headers,
            body=body,
            max_bytes=answer_cap(self._llm),
        )
        try:
            message = _decoder.decode(answer.body)
        except (msgspec.MsgspecError, RecursionError) as exc:
            # RecursionError: msgspec recurses even through fields it skips.
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            detail = ProviderError("server", answer.status, None, f"answer is not a message: {why}")
            raise ServerFailed(detail, self._endpoint) from exc
        usage = message.usage or _Usage()
        cached = usage.cache_read_input_tokens or 0
        prompt = usage.input_tokens + cached + (usage.cache_creation_input_tokens or 0)
        return ModelReply(
            text="".join(b.text or "" for b in message.content if b.type == "text"),
            usage=TokenUsage(prompt, usage.output_tokens, cached),
            model=message.model or self._endpoint.model,
            finish_reason=message.stop_reason,
            reasoning_chars=sum(len(b.thinking or "") for b in message.content),
        )
