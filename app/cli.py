"""The `kimi-review` command: serve, worker, review, doctor, usage.

Each subcommand loads the settings once, checks what it needs
(`Settings.require`) and prints a clear error naming the variable when
something is missing or wrong, then exits 2 without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

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
    sub.add_parser("doctor", help="check every setting and endpoint, say how to fix each")
    usage = sub.add_parser("usage", help="token use in the current quota window")
    usage.add_argument("--json", action="store_true")
    return parser


def _settings(command: Command, *, quiet: bool = False) -> Settings:
    try:
        settings = load_settings(os.environ)
        settings.require(command)
    except SettingsError as exc:
        print(f"kimi-review {command}: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    # The one-shot review prints its report on stdout; stderr carries only problems.
    level = logging.WARNING if quiet else logging.INFO
    configure_logging(settings.log_format, settings.secret_values(), level)
    return settings


def _review_diff(source: str, *, as_json: bool) -> int:
    import asyncio

    from app.oneshot import read_diff, review_diff

    settings = _settings("review_diff", quiet=True)
    try:
        text = read_diff(source)
    except OSError as exc:
        print(f"kimi-review review --diff: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(review_diff(settings, text, as_json=as_json, out=sys.stdout, err=sys.stderr))


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
            return _review_diff(args.diff, as_json=args.json)
        return _review_pr(args.pr_url, dry_run=args.dry_run, as_json=args.json)
    if args.command == "doctor":
        from app.doctor import doctor_main

        return doctor_main(os.environ, sys.stdout)
    import asyncio

    from app.usage_cli import print_usage

    settings = _settings("usage", quiet=True)
    return asyncio.run(print_usage(settings, as_json=args.json, out=sys.stdout, err=sys.stderr))


if __name__ == "__main__":
    sys.exit(main())
