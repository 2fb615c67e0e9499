"""The pure first step of a review: changed files to chunks and the prompt's context.

Filter, parse, cut over-long lines, mask secrets, chunk, and build the anchor
map (where comments may land) and the prompt's context; no I/O, no tokens.
Every changed line that passes the filters is in exactly one chunk; whatever
is skipped, masked or cut is carried to the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from worker.diff.anchors import AnchorMap
from worker.diff.chunks import Chunk, chunk_files
from worker.diff.filters import select_files
from worker.diff.long_lines import LongLine, cut_long_lines, cut_text
from worker.diff.masking import Masking, mask_secrets, mask_text
from worker.diff.model import ChangedFile, SkippedFile
from worker.diff.parse import ParsedFile, parse_changed_files
from worker.diff.tokens import TokenEstimator
from worker.publish.summary import MaskedSecret
from worker.review.prompt import InstructionFile, PullRequestContext, summarize_files


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
