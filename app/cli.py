"""The `kimi-review` command: serve, worker, review, eval, doctor, usage.

Each subcommand loads the settings once, checks what it needs
(`Settings.require`) and prints a clear error naming the variable when
something is missing or wrong, then exits 2 without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from worker.config import Command, Settings, load_settings
from worker.envparse import SettingsError
from worker.logs import configure_logging

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kimi-review", description="Pull-request reviews with Kimi K2.6, self-hosted."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the webhook receiver")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server binds all interfaces
    serve.add_argument("--port", type=int, default=8080)
    worker = sub.add_parser(
        "worker", help="run an arq worker (as many as you like, sharing REDIS_URL)"
    )
    worker.add_argument("--burst", action="store_true", help="process what is queued, then exit")
    review = sub.add_parser("review", help="review one PR, or a local diff, in-process")
    review.add_argument("pr_url", nargs="?", help="https://github.com/OWNER/REPO/pull/N")
    review.add_argument("--diff", metavar="PATH|-", help="a unified diff file, or - for stdin")
    review.add_argument("--dry-run", action="store_true", help="print, do not post")
    review.add_argument("--json", action="store_true", help="machine-readable output")
    review.add_argument("--title", help="the change's title (default: HEAD's commit subject)")
    review.add_argument(
        "--description", help="the change's description (default: HEAD's commit body)"
    )
    review.add_argument(
        "--repo", metavar="DIR", help="the repository at the change's head (default: this one)"
    )
    from app.eval_cli import add_eval_parser

    add_eval_parser(sub)
    sub.add_parser("doctor", help="check every setting and endpoint, say how to fix each")
    usage = sub.add_parser("usage", help="token use in the current quota window")
    usage.add_argument("--json", action="store_true")
    usage.add_argument("--key-id", help="the ledger of this key id (default: the main key's)")
    return parser


def log_format(settings: Settings, environ: Mapping[str, str], stream: TextIO) -> str:
    """LOG_FORMAT when set; else console for a one-shot command run on a terminal."""
    if environ.get("LOG_FORMAT"):
        return settings.log_format
    return "console" if stream.isatty() else settings.log_format


def _settings(command: Command, *, quiet: bool = False) -> Settings:
    try:
        settings = load_settings(os.environ)
        settings.require(command)
    except SettingsError as exc:
        print(f"kimi-review {command}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    # The one-shot review prints its report on stdout; stderr carries only problems.
    level = logging.WARNING if quiet else logging.INFO
    fmt = log_format(settings, os.environ, sys.stderr) if quiet else settings.log_format
    configure_logging(fmt, settings.secret_values(), level)
    return settings


def _review_diff(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from app.oneshot import DiffRequest, read_diff, review_diff

    source: str = args.diff

    settings = _settings("review_diff", quiet=True)
    try:
        text = read_diff(source)
    except OSError as exc:
        print(f"kimi-review review --diff: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    repo = Path(args.repo) if args.repo is not None else None
    if repo is not None and not repo.is_dir():
        print(f"kimi-review review --diff: --repo {repo}: not a directory", file=sys.stderr)
        return EXIT_CONFIG
    request = DiffRequest(title=args.title, description=args.description, repo=repo)
    return asyncio.run(
        review_diff(
            settings, text, as_json=args.json, out=sys.stdout, err=sys.stderr, request=request
        )
    )


def _review_pr(url: str, *, dry_run: bool, as_json: bool) -> int:
    import asyncio

    from app.oneshot_pr import PullUrlError, parse_pull_url, review_pull

    try:
        pull = parse_pull_url(url)
    except PullUrlError as exc:
        print(f"kimi-review review: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = _settings("review", quiet=True)
    return asyncio.run(
        review_pull(
            settings, pull, dry_run=dry_run, as_json=as_json, out=sys.stdout, err=sys.stderr
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from app.main import run_server

        run_server(_settings("serve"), host=args.host, port=args.port)
        return 0
    if args.command == "worker":
        from worker.main import run_worker

        return run_worker(_settings("worker"), burst=args.burst)
    if args.command == "review":
        if (args.diff is None) == (args.pr_url is None):
            print("kimi-review review: give a PR URL or --diff PATH|-, not both", file=sys.stderr)
            return EXIT_CONFIG
        if args.diff is not None:
            return _review_diff(args)
        return _review_pr(args.pr_url, dry_run=args.dry_run, as_json=args.json)
    if args.command == "eval":
        from app.eval_cli import run_eval_command

        return run_eval_command(args, lambda: _settings("eval", quiet=True))
    if args.command == "doctor":
        from app.doctor import doctor_main, known_secrets

        # The doctor reports bad settings itself, so it cannot wait for them to load.
        fmt = os.environ.get("LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
        configure_logging(fmt, known_secrets(os.environ), logging.WARNING)
        return doctor_main(os.environ, sys.stdout)
    import asyncio

    from app.usage_cli import print_usage

    settings = _settings("usage", quiet=True)
    return asyncio.run(
        print_usage(settings, as_json=args.json, key_id=args.key_id, out=sys.stdout, err=sys.stderr)
    )


if __name__ == "__main__":
    sys.exit(main())
