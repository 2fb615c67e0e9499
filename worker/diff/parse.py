"""Parse GitHub's per-file `patch` text into hunks with old/new line numbers.

GitHub's `patch` field (REST "List pull request files") carries the hunks of
one file but no `---`/`+++` header, so a synthetic header is prepended before
handing the text to `unidiff`. The text is split on "\\n" only: a CR stays at
the end of its line (CRLF files), and Unicode line separators (U+2028, form
feed, ...) stay inside their line, where `str.splitlines` would cut them.

A patch unidiff cannot read, or one with text outside any hunk, raises
`PatchParseError` naming the file; `parse_changed_files` turns that into a
`SkippedFile` so one odd file never sinks a review.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

import msgspec
from unidiff.constants import RE_HUNK_HEADER
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from worker.diff.model import ChangedFile, FileStatus, SkippedFile

LineKind = Literal["+", "-", " "]

_NO_NEWLINE: Final = "\\"
_EMPTY: Final = ""  # unidiff's type for a blank separator line after a hunk


class PatchParseError(ValueError):
    """A file's patch is not a well-formed sequence of unified-diff hunks."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: malformed patch: {reason}")
        self.path = path
        self.reason = reason


class DiffLine(msgspec.Struct, frozen=True):
    """One line of a hunk. `text` excludes the marker and the final "\\n"."""

    kind: LineKind
    text: str
    old: int | None  # line number in the old file (removed and context lines)
    new: int | None  # line number in the new file (added and context lines)
    no_newline: bool = False  # "\\ No newline at end of file" follows this line


class Hunk(msgspec.Struct, frozen=True):
    """One `@@ -old_start,old_len +new_start,new_len @@ section` block."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    lines: tuple[DiffLine, ...]

    @property
    def changed_lines(self) -> int:
        return sum(1 for line in self.lines if line.kind != " ")


class ParsedFile(msgspec.Struct, frozen=True, kw_only=True):
    """A changed file with its hunks parsed (no hunks: rename, mode change, binary)."""

    path: str
    status: FileStatus
    hunks: tuple[Hunk, ...]
    previous_path: str | None = None
    additions: int = 0
    deletions: int = 0

    @property
    def changed_lines(self) -> int:
        return sum(hunk.changed_lines for hunk in self.hunks)


def parse_patch(patch: str | None, *, path: str) -> tuple[Hunk, ...]:
    """The hunks of one file's GitHub `patch`; `None` or "" (pure rename, mode change) gives ()."""
    if not patch:
        return ()
    lines = [line + "\n" for line in patch.split("\n")]
    if patch.endswith("\n"):
        lines.pop()  # the split's empty tail, not a line of the diff
    if not RE_HUNK_HEADER.match(lines[0]):
        raise PatchParseError(path, "does not start with a hunk header")
    try:
        patch_set = PatchSet(["--- a/file\n", "+++ b/file\n", *lines])
    except UnidiffParseError as exc:
        # unidiff appends the offending line after ": "; diff text stays out of
        # errors and logs (it may hold the very secrets masking exists for).
        raise PatchParseError(path, str(exc).split(":", 1)[0]) from None
    if len(patch_set) != 1:
        raise PatchParseError(path, "text outside any hunk")
    parsed = [_convert_hunk(hunk) for hunk in patch_set[0]]
    # unidiff files stray text between or after hunks as "patch info" without
    # complaint; every input line must be accounted for by a hunk.
    consumed = sum(1 + len(hunk) for hunk in patch_set[0])
    if consumed != len(lines):
        raise PatchParseError(path, "text outside any hunk")
    return tuple(parsed)


def _convert_hunk(hunk: object) -> Hunk:
    lines: list[DiffLine] = []
    for raw in hunk:  # type: ignore[attr-defined]
        kind = raw.line_type
        if kind == _NO_NEWLINE:
            if lines:
                last = lines[-1]
                lines[-1] = DiffLine(last.kind, last.text, last.old, last.new, no_newline=True)
            continue
        if kind == _EMPTY:
            continue
        text = raw.value[:-1] if raw.value.endswith("\n") else raw.value
        lines.append(DiffLine(kind, text, raw.source_line_no, raw.target_line_no))
    return Hunk(
        old_start=hunk.source_start,  # type: ignore[attr-defined]
        old_len=hunk.source_length,  # type: ignore[attr-defined]
        new_start=hunk.target_start,  # type: ignore[attr-defined]
        new_len=hunk.target_length,  # type: ignore[attr-defined]
        section=hunk.section_header.rstrip("\r"),  # type: ignore[attr-defined]
        lines=tuple(lines),
    )


def parse_file(changed: ChangedFile) -> ParsedFile:
    """Parse one changed file; raises PatchParseError for a malformed patch."""
    return ParsedFile(
        path=changed.path,
        status=changed.status,
        hunks=parse_patch(changed.patch, path=changed.path),
        previous_path=changed.previous_path,
        additions=changed.additions,
        deletions=changed.deletions,
    )


def parse_changed_files(
    files: Iterable[ChangedFile],
) -> tuple[list[ParsedFile], list[SkippedFile]]:
    """Parse every file; a malformed patch becomes a SkippedFile naming the problem."""
    parsed: list[ParsedFile] = []
    skipped: list[SkippedFile] = []
    for changed in files:
        try:
            parsed.append(parse_file(changed))
        except PatchParseError as exc:
            skipped.append(SkippedFile(changed.path, f"unreadable diff ({exc.reason})"))
    return parsed, skipped
