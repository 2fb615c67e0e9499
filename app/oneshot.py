"""`kimi-review review --diff`: the review pipeline in-process, without Redis.

The same prepare → review chunks → conclude steps as the worker, with an
in-process gate (the same cap) and breaker, and answers kept in memory. A
progress line goes to stderr when it is a terminal; the report goes to
stdout (text, or JSON with --json), so `... | kimi-review review --diff - >
review.txt` stays clean.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import structlog

from app.report import render_json, render_text
from worker.config import Settings
from worker.diff.local import LocalDiffError, changed_files_from_diff
from worker.gate import open_gate
from worker.llm.base import TokenUsage
from worker.llm.breaker import LocalBreaker
from worker.llm.build import build_chunk_reviewer
from worker.llm.errors import ModelsUnavailable
from worker.llm.transport import open_http_client
from worker.review.pipeline import (
    MemoryChunkStore,
    ReviewOptions,
    conclude_review,
    prepare_review,
    review_chunks,
)

log = structlog.get_logger("kimi_review.oneshot")
EXIT_BAD_INPUT = 2
EXIT_MODELS_UNAVAILABLE = 4
UNCAPPED = 1_000_000  # a local review prints every finding


class ProgressLine:
    """`reviewing: 3/10 chunks · 12,345 tokens` rewritten in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, done: int, total: int, usage: TokenUsage) -> None:
        if self.active:
            tokens = usage.prompt + usage.completion
            self.stream.write(f"\rreviewing: {done}/{total} chunks · {tokens:,} tokens ")
            self.stream.flush()

    def finish(self) -> None:
        if self.active:
            self.stream.write("\r\033[K")
            self.stream.flush()


def read_diff(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    return Path(source).read_text(encoding="utf-8", errors="replace")


async def review_diff(
    settings: Settings, text: str, *, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """Review a unified diff and print the findings; returns the exit code."""
    try:
        files = changed_files_from_diff(text)
    except LocalDiffError as exc:
        err.write(f"kimi-review review --diff: {exc}\n")
        return EXIT_BAD_INPUT
    llm = settings.llm
    if llm.main is None:  # Settings.require("review_diff") guarantees it; kept for mypy
        err.write("kimi-review review --diff: API_OPEN_AI_API_KEY is required\n")
        return EXIT_BAD_INPUT
    prepared = prepare_review(
        files,
        title="Local changes",
        description="A local diff reviewed from the command line.",
        repository=Path.cwd().name,
        options=ReviewOptions(budget_tokens=llm.chunk_tokens),
    )
    progress = ProgressLine(err)
    async with open_http_client(llm) as http:
        reviewer = build_chunk_reviewer(
            llm,
            http=http,
            breaker=LocalBreaker(),
            main_gate=open_gate(llm.main, None),
            fallback_gate=open_gate(llm.fallback, None) if llm.fallback else None,
        )
        try:
            outcomes = await review_chunks(
                prepared, reviewer, review_key="local", store=MemoryChunkStore(), progress=progress
            )
        except ModelsUnavailable as exc:
            progress.finish()
            err.write(f"kimi-review review --diff: {exc}\n")
            return EXIT_MODELS_UNAVAILABLE
    progress.finish()
    result = conclude_review(prepared, outcomes, cap=UNCAPPED)
    if as_json:
        out.write(render_json(prepared, result).decode())
    else:
        out.write(render_text(prepared, result))
    return 0
