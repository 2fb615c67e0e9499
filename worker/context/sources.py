"""Where the head revision's files come from: a directory, a git revision, a dict.

A `RepoSource` lists file paths (POSIX, relative to the repository root) and
reads one file's text, answering None for a file it will not give: binary,
larger than its byte limit, unreadable, or outside the repository. The index
calls `read` once per file it indexes, and again for the few files a snippet
is cut from, so a source must tolerate repeated reads.

This module, `git_source` and `archive` are the package's only ones that do
I/O (a directory, a git process, a tar stream).
"""

from __future__ import annotations

import os
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


def in_skipped_directory(path: str) -> bool:
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
        if in_skipped_directory(path):
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
