"""A pull request's changed files as `ChangedFile`s, ready for the pure diff stages.

GitHub's file list carries each file's `patch` (hunks only) except when the
file is binary or its diff is too large. A text file whose diff GitHub left
out is rebuilt here from both versions (contents API, under a size limit) in
the same shape GitHub uses: hunks only, no ---/+++ header, 3 lines of
context. Binaries, over-limit files, symlinks and submodules become skipped
files with the reason, named in the review summary.

A file without `patch` and with no line changes is either binary, a pure
rename/copy, a mode change or an empty file; the surviving version is read
once to tell which. We never use the whole-PR diff media type: GitHub refuses
it past 300 files or 20,000 lines (406).
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import msgspec

from worker.diff.model import ChangedFile, SkippedFile
from worker.github.models import CompareResult, DiffEntry, FileBlob, PullRequestInfo

# Types git itself would show as "Binary files differ"; skipped without a download.
BINARY_SUFFIXES: Final = (
    *(".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".psd", ".pdf"),
    *(".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".war", ".whl"),
    *(".class", ".so", ".dylib", ".dll", ".exe", ".o", ".a", ".pyc", ".bin"),
    *(".woff", ".woff2", ".ttf", ".otf", ".eot", ".sqlite", ".db"),
    *(".mp3", ".mp4", ".mov", ".avi", ".wav", ".ogg", ".flac"),
)


class ContentReader(Protocol):
    """What fetching needs from the GitHub read layer (worker.github.client.GitHubReader)."""

    async def pull_request_files(self, number: int) -> list[DiffEntry]: ...

    async def file_at(self, path: str, ref: str, *, max_bytes: int) -> FileBlob | None: ...

    async def compare(self, base: str, head: str) -> CompareResult: ...


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How much the read layer downloads to rebuild diffs GitHub did not give."""

    max_file_bytes: int = 512 * 1024  # per version; larger files are skipped, not diffed
    parallel: int = 4  # content downloads in flight for one review


DEFAULT_LIMITS: Final = FetchLimits()


class FetchedFiles(msgspec.Struct, frozen=True):
    """Every changed file, and what of it cannot be reviewed.

    `files` holds one ChangedFile per listed file; those without a patch carry
    `skip_reason`. `skipped` is the list for the review summary: the same
    files plus, when GitHub's 3000-file cap was hit, one entry for the rest.
    """

    files: list[ChangedFile]
    skipped: list[SkippedFile]


