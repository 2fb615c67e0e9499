"""Keep over-long lines away from the model, and say which ones.

A PR author controls line lengths. One line of hundreds of kilobytes is
never code a reviewer reads (it is data, a bundle or an attack), costs a
chunk of its own, and is where every per-line scan (secret masking first)
spends its time. So a line longer than `MAX_LINE_CHARS` is not sent: its
text is replaced by a short note, before masking, so the line keeps its
place and number and no scan ever reads it, and it is reported (path, side,
line, length) for the summary's "Not reviewed" list.

Pure and linear: one length check per line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from worker.diff.model import Side
from worker.diff.parse import DiffLine, Hunk, ParsedFile

# Far above real code (style guides stop at 80-120, generated code rarely
# passes 1,000) and small enough that every scan of a line stays cheap.
MAX_LINE_CHARS: Final = 4000


def long_line_note(chars: int) -> str:
    """What the model reads in place of a line it is not sent."""
    return f"[line not shown: {chars:,} characters, over the {MAX_LINE_CHARS:,}-character limit]"


class LongLine(msgspec.Struct, frozen=True):
    """A diff line not sent to the model because it is too long."""

    path: str
    side: Side
    line: int
    chars: int


class CutFiles(msgspec.Struct, frozen=True):
    files: list[ParsedFile]
    long_lines: list[LongLine]


def cut_long_lines(files: Iterable[ParsedFile]) -> CutFiles:
    """The files with each over-long line's text replaced by a note, and the list of them."""
    out: list[ParsedFile] = []
    found: list[LongLine] = []
    for parsed in files:
        hunks = tuple(_cut_hunk(parsed.path, hunk, found) for hunk in parsed.hunks)
        changed = any(new is not old for new, old in zip(hunks, parsed.hunks, strict=True))
        out.append(msgspec.structs.replace(parsed, hunks=hunks) if changed else parsed)
    return CutFiles(out, found)


def cut_text(text: str, *, where: str) -> tuple[str, list[LongLine]]:
    """Free text (a PR's title or description) with over-long lines replaced, and
    the list of them; `where` ("PR description") stands for the path."""
    lines = text.split("\n")
    found: list[LongLine] = []
    for index, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            found.append(LongLine(where, "RIGHT", index + 1, len(line)))
            lines[index] = long_line_note(len(line))
    return ("\n".join(lines), found) if found else (text, found)


def _cut_hunk(path: str, hunk: Hunk, found: list[LongLine]) -> Hunk:
    if all(len(line.text) <= MAX_LINE_CHARS for line in hunk.lines):
        return hunk
    lines: list[DiffLine] = []
    for line in hunk.lines:
        if len(line.text) > MAX_LINE_CHARS:
            side: Side = "LEFT" if line.kind == "-" else "RIGHT"
            number = line.old if side == "LEFT" else line.new
            found.append(LongLine(path, side, number or 0, len(line.text)))
            line = msgspec.structs.replace(line, text=long_line_note(len(line.text)))
        lines.append(line)
    return msgspec.structs.replace(hunk, lines=tuple(lines))
