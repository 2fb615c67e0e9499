"""Benchmark: hostile diffs against secret masking, as the worker runs it.

Run: `.venv/bin/python bench/bench_masking.py [--quick]`

Any PR author controls the diff. The worker prepares a review (filter, parse,
mask, chunk) in `asyncio.to_thread`, but a regex holds the interpreter lock
for its whole run, so a slow match stalls the worker's event loop (lease
renewals, heartbeats, other reviews) however it is threaded. The figure is
therefore the WORST EVENT-LOOP STALL: a ticker coroutine sleeps 1 ms at a
time on the loop and records its largest gap while `prepare_review` runs in
a thread, exactly as `worker/review/flow.py` calls it. Target: < 100 ms.

Inputs (deterministic):
- one line of 8k / 16k / 32k characters: a long word run, then a token
  (the shape that made the old masking quadratic), and the prepare time;
- one 512 KiB line carrying a token-shaped value;
- 200 lines of 4,000 characters built from near-matches of the secret patterns;
- near-matches of every secret pattern: each pattern's prefix repeated, and
  each prefix followed by a long run of key characters, 3,000 characters a line.

Then masking alone with the line limit bypassed (`mask_secrets` on uncut
lines of 8k to 128k characters), to show the scans themselves are linear:
the time per line should double when the line doubles, not quadruple.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Iterator

from worker.diff.masking import mask_secrets
from worker.diff.model import ChangedFile
from worker.diff.parse import parse_file
from worker.review.prepare import ReviewOptions, prepare_review

# Prefixes of the secret patterns (ours and detect-secrets'), built at run
# time in pieces so the repository holds no secret-shaped literal.
SEEDS = (
    "sk-", "sk-" + "kimi-", "sk-" + "ant-", "sk-" + "proj-", "gh" + "p_", "gh" + "s_",
    "github" + "_pat_", "ey" + "J", "ey" + "Ja.", "ey" + "Ja.ey" + "Jb.", "AK" + "C", "AP1",
    "AK" + "IA", "://a:", "xo" + "xb-1-", "SG.", "gl" + "pat-", "AC", "SK", "12345678:",
    "AccountKey=", "aws key '", "//a/:_authToken=", "password='", '"secret": "', "Bearer ",
    "-----BEGIN ", "-----BEGIN RSA PRIVATE KEY-----", "a=", "'a", '"', "AI" + "za", "npm_",
    "https://hooks.slack.com/services/Ta/Ba/", "api_key=", "token: ", "pypi-AgEIcHlwaS5vcmc",
)  # fmt: skip
RUNS = ("a", "A1", "-", "a1B2", "/", "+", "=", " ", "'", '"', "_", ".", ":", "@", "x:")
TOKEN = "gh" + "p_" + "A1b2C3d4E5" * 3 + "f6G7h8"


def near_matches(width: int) -> Iterator[str]:
    """Lines that almost match some secret pattern, `width` characters each."""
    for seed in SEEDS:
        yield (seed * (width // len(seed) + 1))[:width]
        for run in ("a", "A1", "-", "a1B2"):
            yield (seed + run * width)[:width]
    for run in RUNS:
        yield (run * width)[:width]


def added_file(path: str, lines: list[str]) -> ChangedFile:
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)
    return ChangedFile(path=path, status="added", patch=patch, additions=len(lines))


async def worst_stall(files: list[ChangedFile]) -> tuple[float, float]:
    """(largest event-loop gap, prepare time) in seconds, prepare run as the worker runs it."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    largest = 0.0

    async def ticker() -> None:
        nonlocal largest
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            largest = max(largest, now - last - 0.001)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await asyncio.to_thread(
        prepare_review,
        files,
        title="Hostile input",
        description="A pull request built to stall the worker.",
        repository="bench/masking",
        options=ReviewOptions(),
    )
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    return largest, elapsed


def cases(quick: bool) -> Iterator[tuple[str, list[ChangedFile]]]:
    for width in (8_000, 16_000) if quick else (8_000, 16_000, 32_000):
        line = "x = " + "a" * width + " " + TOKEN
        yield f"one {width // 1000}k-character line + token", [added_file("src/long.py", [line])]
    big = "data = '" + ("a1B2" * 131_072)[: 512 * 1024 - 60] + "' # " + TOKEN
    yield "one 512 KiB line + token", [added_file("src/huge.py", [big])]
    near = list(near_matches(4_000))
    yield f"{200} lines of 4,000 near-match chars", [added_file("src/many.py", near[:200])]
    lines = list(near_matches(3_000))
    yield f"near-matches of every pattern ({len(lines)} lines)", [added_file("src/near.py", lines)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 32k-character line")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; target: worst event-loop stall < 100 ms")
    print(f"{'input':<45} {'worst stall':>12} {'prepare':>10}")
    # A fresh process first builds detect-secrets' plugins and compiles their
    # regexes (once per worker): shown apart so it does not hide the figures.
    first, _ = await worst_stall([added_file("src/warm.py", ["x = 1"])])
    print(f"{'warm-up: first, tiny review of the process':<45} {first * 1000:>9.1f} ms")
    worst = 0.0
    for name, files in cases(args.quick):
        stall, elapsed = await worst_stall(files)
        worst = max(worst, stall)
        print(f"{name:<45} {stall * 1000:>9.1f} ms {elapsed:>8.2f} s")
    verdict = "OK" if max(worst, first) < 0.1 else "OVER TARGET"
    print(
        f"worst event-loop stall: {worst * 1000:.1f} ms on hostile input, "
        f"{first * 1000:.1f} ms warm-up ({verdict})"
    )
    print()
    print("masking alone, line limit bypassed (one line, or the slowest near-match line):")
    for width in (8_000, 16_000, 32_000, 128_000):
        word = time_masking([f"x = {'a' * width} {TOKEN}"])
        near = max(time_masking([line]) for line in near_matches(width))
        figures = f"word run + token {word * 1000:7.1f} ms, near-match {near * 1000:7.1f} ms"
        print(f"  {width // 1000:>4}k chars: {figures}")


def time_masking(lines: list[str]) -> float:
    parsed = parse_file(added_file("src/x.py", lines))
    started = time.perf_counter()
    mask_secrets([parsed])
    return time.perf_counter() - started


if __name__ == "__main__":
    asyncio.run(main())