def looks_binary(data: bytes) -> bool:
    """git's rule (a NUL in the first 8000 bytes), plus: not UTF-8 means not reviewable text."""
    if b"\0" in data[:8000]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _split_lines(text: str) -> list[str]:
    # Only "\n" ends a line for git (str.splitlines would also split on \x0c, \u2028...).
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _hunk_range(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def unified_patch(old: str, new: str, *, context: int = 3) -> str:
    """A unified diff in GitHub's `patch` shape: hunks only, "\\ No newline" markers kept."""
    a, b = _split_lines(old), _split_lines(new)
    out: list[str] = []

    def emit(marker: str, line: str) -> None:
        out.append(marker + line.removesuffix("\n"))
        if not line.endswith("\n"):
            out.append("\\ No newline at end of file")

    for group in difflib.SequenceMatcher(None, a, b).get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_hunk_range(i1, i2 - i1)} +{_hunk_range(j1, j2 - j1)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for line in a[a1:a2]:
                    emit(" ", line)
                continue
            for line in a[a1:a2]:
                emit("-", line)
            for line in b[b1:b2]:
                emit("+", line)
    return "\n".join(out)


def _counts(patch: str) -> tuple[int, int]:
    lines = patch.split("\n")
    additions = sum(1 for line in lines if line.startswith("+"))
    deletions = sum(1 for line in lines if line.startswith("-"))
    return additions, deletions


def _changed(entry: DiffEntry, patch: str | None, skip: str | None = None) -> ChangedFile:
    additions, deletions = entry.additions, entry.deletions
    if patch and entry.patch is None:
        additions, deletions = _counts(patch)
    return ChangedFile(
        path=entry.path,
        status=entry.status,
        patch=None if skip else patch,
        previous_path=entry.previous_path,
        additions=additions,
        deletions=deletions,
        sha=entry.sha,
        skip_reason=skip,
    )


def _unusable(blob: FileBlob | None, limit: int) -> str | None:
    """Why a downloaded version cannot be diffed, or None when it can."""
    if blob is None:
        return "not found at the expected commit"
    if blob.kind != "file":
        return f"{blob.kind}, not a regular file"
    if blob.content is None:
        return f"too large to diff ({blob.size} bytes; limit {limit})"
    if looks_binary(blob.content):
        return "binary file"
    return None


class _Rebuilder:
    def __init__(self, reader: ContentReader, base_ref: str, head_ref: str, limits: FetchLimits):
        self.reader = reader
        self.base_ref = base_ref
        self.head_ref = head_ref
        self.limits = limits
        self.gate = asyncio.Semaphore(max(1, limits.parallel))

    async def version(self, path: str, ref: str) -> FileBlob | None:
        async with self.gate:
            return await self.reader.file_at(path, ref, max_bytes=self.limits.max_file_bytes)

    async def file(self, entry: DiffEntry) -> ChangedFile:
        if entry.patch is not None:
            return _changed(entry, entry.patch)
        if entry.path.lower().endswith(BINARY_SUFFIXES):
            return _changed(entry, None, "binary file")
        if entry.changes == 0:
            return await self._unchanged_text(entry)
        old_path = entry.previous_path or entry.path
        old = None if entry.status == "added" else await self.version(old_path, self.base_ref)
        new = None if entry.status == "removed" else await self.version(entry.path, self.head_ref)
        limit = self.limits.max_file_bytes
        problem = (None if entry.status == "added" else _unusable(old, limit)) or (
            None if entry.status == "removed" else _unusable(new, limit)
        )
        if problem is not None:
            return _changed(entry, None, problem)
        old_text = old.content.decode() if old is not None and old.content is not None else ""
        new_text = new.content.decode() if new is not None and new.content is not None else ""
        patch = await asyncio.to_thread(unified_patch, old_text, new_text)
        return _changed(entry, patch)

    async def _unchanged_text(self, entry: DiffEntry) -> ChangedFile:
        """No patch and no line changes: binary, or a rename/mode change/empty file."""
        if entry.status == "removed":
            blob = await self.version(entry.previous_path or entry.path, self.base_ref)
        else:
            blob = await self.version(entry.path, self.head_ref)
        problem = _unusable(blob, self.limits.max_file_bytes)
        if problem is not None:
            return _changed(entry, None, problem)
        return _changed(entry, "")  # nothing to review in the text itself


def _needs_old_version(entry: DiffEntry) -> bool:
    return (
        entry.patch is None
        and entry.status != "added"
        and not entry.path.lower().endswith(BINARY_SUFFIXES)
        and (entry.changes > 0 or entry.status == "removed")
    )


async def changed_files(
    reader: ContentReader,
    entries: Sequence[DiffEntry],
    *,
    base_ref: str,
    head_ref: str,
    limits: FetchLimits = DEFAULT_LIMITS,
) -> FetchedFiles:
    """`ChangedFile`s for GitHub file entries of `base_ref...head_ref` (a PR, or a compare)."""
    rebuilder = _Rebuilder(reader, base_ref, head_ref, limits)
    files = list(await asyncio.gather(*(rebuilder.file(entry) for entry in entries)))
    skipped = [SkippedFile(f.path, f.skip_reason) for f in files if f.skip_reason is not None]
    return FetchedFiles(files, skipped)


async def fetch_pull_request_files(
    reader: ContentReader, pr: PullRequestInfo, *, limits: FetchLimits = DEFAULT_LIMITS
) -> FetchedFiles:
    """The whole PR: every listed file (GitHub lists up to 3000), patches filled in."""
    entries = await reader.pull_request_files(pr.number)
    base_ref = pr.base_sha
    if any(_needs_old_version(entry) for entry in entries):
        # The PR's diff runs from the merge base (three dots), not from the base
        # branch's tip, which may have moved on since the branch was cut.
        base_ref = (await reader.compare(pr.base_sha, pr.head_sha)).merge_base_sha or base_ref
    fetched = await changed_files(
        reader, entries, base_ref=base_ref, head_ref=pr.head_sha, limits=limits
    )
    unlisted = pr.changed_files - len(entries)
    if unlisted > 0:
        notice = SkippedFile(
            f"({unlisted} more files)",
            f"GitHub lists at most {len(entries)} files of a pull request; the rest were not seen",
        )
        return FetchedFiles(fetched.files, [*fetched.skipped, notice])
    return fetched
