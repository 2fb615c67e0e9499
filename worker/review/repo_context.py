"""The repository context of one review: an index of the head revision, a block per chunk.

`ReviewContext.open` gets the head revision's files (a directory, an archive
from GitHub: whatever the caller's `SourceFactory` gives) and builds the
symbol index once per review, off the event loop. `for_chunk` then selects
and renders the code that explains one chunk (worker.context), also off the
loop. Context is an aid: when the source cannot be had or the index cannot be
built, the review goes on without it and `note` says so in one line for the
summary; it never fails a review.

The context's budget follows the chunk's: diff plus context stay within
`API_LLM_CHUNK_TOKENS` (a small change still gets its enclosing function, the
`ContextBudget.min_chars` floor). Chunk ids and checkpoints stay keyed on the
diff alone: the context is a deterministic function of the head and the chunk.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from worker.context import (
    ArchiveSource,
    ContextBudget,
    RepoIndex,
    RepoSource,
    context_for_chunk,
    render_context,
)
from worker.diff.chunks import Chunk

log = structlog.get_logger("kimi_review.repo_context")
DEFAULT_BUDGET = ContextBudget()
SourceFactory = Callable[[], Awaitable[RepoSource]]


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """One review's index (None: no context) and what the summary says about it."""

    index: RepoIndex | None
    note: str | None  # one summary line: what context the model saw, or why none
    chunk_chars: int = 72_000  # a chunk's whole budget (diff + context), in characters
    budget: ContextBudget = DEFAULT_BUDGET

    @classmethod
    async def open(
        cls,
        source: SourceFactory | None,
        *,
        focus: Iterable[str],
        chunk_chars: int,
        where: str,
    ) -> ReviewContext:
        """Fetch the source and build the index; never raises (see the module docstring).

        `source` None means context is off (API_LLM_CONTEXT=off, or no repository).
        `where` names the revision for the summary ("head abc1234").
        """
        if source is None:
            return cls(None, None, chunk_chars)
        try:
            index = RepoIndex(await source(), focus=tuple(focus))
            stats = await asyncio.to_thread(index.build)
        except Exception as exc:  # noqa: BLE001 - any failure here only costs the context
            log.warning("context_unavailable", error_type=type(exc).__name__, error=str(exc)[:300])
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            note = f"Context: reviewed without repository context ({reason})"
            return cls(None, note, chunk_chars)
        note = f"Context: code from {where} ({stats.files_indexed:,} files indexed)"
        if stats.files_skipped:
            note += f", {stats.files_skipped:,} left out by the index's limits"
        return cls(index, note, chunk_chars)

    async def for_chunk(self, chunk: Chunk) -> str:
        """The chunk's rendered context block, "" when there is none."""
        if self.index is None:
            return ""
        room = max(self.budget.min_chars, self.chunk_chars - chunk.chars)
        allowed = min(self.budget.chars_for(chunk.chars), room)
        try:
            block = await asyncio.to_thread(
                context_for_chunk, chunk.files, self.index, budget=self.budget, budget_chars=allowed
            )
        except Exception as exc:  # noqa: BLE001 - a parser failure costs this chunk's context only
            log.warning("context_failed", chunk=chunk.id, error_type=type(exc).__name__)
            return ""
        return render_context(block)


class ArchiveReader(Protocol):
    """The one read `github_head_source` needs; `GitHubReader.tarball` fits it."""

    async def tarball(self, sha: str) -> bytes: ...


def github_head_source(reader: ArchiveReader, head_sha: str) -> SourceFactory:
    """The PR's head revision, downloaded as GitHub's tarball and unpacked in memory."""

    async def source() -> RepoSource:
        data = await reader.tarball(head_sha)
        return await asyncio.to_thread(ArchiveSource.from_tar, io.BytesIO(data))

    return source
