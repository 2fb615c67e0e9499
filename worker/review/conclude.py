"""The pure last step of a review: the model's answers to placed findings.

Placement on diff lines (against the bot's earlier comments), dedupe,
ranking, the severity threshold and the cap; and everything the summary
reports about how the findings were made (models, fallback, dropped chunks,
tokens, notes). No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from worker.diff.chunks import Chunk
from worker.model_answer import SEVERITY_RANK, Finding, RefutedFinding
from worker.publish.findings import Placement, place_findings
from worker.publish.fingerprint import line_texts
from worker.publish.summary import DroppedChunk, TokenUse
from worker.review.chunk_review import ChunkResult
from worker.review.chunk_rounds import ROUND_NOTE_PREFIXES
from worker.review.pipeline import ChunkOutcomes
from worker.review.prepare import PreparedReview


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
    tally = _Tally(dropped=list(outcomes.unsplittable))
    for chunk, result in sorted(outcomes.results, key=lambda pair: order(pair[0])):
        tally.add(chunk, result, min_severity)
    placement = place_findings(
        tally.findings,
        prepared.anchors,
        cap=cap,
        earlier=earlier,
        line_text=line_texts(prepared.anchor_parsed),
    )
    usage = outcomes.usage
    thinking = {result.thinking for _, result in outcomes.results}
    below = tally.below
    return ReviewResult(
        placement=placement,
        chunk_summaries=tally.summaries,
        dropped=tally.dropped,
        tokens=TokenUse(prompt=usage.prompt, completion=usage.completion, cached=usage.cached),
        models=tally.models,
        fallback_model=tally.fallback_model,
        fallback_reason=tally.fallback_reason,
        thinking=thinking.pop() if len(thinking) == 1 else None,
        notes=tally.notes,
        run_notes=[*run_notes, *([below_note(below, min_severity)] if below else [])],
        refuted=tally.refuted,
    )


@dataclass(slots=True)
class _Tally:
    """The chunks' answers gathered in diff order, before placement."""

    findings: list[Finding] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    dropped: list[DroppedChunk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refuted: list[RefutedFinding] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    fallback_model: str | None = None
    fallback_reason: str | None = None
    below: int = 0  # findings left out by the severity threshold

    def add(self, chunk: Chunk, result: ChunkResult, min_severity: str) -> None:
        """One chunk's answer; the last fallback seen is the one the summary names."""
        self.notes.extend(n for n in result.notes if n not in self.notes)
        self.refuted.extend(result.refuted)
        if result.model not in self.models:
            self.models.append(result.model)
        if result.role == "fallback":
            self.fallback_model = result.model
            self.fallback_reason = result.fallback_note
        if result.answer is None:
            reason = result.drop_note or "unusable answer"
            self.dropped.append(DroppedChunk(chunk.id, reason, list(chunk.paths)))
            return
        kept = [
            f
            for f in result.answer.findings
            if SEVERITY_RANK[f.severity] <= SEVERITY_RANK[min_severity]
        ]
        self.below += len(result.answer.findings) - len(kept)
        self.findings.extend(kept)
        if result.answer.summary.strip():
            self.summaries.append(result.answer.summary)


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
