"""What targeted context adds to the prompts of the devset's cases (no model called).

Run: `.venv/bin/python bench/bench_context_devset.py [--cache DIR] [--show CASE]`

For every case of `bench/devset` whose snapshot is already unpacked in the
snapshot cache (`kimi-review eval` fills it; default `$XDG_CACHE_HOME` or
`~/.cache`), prepares the review as `kimi-review eval` does, selects each
chunk's context from the snapshot, and prints context characters, diff
characters and their ratio per case and in total. `--show CASE` prints that
case's first rendered user message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from worker.context import DirectorySource, RepoSource
from worker.diff.local import changed_files_from_diff
from worker.eval.dataset import CaseError, case_folders, load_case
from worker.eval.snapshots import cache_root
from worker.review.prepare import ReviewOptions, prepare_review
from worker.review.prompt import render_messages
from worker.review.repo_context import ReviewContext

DEVSET = Path(__file__).resolve().parent / "devset"
CHUNK_TOKENS = 24_000


async def _case(folder: Path, cache: Path, show: bool) -> tuple[int, int] | None:
    try:
        case = load_case(folder)
    except CaseError:
        return None
    if case.snapshot is None:
        return None
    tree = cache / f"{case.snapshot.sha256}-strip{case.snapshot.strip}"
    if not tree.is_dir():
        return None
    files = changed_files_from_diff(case.diff)
    prepared = prepare_review(
        files,
        title=case.title,
        description=case.description,
        repository=case.id,
        options=ReviewOptions(budget_tokens=CHUNK_TOKENS),
    )

    async def source() -> RepoSource:
        return DirectorySource(tree)

    context = await ReviewContext.open(
        source,
        focus=[f.path for f in files],
        chunk_chars=prepared.estimator.chars_for(CHUNK_TOKENS),
        where="the snapshot",
    )
    context_chars = diff_chars = 0
    for number, chunk in enumerate(prepared.chunks):
        block = await context.for_chunk(chunk)
        context_chars += len(block)
        diff_chars += chunk.chars
        if show and number == 0:
            print(render_messages(prepared.context, chunk, repo_context=block)[1]["content"])
    print(f"{case.id:64} context {context_chars:>7,}  diff {diff_chars:>7,}  "
          f"ratio {context_chars / max(1, diff_chars):.2f}")  # fmt: skip
    return context_chars, diff_chars


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=cache_root(os.environ))
    parser.add_argument("--show", default="")
    args = parser.parse_args()
    total_context = total_diff = cases = 0
    for folder in case_folders(DEVSET):
        found = await _case(folder, args.cache, folder.name == args.show)
        if found is not None:
            cases += 1
            total_context += found[0]
            total_diff += found[1]
    print(f"{cases} cases: context {total_context:,} chars, diff {total_diff:,} chars, "
          f"ratio {total_context / max(1, total_diff):.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
