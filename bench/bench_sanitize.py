"""Benchmark of the sanitiser on adversarial model text: no input makes it slow.

Run: `.venv/bin/python bench/bench_sanitize.py [--chars N]`

The model's answer is steered by the pull request, so its text can be built
to make a regular expression backtrack (long runs of backslashes, brackets,
backticks, `@`, URLs). Prints, for each shape, the time to sanitise N
characters (default 60,000, about the largest body GitHub accepts) and the
throughput; every shape should stay linear (tens of milliseconds).
"""

from __future__ import annotations

import argparse
import time

from worker.review.sanitize import sanitize_markdown

SHAPES = {
    "backslashes": "\\",
    "brackets": "[",
    "links": "[a](",
    "mentions": "@a/",
    "urls": "https://x.y/",
    "mixed": "\\[@a](https://p.e/x) `x` <a> &#64; www.q.r ",
    "backticks": "`a",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=60_000)
    chars = parser.parse_args().chars
    for name, unit in SHAPES.items():
        text = (unit * (chars // len(unit) + 1))[:chars]
        started = time.perf_counter()
        sanitize_markdown(text, link_host="github.com")
        seconds = time.perf_counter() - started
        rate = chars / seconds / 1e6
        print(f"{name:12s} {chars:>8,} chars {seconds * 1000:8.1f} ms {rate:6.2f} MB/s")


if __name__ == "__main__":
    main()
