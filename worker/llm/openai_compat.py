"""Client for OpenAI-compatible chat completions (Kimi developer API, Kimi Code, others).

POST {base_url}/chat/completions with the body from worker.llm.requests.
Reads `content` (the answer), the length of `reasoning_content` (never the
text: it is not posted anywhere), and `usage` including cached tokens: Kimi
reports them as top-level `usage.cached_tokens`; OpenAI-style servers as
`usage.prompt_tokens_details.cached_tokens`. https://platform.moonshot.ai/docs/api/chat
"""

from __future__ import annotations

from typing import Final

import httpx
import msgspec

from worker.config import LLMSettings, ModelEndpoint
from worker.llm.base import ChatRequest, ModelReply, TokenUsage
from worker.llm.classify import ProviderError
from worker.llm.errors import ServerFailed
from worker.llm.requests import encode_body, openai_body
from worker.llm.transport import answer_cap, auth_headers, post_json


class _Message(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None

    def cached(self) -> int:
        if self.cached_tokens is not None:
            return self.cached_tokens
        details = self.prompt_tokens_details
        return details.cached_tokens or 0 if details is not None else 0


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None
    model: str | None = None


_decoder: Final = msgspec.json.Decoder(_Completion)


class OpenAICompatClient:
    """One OpenAI-compatible endpoint behind one key; shares the worker's httpx client."""

    def __init__(self, endpoint: ModelEndpoint, http: httpx.AsyncClient, llm: LLMSettings) -> None:
        self._endpoint = endpoint
        self._http = http
        self._llm = llm
        self._url = f"{endpoint.base_url.rstrip('/')}/chat/completions"

    @property
    def endpoint(self) -> ModelEndpoint:
        return self._endpoint

    async def complete(self, request: ChatRequest) -> ModelReply:
        body = encode_body(openai_body(self._endpoint.model, request, self._llm))
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
            completion = _decoder.decode(answer.body)
        except msgspec.MsgspecError as exc:
            raise self._malformed(answer.status, f"answer is not a chat completion: {exc}") from exc
        except RecursionError as exc:  # msgspec recurses even through fields it skips
            raise self._malformed(answer.status, "answer's JSON is nested too deeply") from exc
        if not completion.choices:
            raise self._malformed(answer.status, "answer has no choices")
        choice = completion.choices[0]
        usage = completion.usage or _Usage()
        return ModelReply(
            text=choice.message.content or "",
            usage=TokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.cached()),
            model=completion.model or self._endpoint.model,
            finish_reason=choice.finish_reason,
            reasoning_chars=len(choice.message.reasoning_content or ""),
        )

    def _malformed(self, status: int, why: str) -> ServerFailed:
        return ServerFailed(ProviderError("server", status, None, why[:300]), self._endpoint)
