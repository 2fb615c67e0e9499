"""`kimi-review review --diff`: the review pipeline in-process, without Redis.

The same prepare → review chunks → conclude steps as the worker, with an
in-process gate (the same cap) and breaker, and answers kept in memory
(worker.review.local, shared with `kimi-review eval`). The PR's words come
from --title/--description, else from HEAD's commit in the repository (the
--repo one, else the git work tree around the current directory). A
progress line goes to stderr when it is a terminal; the report goes to
stdout (text, or JSON with --json), so `... | kimi-review review --diff - >
review.txt` stays clean.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import structlog

from app.cli.exit_codes import ExitCode
from app.cli.report import render_json, render_text
from worker.config import Settings
from worker.diff.local import LocalDiffError, changed_files_from_diff
from worker.llm.base import TokenUsage
from worker.llm.errors import ModelsUnavailable
from worker.review.local import LocalChange, open_local_models, review_local

log = structlog.get_logger("kimi_review.oneshot")
DEFAULT_TITLE = "Local changes"
DEFAULT_DESCRIPTION = "A local diff reviewed from the command line."
GIT_TIMEOUT = 10


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


@dataclass(frozen=True, slots=True)
class DiffRequest:
    """What `review --diff` was asked: the PR's words, and the repository at the head."""

    title: str | None = None
    description: str | None = None
    repo: Path | None = None


def _git(directory: Path, *args: str) -> str | None:
    """`git -C directory ARGS`'s stdout, or None when it is not a repository or git is absent."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", "-C", str(directory), *args],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_toplevel(directory: Path) -> Path | None:
    """The root of the git work tree holding `directory`, if any."""
    out = _git(directory, "rev-parse", "--show-toplevel")
    return Path(out.strip()) if out and out.strip() else None


def head_message(directory: Path) -> tuple[str, str] | None:
    """HEAD's commit (subject, body) in `directory`'s repository, if there is one."""
    out = _git(directory, "log", "-1", "--format=%s%x00%b")
    if out is None or "\x00" not in out:
        return None
    subject, body = out.split("\x00", 1)
    return subject.strip(), body.strip()


def resolve_change(request: DiffRequest, cwd: Path) -> tuple[str, str, Path | None]:
    """(title, description, repository): flags first, then HEAD's commit, then defaults.

    Without --repo the repository is the git work tree around the current
    directory, if any; the commit message is read from that repository.
    """
    repo = request.repo if request.repo is not None else git_toplevel(cwd)
    title, description = request.title, request.description
    if title is None or description is None:
        message = head_message(repo or cwd)
        if message is not None:
            title = message[0] if title is None else title
            description = message[1] if description is None else description
    return (
        title if title is not None else DEFAULT_TITLE,
        description if description is not None else DEFAULT_DESCRIPTION,
        repo,
    )


async def review_diff(
    settings: Settings,
    text: str,
    *,
    as_json: bool,
    out: TextIO,
    err: TextIO,
    request: DiffRequest | None = None,
) -> ExitCode:
    """Review a unified diff and print the findings; returns the exit code."""
    try:
        files = changed_files_from_diff(text)
    except LocalDiffError as exc:
        err.write(f"kimi-review review --diff: {exc}\n")
        return ExitCode.BAD_INPUT
    if settings.llm.main is None:  # Settings.require("review_diff") guarantees it; kept for mypy
        err.write("kimi-review review --diff: API_OPEN_AI_API_KEY is required\n")
        return ExitCode.BAD_INPUT
    cwd = Path.cwd()
    title, description, repo = resolve_change(request or DiffRequest(), cwd)
    change = LocalChange(files, title, description, (repo or cwd).name, repo)
    progress = ProgressLine(err)
    async with open_local_models(settings.llm) as models:
        try:
            review = await review_local(
                models, change, progress=progress, min_severity=settings.review_min_severity
            )
        except ModelsUnavailable as exc:
            progress.finish()
            err.write(f"kimi-review review --diff: {exc}\n")
            return ExitCode.MODELS_UNAVAILABLE
    progress.finish()
    if as_json:
        out.write(render_json(review.prepared, review.result).decode())
    else:
        out.write(render_text(review.prepared, review.result))
    return ExitCode.OK
