"""Benchmark of the diff engine on a generated 50,000-changed-line pull request.

Run: `.venv/bin/python bench/bench_chunking.py [--changed-lines N] [--files N]`

Prints the throughput of each stage (parse, filter, mask, chunk, render) in
lines/s and MB/s, and two cost ratios at the default budget
(Settings.llm.chunk_tokens = 24,000 and the default TokenEstimator):

- uncached / patch: prompt characters NOT served from the provider's prefix
  cache (each request's characters beyond the longest prefix it shares with
  another chunk's prompt) over the characters of GitHub's patches; target <= 1.25;
- total / patch: every prompt character sent over the patch characters.

The generated PR is deterministic (seeded): Python-like files with several
hunks each, 3 lines of context, a mix of additions, removals and edits.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import TypeVar

from worker.diff.chunks import chunk_files
from worker.diff.filters import select_files
from worker.diff.masking import mask_secrets
from worker.diff.model import ChangedFile
from worker.diff.parse import parse_changed_files
from worker.diff.tokens import TokenEstimator
from worker.review.prompt import PullRequestContext, render_messages, summarize_files

T = TypeVar("T")

WORDS = (
    "user", "request", "response", "value", "result", "items", "count", "index", "total", "config",
    "cache", "session", "handler", "order", "payment", "account", "record", "query", "filter",
    "mapping", "status", "error", "retry", "timeout", "buffer", "stream", "token", "payload",
    "message", "event", "queue", "worker",
)  # fmt: skip


def _code_line(rng: random.Random) -> str:
    indent = " " * (4 * rng.randint(0, 3))
    a, b, c = rng.sample(WORDS, 3)
    shapes = (
        f"{a}_{b} = {c}.get({a!r}, None)",
        f"if {a} is not None and {b}.{c}:",
        f"return self._{a}({b}, {c}=True)",
        f"for {a} in {b}.{c}s():",
        f"{a}.append({b}[{c}_index])",
        f'raise ValueError(f"bad {a}: {{{b}}}")',
        f"def {a}_{b}(self, {c}: int) -> str:",
        f"# {a} {b} {c} must stay ordered for the {c} cache",
        "",
        f"{a} = {b}_{c}({rng.randint(0, 999)}, {a}={b})",
    )
    line = rng.choice(shapes)
    return indent + line if line else line


def generate_pr(changed_lines: int, files: int, seed: int = 7) -> list[ChangedFile]:
    """A PR of `files` files totalling about `changed_lines` added and removed lines."""
    rng = random.Random(seed)
    per_file = max(1, changed_lines // files)
    result = []
    for index in range(files):
        remaining = per_file if index < files - 1 else changed_lines - per_file * (files - 1)
        patch_lines: list[str] = []
        old_no = new_no = 1
        additions = deletions = 0
        while remaining > 0:
            gap = rng.randint(8, 60)
            old_no += gap
            new_no += gap
            removed = min(remaining, rng.choice((0, 0, 1, 2, 4)))
            added = min(remaining - removed, rng.choice((1, 3, 6, 12, 25)))
            if removed + added == 0:
                added = remaining
            remaining -= removed + added
            body = [" " + _code_line(rng) for _ in range(3)]
            body += ["-" + _code_line(rng) for _ in range(removed)]
            body += ["+" + _code_line(rng) for _ in range(added)]
            body += [" " + _code_line(rng) for _ in range(3)]
            old_len, new_len = 6 + removed, 6 + added
            patch_lines.append(f"@@ -{old_no},{old_len} +{new_no},{new_len} @@ def f{index}():")
            patch_lines.extend(body)
            old_no += old_len
            new_no += new_len
            additions += added
            deletions += removed
        result.append(
            ChangedFile(
                path=f"src/pkg{index % 23}/module_{index}.py",
                status="modified",
                patch="\n".join(patch_lines),
                additions=additions,
                deletions=deletions,
            )
        )
    return result


def _timed(label: str, lines: int, chars: int, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    print(
        f"{label:<8} {elapsed:7.3f} s  {lines / elapsed:>12,.0f} lines/s"
        f"  {chars / elapsed / 1e6:7.2f} MB/s"
    )
    return result


def _shared_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    low, high = 0, limit  # binary search on prefix equality (C-speed comparisons)
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changed-lines", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--budget-tokens", type=int, default=24_000)
    args = parser.parse_args()

    files = generate_pr(args.changed_lines, args.files)
    patch_chars = sum(len(f.patch or "") for f in files)
    diff_lines = sum(
        (f.patch or "").count("\n") + 1 - (f.patch or "").count("\n@@") - 1 for f in files
    )
    changed = sum(f.additions + f.deletions for f in files)
    print(f"PR: {len(files)} files, {changed:,} changed lines, {diff_lines:,} diff lines,")
    print(
        f"    {patch_chars / 1e6:.2f} MB of patch text; budget {args.budget_tokens:,} tokens/chunk"
    )
    print()

    estimator = TokenEstimator()
    total_start = time.perf_counter()
    selection = _timed("filter", diff_lines, patch_chars, lambda: select_files(files))
    parsed, _ = _timed(
        "parse", diff_lines, patch_chars, lambda: parse_changed_files(selection.kept)
    )
    masked = _timed("mask", diff_lines, patch_chars, lambda: mask_secrets(parsed))
    chunks = _timed(
        "chunk",
        diff_lines,
        patch_chars,
        lambda: chunk_files(masked.files, budget_tokens=args.budget_tokens, estimator=estimator),
    )
    context = PullRequestContext(
        title="Refactor the order pipeline",
        description="Moves order handling to the new queue.\n\n" + "Details. " * 80,
        files=summarize_files(files, selection.skipped),
        repository="octo/shop",
        extra_instructions="Flag blocking I/O in async code.",
    )
    prompts = _timed(
        "render",
        diff_lines,
        patch_chars,
        lambda: [m["content"] for c in chunks for m in render_messages(context, c)],
    )
    total = time.perf_counter() - total_start
    print(
        f"{'total':<8} {total:7.3f} s  {diff_lines / total:>12,.0f} lines/s  "
        f"{patch_chars / total / 1e6:7.2f} MB/s"
    )
    print()

    requests = ["".join(prompts[i : i + 2]) for i in range(0, len(prompts), 2)]
    first = requests[0]
    shared = [_shared_prefix(first, other) for other in requests[1:]]
    # The first request's own diff is no more cacheable than the others': charge
    # it beyond the prefix it shares with the second request.
    uncached = (len(first) - (shared[0] if shared else 0)) + sum(
        len(request) - common for request, common in zip(requests[1:], shared, strict=True)
    )
    total_chars = sum(len(request) for request in requests)
    prefix_chars = shared[0] if shared else 0
    diff_chars = sum(chunk.chars for chunk in chunks)
    print(
        f"chunks:             {len(chunks)} (diff chars/chunk: mean "
        f"{diff_chars / len(chunks):,.0f}, max {max(c.chars for c in chunks):,},"
        f" budget {estimator.chars_for(args.budget_tokens):,})"
    )
    print(f"shared prefix:      {prefix_chars:,} chars (system + PR context + file list)")
    print(f"rendered diff:      {diff_chars / patch_chars:.3f} x patch chars")
    print(f"uncached / patch:   {uncached / patch_chars:.3f}   (target <= 1.25)")
    print(f"total / patch:      {total_chars / patch_chars:.3f}")
    print(f"masked lines:       {len(masked.maskings)}")


if __name__ == "__main__":
    main()
