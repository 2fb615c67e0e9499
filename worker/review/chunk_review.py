"""One chunk's prompt in, one decoded `ChunkAnswer` out: the entry point of the review job.

Decides thinking for the chunk (API_LLM_THINKING, `auto` by chunk size),
calls through the failover, decodes the answer with msgspec into
worker.model_answer's types, and on a parse error asks once more, quoting
the error. A second unusable answer drops the chunk and says so in the notes for the summary.
Findings are not filtered here: one citing a line outside the chunk is kept
for the placement step (worker.publish.findings), which snaps it to its hunk
or moves it to the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import msgspec
import structlog

from worker.config import LLMSettings, PassSettings, Thinking
from worker.llm.base import ChatMessage, ChatRequest, ModelReply, Role, TokenUsage
from worker.llm.failover import Failover, Served
from worker.llm.requests import wants_thinking
from worker.model_answer import ChunkAnswer, RefutedFinding, decode_answer

log = structlog.get_logger(__name__)
T = TypeVar("T")

REPAIR_PROMPT: Final = (
    "Your previous answer could not be used: {error}. Answer again with only the JSON object "
    'described above ("summary" and "findings"), with no text before or after it.'
)
EMPTY_ANSWER: Final = "it was empty"
TOO_DEEP: Final = "its JSON is nested too deeply"


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What the review job keeps for one chunk.

    `answer` is None when the chunk was dropped (unparsable twice); `notes`
    then say so and `drop_note` is that note. `fallback_note` is the note
    saying why the fallback served, if it did. `usage` sums every call made
    for the chunk. The model's reasoning text is never here, only its length.
    New fields have defaults: a checkpoint written before them still decodes.
    """

    answer: ChunkAnswer | None
    usage: TokenUsage
    role: Role
    model: str
    notes: tuple[str, ...]
    thinking: bool
    reasoning_chars: int = 0
    repaired: bool = False
    fallback_note: str | None = None
    drop_note: str | None = None
    # Dropped by the verifying pass (worker.review.verify); default: old checkpoints decode.
    refuted: tuple[RefutedFinding, ...] = ()


def strip_code_fence(text: str) -> str:
    """Remove one Markdown code fence around the whole answer, which some models add."""
    stripped = text.strip()
    if not stripped.startswith("```"):
        return stripped
    body = stripped.split("\n", 1)[1] if "\n" in stripped else ""
    return body.rsplit("```", 1)[0].strip() if body.rstrip().endswith("```") else body.strip()


def parse_reply(reply: ModelReply) -> tuple[ChunkAnswer | None, str]:
    """(answer, "") or (None, why it could not be used)."""
    text = strip_code_fence(reply.text)
    if not text:
        return None, EMPTY_ANSWER
    try:
        return decode_answer(text), ""
    except RecursionError:  # msgspec recurses even through fields it skips
        return None, TOO_DEEP
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        why = str(exc)
        if reply.finish_reason == "length":
            why += " (the answer was cut off at max_completion_tokens)"
        return None, why


def _unique(notes: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(notes))


@dataclass(frozen=True, slots=True)
class Asked(Generic[T]):
    """One question's outcome: the parsed answer (None: unusable twice) and every call made."""

    value: T | None
    calls: list[Served]
    thinking: bool
    error: str = ""


class ChunkReviewer:
    """Reviews chunks through a `Failover`; one per worker, shared by all jobs."""

    def __init__(self, failover: Failover, llm: LLMSettings) -> None:
        self._failover = failover
        self._llm = llm

    @property
    def passes(self) -> PassSettings:
        """API_LLM_REVIEW_PASSES and API_LLM_VERIFY: how each chunk is reviewed."""
        return self._llm.passes

    async def review_chunk(
        self,
        messages: Iterable[Mapping[str, str]],
        *,
        chunk_tokens: int,
        review_key: str,
        thinking: Thinking | None = None,
    ) -> ChunkResult:
        """Raises ContextTooLong (split and retry), ModelsUnavailable or QuotaPaused (defer).

        `thinking` is the repository's choice (`.kimi-review.toml`), replacing
        API_LLM_THINKING for this call; API_LLM_REASONING_OVERRIDE still wins.
        """
        asked = await self.ask(
            messages,
            parse=parse_reply,
            repair=REPAIR_PROMPT,
            chunk_tokens=chunk_tokens,
            review_key=review_key,
            thinking=thinking,
        )
        if asked.value is None:
            log.warning("chunk_dropped_unparsable", error=asked.error, model=asked.calls[-1].model)
            note = f"chunk dropped: unparsable answer twice ({asked.error})"
            return self.result(None, asked.calls, asked.thinking, note)
        return self.result(asked.value, asked.calls, asked.thinking)

    async def ask(
        self,
        messages: Iterable[Mapping[str, str]],
        *,
        parse: Callable[[ModelReply], tuple[T | None, str]],
        repair: str,
        chunk_tokens: int,
        review_key: str,
        thinking: Thinking | None = None,
    ) -> Asked[T]:
        """One call through the failover; an unusable answer is asked again once, quoting why.

        `repair` is the follow-up's text, with `{error}` for the parse error.
        Every model call of a review (finder passes, verification, repairs)
        comes through here, hence through the gate, the failover and the quota.
        """
        mode = self._llm.thinking if thinking is None else thinking
        thinking_on = wants_thinking(mode, chunk_tokens, self._llm.reasoning_override)
        request = ChatRequest.build(messages, thinking=thinking_on)
        first = await self._failover.call(request, review_key)
        value, error = parse(first.reply)
        if value is not None:
            return Asked(value, [first], thinking_on)
        log.info("model_answer_unparsable", error=error, model=first.model, review=review_key)
        turns = [ChatMessage("user", repair.format(error=error))]
        if first.reply.text.strip():
            turns.insert(0, ChatMessage("assistant", first.reply.text))
        second = await self._failover.call(request.followed_by(*turns), review_key)
        value, error = parse(second.reply)
        return Asked(value, [first, second], thinking_on, error)

    def result(
        self, answer: ChunkAnswer | None, calls: list[Served], thinking: bool, *extra: str
    ) -> ChunkResult:
        """What a chunk keeps of its calls: the answer, summed usage, the notes."""
        last = calls[-1]
        usage = TokenUsage()
        for served in calls:
            usage += served.reply.usage
        return ChunkResult(
            answer=answer,
            usage=usage,
            role=last.role,
            model=last.model,
            notes=_unique([*(n for s in calls for n in s.notes), *extra]),
            thinking=thinking,
            reasoning_chars=sum(s.reply.reasoning_chars for s in calls),
            repaired=answer is not None and len(calls) > 1,
            fallback_note=next((s.fallback_note for s in calls if s.fallback_note), None),
            drop_note=extra[0] if answer is None and extra else None,
        )
