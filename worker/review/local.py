"""One review of a local diff, in-process without Redis: the path `review --diff` and `eval` share.

`open_local_models` builds the model-call machinery once per process (one
HTTP client, an in-process breaker, in-process gates holding the configured
caps, the chunk reviewer with its failover). `review_local` runs one review
through it: the worker's own `prepare_review` → `review_chunks` →
`conclude_review`, so a local review and an evaluated one are exactly what
the App would have produced for the same diff, title and description. Many
reviews may run at once on one `LocalModels` (`kimi-review eval --jobs`):
they share its gates, so the cap holds across all of them.

A `UsageTally` is the quota guard of both routes: it never refuses, it
counts tokens and answered calls per review key, which is how `eval`
reports each case's cost and keeps the judge's calls apart from the review's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from worker.call_guards import ConcurrencyGate
from worker.config import DEFAULT_MIN_SEVERITY, LLMSettings
from worker.context import DirectorySource, RepoSource
from worker.diff.model import ChangedFile
from worker.llm.breaker import Breaker
from worker.llm.transport import open_http_client
from worker.model_answer import Severity
from worker.review.chunk_review import ChunkReviewer
from worker.review.conclude import ReviewResult, conclude_review
from worker.review.instructions import (
    collect_instructions,
    directory_reader,
    git_head_reader,
    instructions_line,
)
from worker.review.machinery import build_model_path
from worker.review.pipeline import MemoryChunkStore, Progress, review_chunks
from worker.review.prepare import PreparedReview, ReviewOptions, prepare_review
from worker.review.prompt import InstructionFile
from worker.review.repo_context import ReviewContext, SourceFactory

UNCAPPED = 1_000_000  # a local review reports every finding


@dataclass(slots=True)
class CallTally:
    """Tokens and answered calls of one review key."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    calls: int = 0


@dataclass(slots=True)
class UsageTally:
    """A `QuotaGuard` that never refuses and counts every answered call by review key."""

    by_key: dict[str, CallTally] = field(default_factory=dict)

    async def allows_new_work(self) -> bool:
        return True

    async def record(
        self, review_key: str, *, prompt: int, completion: int, cached: int, model: str
    ) -> None:
        tally = self.by_key.setdefault(review_key, CallTally())
        tally.prompt += prompt
        tally.completion += completion
        tally.cached += cached
        tally.calls += 1

    def of(self, review_key: str) -> CallTally:
        return self.by_key.get(review_key, CallTally())


@dataclass(frozen=True, slots=True)
class LocalChange:
    """A change to review, as a pull request would present it.

    `repo_dir` is the repository at the change's head (`review --diff --repo`,
    an eval case's snapshot): where context beyond the diff is read from.
    Instruction files come from its HEAD commit (`git show`, not the working
    tree), or, for a `snapshot` (an eval case: the head, not a repository),
    from the directory minus the files the diff changes.
    """

    files: list[ChangedFile]
    title: str
    description: str
    repository: str
    repo_dir: Path | None = None
    snapshot: bool = False


@dataclass(frozen=True, slots=True)
class LocalModels:
    """The model-call machinery shared by every review of one process."""

    llm: LLMSettings
    reviewer: ChunkReviewer
    breaker: Breaker
    main_gate: ConcurrencyGate
    fallback_gate: ConcurrencyGate | None
    tally: UsageTally
    http: httpx.AsyncClient  # shared: the judge's calls reuse it


@asynccontextmanager
async def open_local_models(llm: LLMSettings) -> AsyncIterator[LocalModels]:
    """Open the HTTP client, gates, breaker and reviewer; close the client on exit."""
    tally = UsageTally()
    if llm.main is None:
        raise ValueError("API_OPEN_AI_API_KEY: required: the key for the main model")
    async with open_http_client(llm) as http:
        path = build_model_path(llm, http, redis=None, main_quota=tally, fallback_quota=tally)
        yield LocalModels(
            llm, path.reviewer, path.breaker, path.main_gate, path.fallback_gate, tally, http
        )


@dataclass(frozen=True, slots=True)
class LocalReview:
    prepared: PreparedReview
    result: ReviewResult


async def review_local(
    models: LocalModels,
    change: LocalChange,
    *,
    review_key: str = "local",
    progress: Progress | None = None,
    min_severity: Severity = DEFAULT_MIN_SEVERITY,
) -> LocalReview:
    """Review one change; raises ModelsUnavailable when no model can answer.

    With `change.repo_dir`, the model also sees the repository's instruction
    files and (API_LLM_CONTEXT=targeted) the code that explains each chunk.
    """
    paths = [f.path for f in change.files]
    instructions = await _instructions(change, paths)
    options = ReviewOptions(budget_tokens=models.llm.chunk_tokens, instruction_files=instructions)
    prepared = await asyncio.to_thread(
        prepare_review,
        change.files,
        title=change.title,
        description=change.description,
        repository=change.repository,
        options=options,
    )
    context = await ReviewContext.open(
        _source(change.repo_dir) if models.llm.context == "targeted" and prepared.chunks else None,
        focus=paths,
        chunk_chars=prepared.estimator.chars_for(models.llm.chunk_tokens),
        where="the working tree" if not change.snapshot else "the snapshot",
    )
    outcomes = await review_chunks(
        prepared,
        models.reviewer,
        review_key=review_key,
        store=MemoryChunkStore(),
        progress=progress,
        context=context,
    )
    origin = "the snapshot" if change.snapshot else "the HEAD commit"
    notes = [n for n in (context.note, instructions_line(instructions, where=origin)) if n]
    result = conclude_review(
        prepared, outcomes, cap=UNCAPPED, run_notes=notes, min_severity=min_severity
    )
    return LocalReview(prepared, result)


async def _instructions(change: LocalChange, paths: list[str]) -> tuple[InstructionFile, ...]:
    if change.repo_dir is None:
        return ()
    if change.snapshot:  # the head: a file the diff changes is not the base's
        changed = frozenset(p for f in change.files for p in (f.path, f.previous_path) if p)
        reader = directory_reader(change.repo_dir)
        return await collect_instructions(reader, paths, skip=changed)
    return await collect_instructions(git_head_reader(change.repo_dir), paths)


def _source(repo_dir: Path | None) -> SourceFactory | None:
    if repo_dir is None:
        return None

    async def directory() -> RepoSource:
        return DirectorySource(repo_dir)

    return directory
