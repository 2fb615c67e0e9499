"""`kimi-review eval`: run the review over a dataset and score it, or compare two runs.

    kimi-review eval DIR [--json [FILE]] [--no-judge] [--jobs N] [--offline]
    kimi-review eval --compare A.json B.json

The text report goes to stdout. `--json` alone prints the JSON report on
stdout instead; `--json FILE` writes it to FILE and still prints the text.
A progress bar (`eval [######--------------] 3/10 cases · 1,234,567
tokens`) goes to stderr when it is a terminal. Exit codes: 0 done; 2 bad
input (no case found, a case that does not load — the others still run —,
an unreadable report); 4 a case's review found no model to answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from worker.config import Settings
from worker.eval.dataset import load_dataset
from worker.eval.render import render_compare, render_report
from worker.eval.report import EvalReport, ReportError, Tokens, encode_report, load_report
from worker.eval.runner import RunOptions, run_eval
from worker.eval.snapshots import cache_root

EXIT_BAD_INPUT = 2
EXIT_MODELS_UNAVAILABLE = 4
DEFAULT_JOBS = 3


def add_eval_parser(sub: Any) -> None:
    """The `eval` subcommand's arguments (called by app.cli)."""
    command = sub.add_parser("eval", help="score the reviews on a dataset of known issues")
    command.add_argument("dir", nargs="?", metavar="DIR", help="a folder of cases, or one case")
    command.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="the JSON report: alone, on stdout instead of the text; with FILE, written there",
    )
    command.add_argument("--no-judge", action="store_true", help="findings and cost only")
    command.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help=f"cases at once (default {DEFAULT_JOBS})"
    )
    command.add_argument(
        "--offline", action="store_true", help="do not fetch snapshots; review the diffs alone"
    )
    command.add_argument(
        "--compare", nargs=2, metavar=("A.json", "B.json"), help="compare two runs' reports"
    )


class EvalProgress:
    """`eval [######--------------] 3/10 cases · 1,234,567 tokens`, rewritten in place."""

    WIDTH = 20

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, done: int, total: int, spent: Tokens) -> None:
        if self.active:
            tokens = spent.prompt + spent.completion
            filled = self.WIDTH * done // max(total, 1)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\reval [{bar}] {done}/{total} cases · {tokens:,} tokens ")
            self.stream.flush()

    def finish(self) -> None:
        if self.active:
            self.stream.write("\r\033[K")
            self.stream.flush()


def compare_command(a: str, b: str, out: TextIO, err: TextIO) -> int:
    try:
        first, second = load_report(Path(a)), load_report(Path(b))
    except ReportError as exc:
        err.write(f"kimi-review eval --compare: {exc}\n")
        return EXIT_BAD_INPUT
    out.write(render_compare(first, second))
    return 0


def _write(report: EvalReport, json_target: str | None, out: TextIO, err: TextIO) -> bool:
    if json_target == "-":
        out.write(encode_report(report).decode())
        return True
    if json_target is not None:
        try:
            Path(json_target).write_bytes(encode_report(report))
        except OSError as exc:
            err.write(f"kimi-review eval: cannot write {json_target}: {exc.strerror}\n")
            out.write(render_report(report))
            return False
    out.write(render_report(report))
    return True


def _exit_code(report: EvalReport) -> int:
    if report.totals.failed:
        return EXIT_MODELS_UNAVAILABLE
    return EXIT_BAD_INPUT if report.invalid else 0


async def eval_command(
    settings: Settings, args: argparse.Namespace, *, out: TextIO, err: TextIO
) -> int:
    root = Path(args.dir)
    cases, invalid = load_dataset(root)
    for bad in invalid:
        err.write(f"kimi-review eval: case {bad.id} skipped: {bad.error}\n")
    if not cases:
        err.write(
            f"kimi-review eval: no usable case in {root} (a case is a folder with case.toml)\n"
        )
        return EXIT_BAD_INPUT
    options = RunOptions(
        cache=cache_root(os.environ),
        judge=not args.no_judge,
        jobs=args.jobs,
        offline=args.offline,
    )
    progress = EvalProgress(err)
    try:
        report = await run_eval(
            settings, cases, invalid, options=options, dataset=str(root), progress=progress
        )
    finally:
        progress.finish()
    if not _write(report, args.json, out, err):
        return EXIT_BAD_INPUT
    return _exit_code(report)


def run_eval_command(args: argparse.Namespace, settings: Callable[[], Settings]) -> int:
    """The `eval` subcommand: `settings` loads them (exits 2 on a bad environment)."""
    if args.compare:
        if args.dir is not None:
            print("kimi-review eval: give DIR or --compare A B, not both", file=sys.stderr)
            return EXIT_BAD_INPUT
        return compare_command(args.compare[0], args.compare[1], sys.stdout, sys.stderr)
    if args.dir is None:
        print("kimi-review eval: give a dataset folder DIR (or --compare A B)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.jobs < 1:
        print("kimi-review eval: --jobs must be 1 or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not Path(args.dir).is_dir():
        print(f"kimi-review eval: {args.dir}: not a directory", file=sys.stderr)
        return EXIT_BAD_INPUT
    return asyncio.run(eval_command(settings(), args, out=sys.stdout, err=sys.stderr))
