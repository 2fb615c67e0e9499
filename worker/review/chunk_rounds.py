"""Every model call one chunk needs: its finder passes, then the verifying pass.

`ChunkRounds.run` is what `review_chunks` does for one chunk. Pass 1 is the
call a review has always made, checkpointed under the chunk's id; passes
2..N (API_LLM_REVIEW_PASSES) are checkpointed under `<chunk id>:pass<k>` and
the verifying call (API_LLM_VERIFY, only when the merged passes found
something) under `<chunk id>:verify`. A resumed review reads each back
instead of paying for it again. Each call reserves its estimate against the
review's token ceiling; when the ceiling refuses an extra pass or the
verification, the chunk keeps what it has and a note says so (only a refused
pass 1 leaves the chunk unreviewed).

Extra passes run concurrently (the gate is the cap); each is checkpointed
as it lands, and a failure is raised only once every started pass has
ended, so no paid answer is thrown away.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import structlog

from worker import metrics
from worker.config import Thinking
from worker.llm.errors import ContextTooLong
from worker.model_answer import ChunkAnswer
from worker.review.chunk_review import ChunkResult, ChunkReviewer
from worker.review.passes import merge_results, pass_messages
from worker.review.verify import verify_chunk

if TYPE_CHECKING:
    from worker.review.pipeline import Ceiling, ChunkStore

log = structlog.get_logger(__name__)

# Every note a round adds starts with one of these, so reports can list them.
ROUND_NOTE_PREFIXES: Final = ("extra pass skipped", "verification skipped")
SAMPLE_CEILING: Final = "extra pass skipped for some chunks: the review's token ceiling was reached"
VERIFY_CEILING: Final = (
    "verification skipped for some chunks: the review's token ceiling was reached; findings kept"
)
VERIFY_TOO_LONG: Final = "verification skipped for a chunk too long to verify; its findings kept"


@dataclass(frozen=True, slots=True)
class ChunkRounds:
    """The calls of one review's chunks; built once per `review_chunks`."""

    reviewer: ChunkReviewer
    store: ChunkStore
    review_key: str
    reserve_tokens: int  # what an answer is expected to cost on top of its prompt
    ceiling: Ceiling | None = None
    thinking: Thinking | None = None

    async def run(
        self, chunk_id: str, messages: Sequence[Mapping[str, str]], tokens: int
    ) -> ChunkResult | None:
        """The chunk's final result; None when the ceiling refused pass 1.

        Raises ContextTooLong from pass 1 (the caller splits the chunk),
        ModelsUnavailable or QuotaPaused (the review is deferred).
        """
        settings = self.reviewer.passes
        n = settings.passes
        first = await self._call(chunk_id, tokens, self._finder(messages, tokens, 1, n))
        if first is None:
            return None
        extra = await self._extra_passes(chunk_id, messages, tokens, n)
        merged = merge_results([first, *(r for r in extra if r is not None)])
        if None in extra:
            merged = _noted(merged, SAMPLE_CEILING)
        if not settings.verify or merged.answer is None or not merged.answer.findings:
            return merged
        return await self._verified(chunk_id, messages, tokens, merged)

    async def _extra_passes(
        self, chunk_id: str, messages: Sequence[Mapping[str, str]], tokens: int, n: int
    ) -> list[ChunkResult | None]:
        calls = [
            self._call(f"{chunk_id}:pass{k}", tokens, self._finder(messages, tokens, k, n))
            for k in range(2, n + 1)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        results: list[ChunkResult | None] = []
        for outcome in outcomes:
            if isinstance(outcome, ContextTooLong):
                results.append(None)  # pass 1 fit; a longer note should not lose the chunk
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results.append(outcome)
        return results

    async def _verified(
        self,
        chunk_id: str,
        messages: Sequence[Mapping[str, str]],
        tokens: int,
        merged: ChunkResult,
    ) -> ChunkResult:
        assert merged.answer is not None
        findings = merged.answer.findings

        def call() -> Awaitable[ChunkResult]:
            return verify_chunk(
                self.reviewer,
                messages,
                findings,
                chunk_tokens=tokens,
                review_key=self.review_key,
                thinking=self.thinking,
            )

        try:
            verified = await self._call(f"{chunk_id}:verify", tokens, call)
        except ContextTooLong:
            return _noted(merged, VERIFY_TOO_LONG)
        if verified is None or verified.answer is None:
            return _noted(merged, VERIFY_CEILING)
        return dataclasses.replace(
            merged,
            answer=ChunkAnswer(summary=merged.answer.summary, findings=verified.answer.findings),
            usage=merged.usage + verified.usage,
            notes=tuple(dict.fromkeys([*merged.notes, *verified.notes])),
            reasoning_chars=merged.reasoning_chars + verified.reasoning_chars,
            refuted=verified.refuted,
        )

    def _finder(
        self, messages: Sequence[Mapping[str, str]], tokens: int, k: int, n: int
    ) -> Callable[[], Awaitable[ChunkResult]]:
        def call() -> Awaitable[ChunkResult]:
            return self.reviewer.review_chunk(
                pass_messages(messages, k, n),
                chunk_tokens=tokens,
                review_key=self.review_key,
                thinking=self.thinking,
            )

        return call

    async def _call(
        self, key: str, tokens: int, call: Callable[[], Awaitable[ChunkResult]]
    ) -> ChunkResult | None:
        """The checkpointed answer under `key`, else one paid call; None: ceiling refused."""
        stored = await self.store.get(key)
        if stored is not None:
            metrics.observe_chunks("checkpoint")
            return stored
        estimate = tokens + self.reserve_tokens
        if self.ceiling is not None and not await self.ceiling.reserve(self.review_key, estimate):
            return None
        try:
            result = await call()
        finally:
            if self.ceiling is not None:
                await self.ceiling.release(self.review_key, estimate)
        metrics.observe_chunks("model")
        await self.store.put(key, result)
        return result


def _noted(result: ChunkResult, note: str) -> ChunkResult:
    if note in result.notes:
        return result
    log.info("chunk_round_skipped", note=note)
    return dataclasses.replace(result, notes=(*result.notes, note))
