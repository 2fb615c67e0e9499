"""The one step of a review that spends tokens: every chunk through the model.

A review has three steps: `worker.review.prepare` (pure: filter, parse, mask,
chunk), this one, and `worker.review.conclude` (pure: placement, dedupe,
ranking, the summary's inputs). Here every chunk goes to the model in
parallel (the concurrency gate inside the reviewer is the real cap) with the
repository context that explains it (`worker.review.repo_context`, counted in
its token estimate); each answer — every finder pass and the verifying pass
(worker.review.chunk_rounds) — is checkpointed in a `ChunkStore` as it
arrives so a resumed review never pays twice for a call, and a chunk the
provider finds too long is split and both halves reviewed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from worker.config import Thinking
from worker.diff.chunks import Chunk, ChunkNotSplittable, split_chunk
from worker.llm.base import TokenUsage
from worker.llm.errors import ContextTooLong
from worker.publish.messages import CEILING_REACHED
from worker.publish.summary import DroppedChunk
from worker.review.chunk_review import ChunkResult, ChunkReviewer
from worker.review.chunk_rounds import ChunkRounds
from worker.review.chunk_run import run_each
from worker.review.prepare import PreparedReview
from worker.review.prompt import render_messages
from worker.review.repo_context import ReviewContext

log = structlog.get_logger("kimi_review.pipeline")
Progress = Callable[[int, int, TokenUsage], Awaitable[None] | None]


class Ceiling(Protocol):
    """API_LLM_REVIEW_MAX_TOKENS (worker.quota.ReviewCeiling): what one review may spend."""

    async def reserve(self, review_key: str, estimate: int) -> bool: ...

    async def release(self, review_key: str, estimate: int) -> None: ...

    @property
    def limit(self) -> int | None:
        """The tokens one review may spend; None: no ceiling."""
        ...

    def lowered(self, limit: int | None) -> Ceiling:
        """This ceiling, or `limit` when that is stricter (a repository's own)."""
        ...


# What a chunk's answer is expected to cost on top of its prompt, reserved
# against the review's ceiling while the call runs (thinking answers run long).
ANSWER_RESERVE_TOKENS = 8192


class ChunkStore(Protocol):
    """Where each chunk's answer is kept as it arrives (Redis for the worker)."""

    async def get(self, chunk_id: str) -> ChunkResult | None: ...

    async def put(self, chunk_id: str, result: ChunkResult) -> None: ...


class MemoryChunkStore:
    """A ChunkStore for the one-shot CLI: nothing outlives the process."""

    def __init__(self) -> None:
        self.results: dict[str, ChunkResult] = {}

    async def get(self, chunk_id: str) -> ChunkResult | None:
        return self.results.get(chunk_id)

    async def put(self, chunk_id: str, result: ChunkResult) -> None:
        self.results[chunk_id] = result


@dataclass(slots=True)
class ChunkOutcomes:
    """Answers by chunk, plus chunks that could not be reviewed at all."""

    results: list[tuple[Chunk, ChunkResult]] = field(default_factory=list)
    unsplittable: list[DroppedChunk] = field(default_factory=list)

    @property
    def usage(self) -> TokenUsage:
        total = TokenUsage()
        for _, result in self.results:
            total += result.usage
        return total


async def review_chunks(
    prepared: PreparedReview,
    reviewer: ChunkReviewer,
    *,
    review_key: str,
    store: ChunkStore,
    progress: Progress | None = None,
    ceiling: Ceiling | None = None,
    thinking: Thinking | None = None,
    context: ReviewContext | None = None,
) -> ChunkOutcomes:
    """Review every chunk; raises ModelsUnavailable/QuotaPaused for the caller to defer.

    With a `ceiling`, a chunk whose reservation is refused is not sent and is
    named in the summary. `thinking` overrides API_LLM_THINKING (repo config).
    `context` gives each chunk the repository code that explains it.
    """
    outcomes = ChunkOutcomes()
    total = len(prepared.chunks)
    done = 0

    # Passes, verification and their checkpoints: worker.review.chunk_rounds.
    rounds = ChunkRounds(
        reviewer, store, review_key, ANSWER_RESERVE_TOKENS, ceiling=ceiling, thinking=thinking
    )

    async def top_level(chunk: Chunk) -> None:
        nonlocal done
        await _review_chunk(chunk, prepared, rounds, context, outcomes)
        done += 1
        if progress is not None:
            maybe = progress(done, total, outcomes.usage)
            if maybe is not None:
                await maybe

    # On a failure, calls already sent finish and are checkpointed before the
    # failure is raised; chunks not yet sent are stopped (worker.review.chunk_run).
    await run_each(prepared.chunks, top_level)
    return outcomes


async def _review_chunk(
    chunk: Chunk,
    prepared: PreparedReview,
    rounds: ChunkRounds,
    context: ReviewContext | None,
    outcomes: ChunkOutcomes,
) -> None:
    """One chunk's answer into `outcomes`; split in halves if too long for the model."""
    extra = await context.for_chunk(chunk) if context is not None else ""
    messages = [
        {"role": m["role"], "content": m["content"]}
        for m in render_messages(prepared.context, chunk, repo_context=extra)
    ]
    tokens = prepared.estimator.estimate(chunk.chars + len(extra))
    try:
        result = await rounds.run(chunk.id, messages, tokens)
    except ContextTooLong:
        try:
            halves = split_chunk(chunk)
        except ChunkNotSplittable:
            reason = "too long for the model's context even alone"
            outcomes.unsplittable.append(DroppedChunk(chunk.id, reason, list(chunk.paths)))
            return
        log.info("chunk_split", chunk=chunk.id, into=[h.id for h in halves])
        await asyncio.gather(
            *(_review_chunk(half, prepared, rounds, context, outcomes) for half in halves)
        )
        return
    if result is None:
        outcomes.unsplittable.append(DroppedChunk(chunk.id, CEILING_REACHED, list(chunk.paths)))
        return
    outcomes.results.append((chunk, result))
