"""Repository instructions: AGENTS.md and its kin, read at the BASE commit, for the prompt.

The maintainers of many repositories already write instructions for coding
agents (`AGENTS.md`, `CLAUDE.md`, `.github/copilot-instructions.md`) or for
reviewers (`REVIEW.md`). The review reads the ones at the repository's root
and, for each changed file, those of the nearest directory above it that has
any, always from the base revision: a pull request cannot instruct its own
review (the rule `.kimi-review.toml` follows too). The set is collected once
per review, so it sits in the prompt's shared prefix and every chunk of the
PR keeps the same cacheable start.

Each file is cut to `MAX_FILE_CHARS`, all of them to `MAX_TOTAL_CHARS`, and
cut and masked like the PR's own text (a secret in a base-branch file is
still not sent). Reading is injected (`ReadText`): the GitHub contents API
at the base SHA for the App, `git show HEAD:path` for `review --diff`, the
snapshot directory for an eval.
"""

from __future__ import annotations

import asyncio
import posixpath
import subprocess
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Final, Protocol

from worker.diff.long_lines import cut_text
from worker.diff.masking import mask_text
from worker.github.errors import GitHubError
from worker.github.models import FileBlob
from worker.review.prompt import InstructionFile

ROOT_NAMES: Final = ("AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md", "REVIEW.md")
NESTED_NAMES: Final = ("AGENTS.md", "CLAUDE.md", "REVIEW.md")
MAX_FILE_CHARS: Final = 8 * 1024
MAX_TOTAL_CHARS: Final = 16 * 1024
MAX_DIRECTORIES: Final = 24  # directories probed besides the root (each costs reads)
GIT_TIMEOUT: Final = 10
MAX_READ_BYTES: Final = 64 * 1024

ReadText = Callable[[str], Awaitable[str | None]]  # a file's text at the base; None: absent


def _directories(changed: Iterable[str]) -> list[list[str]]:
    """For each changed file, its directories from the nearest up (the root excluded)."""
    chains = []
    for path in sorted(set(changed)):
        chain = []
        directory = posixpath.dirname(path)
        while directory:
            chain.append(directory)
            directory = posixpath.dirname(directory)
        chains.append(chain)
    return chains


async def _read_many(read: ReadText, paths: list[str]) -> dict[str, str]:
    texts = await asyncio.gather(*(read(path) for path in paths))
    return {path: text for path, text in zip(paths, texts, strict=True) if text}


def _cut(text: str, budget: int, path: str) -> str:
    limit = min(MAX_FILE_CHARS, budget)
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + f"\n[... {path} cut: {len(text) - limit:,} more characters]"


async def collect_instructions(
    read: ReadText, changed: Iterable[str], *, skip: frozenset[str] = frozenset()
) -> tuple[InstructionFile, ...]:
    """The instruction files for a PR changing `changed`: the root's, then the nearest ones.

    `skip` names files never read (an eval snapshot is the head: the ones the
    diff itself changes are not the base's).
    """
    chains = _directories(changed)
    wanted: list[str] = []
    for chain in chains:
        wanted += [d for d in chain if d not in wanted]
    wanted = wanted[:MAX_DIRECTORIES]
    candidates: list[str] = [n for n in ROOT_NAMES if n not in skip]
    candidates += [f"{d}/{n}" for d in wanted for n in NESTED_NAMES if f"{d}/{n}" not in skip]
    found = await _read_many(read, candidates)
    chosen: list[str] = [path for path in ROOT_NAMES if path in found]
    for chain in chains:
        nearest = next((d for d in chain if any(f"{d}/{n}" in found for n in NESTED_NAMES)), None)
        if nearest is not None:
            chosen += [f"{nearest}/{n}" for n in NESTED_NAMES if f"{nearest}/{n}" in found]
    files: list[InstructionFile] = []
    budget = MAX_TOTAL_CHARS
    for path in dict.fromkeys(chosen):
        if budget <= 0:
            break
        text, _ = cut_text(found[path], where=path)
        masked, _ = mask_text(_cut(text, budget, path), where=path)
        budget -= len(masked)
        files.append(InstructionFile(path, masked))
    return tuple(files)


def instructions_line(
    files: tuple[InstructionFile, ...], *, where: str = "the base branch"
) -> str | None:
    """The summary's line naming the instruction files used, None when there are none."""
    if not files:
        return None
    return "Instructions: " + ", ".join(f"`{f.path}`" for f in files) + f" (from {where})"


class BlobReader(Protocol):
    """The one read `github_base_reader` needs; `GitHubReader.file_at` fits it."""

    async def file_at(self, path: str, ref: str, *, max_bytes: int = ...) -> FileBlob | None: ...


def github_base_reader(reader: BlobReader, base_sha: str) -> ReadText:
    """Files at the PR's base SHA through the contents API; unreadable ones count as absent.

    An instruction file is an aid: a GitHub error reading one must not stop the review.
    """

    async def read(path: str) -> str | None:
        try:
            blob = await reader.file_at(path, base_sha, max_bytes=MAX_READ_BYTES)
        except GitHubError:
            return None
        if blob is None or blob.kind != "file" or blob.content is None:
            return None
        return blob.content.decode("utf-8", "replace")

    return read


def git_head_reader(repo: Path) -> ReadText:
    """Files at the HEAD commit of `repo` (`git show HEAD:path`), never the working tree."""

    def show(path: str) -> str | None:
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                ["git", "-C", str(repo), "show", f"HEAD:{path}"],  # noqa: S607 - git from PATH
                capture_output=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0:
            return None
        return done.stdout.decode("utf-8", "replace")

    async def read(path: str) -> str | None:
        return await asyncio.to_thread(show, path)

    return read


def directory_reader(root: Path) -> ReadText:
    """Files of a directory (an eval snapshot); nothing outside it, at most 64 KiB of each."""
    resolved_root = root.resolve()

    def load(path: str) -> str | None:
        try:
            target = (resolved_root / path).resolve()
            if not target.is_relative_to(resolved_root) or not target.is_file():
                return None
            with target.open("rb") as handle:
                return handle.read(MAX_READ_BYTES).decode("utf-8", "replace")
        except OSError:
            return None

    async def read(path: str) -> str | None:
        return await asyncio.to_thread(load, path)

    return read
