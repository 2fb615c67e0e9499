"""Where the head revision's files come from: a directory, a git revision, a dict.

A `RepoSource` lists file paths (POSIX, relative to the repository root) and
reads one file's text, answering None for a file it will not give: binary,
larger than its byte limit, unreadable, or outside the repository. The index
calls `read` once per file it indexes, and again for the few files a snippet
is cut from, so a source must tolerate repeated reads.

This is the package's only module that touches the disk or runs a process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final, Protocol

DEFAULT_MAX_FILE_BYTES: Final = 512 * 1024
# Directories that hold tooling, dependencies or build output, never the project's code.
SKIPPED_DIRECTORIES: Final = frozenset(
    {".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
     "__pycache__", ".tox", ".mypy_cache", ".ruff_cache", ".pytest_cache", "bower_components",
     "dist", "target", ".next", ".gradle", ".idea"}
)  # fmt: skip
_GIT_TIMEOUT: Final = 60.0
_BINARY_PROBE: Final = 8192


class SourceError(RuntimeError):
    """The repository could not be listed (not a git repository, unknown revision, ...)."""


class RepoSource(Protocol):
    """The files of one revision of a repository."""

    def list_files(self) -> Iterable[str]: ...

    def read(self, path: str) -> str | None: ...


def decode_source(data: bytes) -> str | None:
    """Text of a source file, or None for a binary one (a NUL byte near the start)."""
    if b"\0" in data[:_BINARY_PROBE]:
        return None
    return data.decode("utf-8", "replace")


def _skipped(path: str) -> bool:
    return any(part in SKIPPED_DIRECTORIES for part in path.split("/")[:-1])


class MappingSource:
    """Files already in memory (tests, or a diff's new versions)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self._files = dict(files)

    def list_files(self) -> Iterable[str]:
        return sorted(self._files)

    def read(self, path: str) -> str | None:
        return self._files.get(path)


class DirectorySource:
    """A working tree or an unpacked snapshot; nothing outside `root` is ever read."""

    def __init__(
        self, root: str | os.PathLike[str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ):
        self._root = Path(root).resolve()
        self._max_file_bytes = max_file_bytes

    def list_files(self) -> Iterator[str]:
        for directory, subdirectories, files in os.walk(self._root, followlinks=False):
            subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
            relative = Path(directory).relative_to(self._root).as_posix()
            for name in sorted(files):
                yield name if relative == "." else f"{relative}/{name}"

    def read(self, path: str) -> str | None:
        if _skipped(path):
            return None
        try:
            resolved = (self._root / path).resolve()
            # A symlink (or "..") may point anywhere; only files inside root are read.
            if not resolved.is_relative_to(self._root) or not resolved.is_file():
                return None
            if resolved.stat().st_size > self._max_file_bytes:
                return None
            data = resolved.read_bytes()
        except (OSError, ValueError):
            return None
        return decode_source(data)


class GitRevisionSource:
    """The files of `rev` in a local git repository, read with `git` (no checkout needed)."""

    def __init__(
        self,
        repo_dir: str | os.PathLike[str],
        rev: str,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        self._repo = Path(repo_dir)
        self._rev = rev
        self._max_file_bytes = max_file_bytes
        self._blobs: dict[str, tuple[str, int]] | None = None  # path -> (blob id, size)

    def _git(self, *args: str) -> bytes:
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                ["git", "-C", str(self._repo), *args],  # noqa: S607 - git from PATH, like the CLI
                capture_output=True,
                timeout=_GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"git {args[0]} failed in {self._repo}: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()[:200]
            raise SourceError(f"git {args[0]} failed in {self._repo}: {message}")
        return done.stdout

    def _tree(self) -> dict[str, tuple[str, int]]:
        if self._blobs is None:
            blobs: dict[str, tuple[str, int]] = {}
            # -z: paths verbatim; --long: sizes, so huge blobs are never read.
            listing = self._git("ls-tree", "-r", "-z", "--long", "--full-tree", self._rev)
            for entry in listing.split(b"\0"):
                meta, _, raw_path = entry.partition(b"\t")
                fields = meta.split()
                # Mode 120000 is a symlink, 160000 a submodule: neither is a file here.
                if len(fields) != 4 or fields[0] not in (b"100644", b"100755"):
                    continue
                path = raw_path.decode("utf-8", "surrogateescape")
                if not _skipped(path):
                    blobs[path] = (fields[2].decode("ascii"), int(fields[3]))
            self._blobs = blobs
        return self._blobs

    def list_files(self) -> Iterable[str]:
        return sorted(self._tree())

    def read(self, path: str) -> str | None:
        blob = self._tree().get(path)
        if blob is None or blob[1] > self._max_file_bytes:
            return None
        try:
            data = self._git("cat-file", "blob", blob[0])
        except SourceError:
            return None
        return decode_source(data)
