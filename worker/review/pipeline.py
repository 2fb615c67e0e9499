"""One review, from changed files to placed findings; shared by the job and the CLI.

Three steps. `prepare_review` is pure: filter, parse, mask, chunk and build
the anchor map and the prompt context. `review_chunks` is the only step that
spends tokens: every chunk goes to the model in parallel (the concurrency
gate inside the reviewer is the real cap) with the repository context that
explains it (`worker.review.repo_context`, counted in its token estimate);
each answer — every finder pass and the verifying pass
(worker.review.chunk_rounds) — is checkpointed in a `ChunkStore` as it
arrives so a resumed review never pays twice for a call, and a chunk the
provider finds too long is split and both halves reviewed.
`conclude_review` is pure again: placement, dedupe, ranking and the summary's
inputs. Every changed line that passes the filters is in exactly one chunk;
whatever is skipped, masked or dropped is carried to the summary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from worker.config import Thinking
from worker.diff.anchors import AnchorMap
from worker.diff.chunks import Chunk, ChunkNotSplittable, chunk_files, split_chunk
from worker.diff.filters import select_files
from worker.diff.long_lines import LongLine, cut_long_lines, cut_text
from worker.diff.masking import Masking, mask_secrets, mask_text
from worker.diff.model import ChangedFile, SkippedFile
from worker.diff.parse import ParsedFile, parse_changed_files
from worker.diff.tokens import TokenEstimator
from worker.llm.base import TokenUsage
from worker.llm.errors import ContextTooLong
from worker.model_answer import SEVERITY_RANK, Finding, RefutedFinding
from worker.publish.findings import Placement, place_findings
from worker.publish.fingerprint import line_texts
from worker.publish.messages import CEILING_REACHED
from worker.publish.summary import DroppedChunk, MaskedSecret, TokenUse
from worker.review.chunk_review import ChunkResult, ChunkReviewer
from worker.review.chunk_rounds import ROUND_NOTE_PREFIXES, ChunkRounds
from worker.review.chunk_run import run_each
from worker.review.prompt import (
    InstructionFile,
    PullRequestContext,
    render_messages,
    summarize_files,
)
from worker.review.repo_context import ReviewContext

log = structlog.get_logger("kimi_review.pipeline")
Progress = Callable[[int, int, TokenUsage], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class ReviewOptions:
    """What a review may vary: repo config and settings, resolved by the caller."""

    budget_tokens: int = 24000
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extra_instructions: str = ""
    language: str = "English"
    instruction_files: tuple[InstructionFile, ...] = ()  # AGENTS.md & kin, base commit


@dataclass(frozen=True, slots=True)
class PreparedReview:
    """Everything needed to call the model and place its findings."""

    context: PullRequestContext
    parsed: list[ParsedFile]
    chunks: list[Chunk]
    anchors: AnchorMap
    anchor_parsed: list[ParsedFile]  # the files comments anchor on: the whole PR's diff
    skipped: list[SkippedFile]
    masked: list[MaskedSecret]
    estimator: TokenEstimator
    long_lines: list[LongLine] = field(default_factory=list)  # not sent: too long


def prepare_review(
    files: Sequence[ChangedFile],
    *,
    title: str,
    description: str,
    repository: str,
    options: ReviewOptions,
    estimator: TokenEstimator | None = None,
    anchor_files: Sequence[ChangedFile] | None = None,
) -> PreparedReview:
    """Filter, parse, cut over-long lines, mask and chunk; pure and deterministic.

    The title and description are cut and masked like the diff: the PR's
    author writes them too.

    `anchor_files` is the whole PR's diff when `files` is only an increment
    (the commits since the last review): comments must land on lines of the
    PR's own diff, and the model is told about every file the PR changes.
    """
    estimator = estimator or TokenEstimator()
    selection = select_files(files, include=options.include, exclude=options.exclude)
    parsed, unreadable = parse_changed_files(selection.kept)
    skipped = [*selection.skipped, *unreadable]
    cut = cut_long_lines(parsed)
    masked = mask_secrets(cut.files)
    chunks = chunk_files(masked.files, budget_tokens=options.budget_tokens, estimator=estimator)
    title, title_long, title_masked = _cut_and_mask(title, where="PR title")
    description, text_long, text_masked = _cut_and_mask(description, where="PR description")
    anchor_parsed = parsed
    if anchor_files is not None:
        anchor_parsed, _ = parse_changed_files(anchor_files)
    context = PullRequestContext(
        title=title,
        description=description,
        files=summarize_files(anchor_files if anchor_files is not None else files, skipped),
        repository=repository,
        extra_instructions=options.extra_instructions,
        language=options.language,
        instruction_files=options.instruction_files,
    )
    return PreparedReview(
        context=context,
        parsed=parsed,
        chunks=chunks,
        anchors=AnchorMap(anchor_parsed),
        anchor_parsed=anchor_parsed,
        skipped=skipped,
        masked=[
            MaskedSecret(m.path, m.line) for m in [*title_masked, *text_masked, *masked.maskings]
        ],
        estimator=estimator,
        long_lines=[*title_long, *text_long, *cut.long_lines],
    )


def _cut_and_mask(text: str, *, where: str) -> tuple[str, list[LongLine], list[Masking]]:
    cut, long_lines = cut_text(text, where=where)
    masked, maskings = mask_text(cut, where=where)
    return masked, long_lines, maskings


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

    async def review(chunk: Chunk) -> None:
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
            await asyncio.gather(*(review(half) for half in halves))
            return
        if result is None:
            outcomes.unsplittable.append(DroppedChunk(chunk.id, CEILING_REACHED, list(chunk.paths)))
            return
        outcomes.results.append((chunk, result))

    async def top_level(chunk: Chunk) -> None:
        nonlocal done
        await review(chunk)
        done += 1
        if progress is not None:
            maybe = progress(done, total, outcomes.usage)
            if maybe is not None:
                await maybe

    # On a failure, calls already sent finish and are checkpointed before the
    # failure is raised; chunks not yet sent are stopped (worker.review.chunk_run).
    await run_each(prepared.chunks, top_level)
    return outcomes


@dataclass(frozen=True, slots=True)
class ReviewResult:
    """Placed findings and what the summary reports about how they were made."""

    placement: Placement
    chunk_summaries: list[str]
    dropped: list[DroppedChunk]
    tokens: TokenUse
    models: list[str]
    fallback_model: str | None
    fallback_reason: str | None
    thinking: bool | None
    notes: list[str]
    run_notes: list[str] = field(default_factory=list)  # what the model saw besides the diff
    # Dropped by the verifying pass: never inline, listed by the check run and reports.
    refuted: list[RefutedFinding] = field(default_factory=list)

    @property
    def round_notes(self) -> list[str]:
        """What an extra pass or the verification skipped (worker.review.chunk_rounds)."""
        return [n for n in self.notes if n.startswith(ROUND_NOTE_PREFIXES)]


def conclude_review(
    prepared: PreparedReview,
    outcomes: ChunkOutcomes,
    *,
    cap: int,
    earlier: frozenset[str] = frozenset(),
    min_severity: str = "low",
    run_notes: Sequence[str] = (),
) -> ReviewResult:
    """Place, deduplicate, rank and cap the findings of every answered chunk.

    Findings below `min_severity` (REVIEW_MIN_SEVERITY or the repository's
    `min_severity`) are not posted; how many is a run note, so a quiet review
    never looks like a clean one. `run_notes` (context, instruction files)
    are carried to the summary.
    """
    order = _chunk_order(prepared)
    ordered = sorted(outcomes.results, key=lambda pair: order(pair[0]))
    findings: list[Finding] = []
    summaries: list[str] = []
    dropped = list(outcomes.unsplittable)
    notes: list[str] = []
    refuted: list[RefutedFinding] = []
    models: list[str] = []
    fallback_model = fallback_reason = None
    below = 0
    for chunk, result in ordered:
        notes.extend(n for n in result.notes if n not in notes)
        refuted.extend(result.refuted)
        if result.model not in models:
            models.append(result.model)
        if result.role == "fallback":
            fallback_model = result.model
            fallback_reason = result.fallback_note
        if result.answer is None:
            reason = result.drop_note or "unusable answer"
            dropped.append(DroppedChunk(chunk.id, reason, list(chunk.paths)))
            continue
        kept = [
            f
            for f in result.answer.findings
            if SEVERITY_RANK[f.severity] <= SEVERITY_RANK[min_severity]
        ]
        below += len(result.answer.findings) - len(kept)
        findings.extend(kept)
        if result.answer.summary.strip():
            summaries.append(result.answer.summary)
    placement = place_findings(
        findings,
        prepared.anchors,
        cap=cap,
        earlier=earlier,
        line_text=line_texts(prepared.anchor_parsed),
    )
    usage = outcomes.usage
    thinking = {result.thinking for _, result in outcomes.results}
    return ReviewResult(
        placement=placement,
        chunk_summaries=summaries,
        dropped=dropped,
        tokens=TokenUse(prompt=usage.prompt, completion=usage.completion, cached=usage.cached),
        models=models,
        fallback_model=fallback_model,
        fallback_reason=fallback_reason,
        thinking=thinking.pop() if len(thinking) == 1 else None,
        notes=notes,
        run_notes=[*run_notes, *([below_note(below, min_severity)] if below else [])],
        refuted=refuted,
    )


def below_note(count: int, min_severity: str) -> str:
    """The summary's line for findings left out by the severity threshold."""
    plural = "finding" if count == 1 else "findings"
    return (
        f"Severity: {count} {plural} below `{min_severity}` not posted "
        "(`REVIEW_MIN_SEVERITY`, or the repository's `min_severity`)"
    )


def _chunk_order(prepared: PreparedReview) -> Callable[[Chunk], tuple[int, str]]:
    """Sort key: chunks in diff order, split halves at their parent's position."""
    positions = {c.id: i for i, c in enumerate(prepared.chunks)}
    by_path: dict[str, int] = {}
    for i, c in enumerate(prepared.chunks):
        for path in c.paths:
            by_path.setdefault(path, i)

    def key(chunk: Chunk) -> tuple[int, str]:
        if chunk.id in positions:
            return positions[chunk.id], chunk.id
        first_path = chunk.paths[0] if chunk.paths else ""
        return by_path.get(first_path, 0), chunk.id

    return key
