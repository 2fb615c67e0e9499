"""A chunk's diff as the model reads it (docs/ARCHITECTURE.md, "How a chunk's diff is shown").

    FILE src/pkg/mod.py (renamed from src/pkg/old.py)
    @@ -40,6 +40,7 @@ def handler(request):
    40     user = request.user
    41-    if user:
    41+    if user is not None:
    42+        audit(user)
    \\ No newline at end of file

A `FILE` line heads each file's hunks. Every diff line keeps its original
text after a prefix of its line number and marker: `+` and ` ` (context)
carry the NEW-file number (comment side RIGHT), `-` carries the OLD-file
number (side LEFT). Digits then exactly one marker character, so the prefix
is unambiguous whatever the text starts with and costs one or two tokens per
line, about what the bare unified diff costs. A diff line can never look
like a `FILE` or `@@` line, since it always starts with a digit.

The chunker measures chunks with these same functions, so a chunk's size is
exactly the length of its rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

from worker.diff.model import FileStatus
from worker.diff.parse import DiffLine, Hunk

NO_NEWLINE_MARK: Final = "\\ No newline at end of file\n"
_CONTROL_IN_PATH: Final = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


class FileLike(Protocol):
    """What a file header needs (ParsedFile and chunks.ChunkFile both fit)."""

    @property
    def path(self) -> str: ...
    @property
    def previous_path(self) -> str | None: ...
    @property
    def status(self) -> FileStatus: ...
    @property
    def hunks(self) -> tuple[Hunk, ...]: ...


def display_path(path: str) -> str:
    """The path on one line: git allows newlines and tabs in file names."""
    return path.translate(_CONTROL_IN_PATH)


def render_file_header(path: str, previous_path: str | None, status: FileStatus) -> str:
    note = ""
    if previous_path and previous_path != path:
        verb = "copied" if status == "copied" else "renamed"
        note = f" ({verb} from {display_path(previous_path)})"
    elif status == "added":
        note = " (new file)"
    elif status == "removed":
        note = " (deleted)"
    return f"FILE {display_path(path)}{note}\n"


def render_hunk_header(hunk: Hunk) -> str:
    section = f" {hunk.section}" if hunk.section else ""
    return f"@@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@{section}\n"


def render_line(line: DiffLine) -> str:
    number = line.old if line.kind == "-" else line.new
    rendered = f"{number}{line.kind}{line.text}\n"
    return rendered + NO_NEWLINE_MARK if line.no_newline else rendered


def render_hunk(hunk: Hunk) -> str:
    return render_hunk_header(hunk) + "".join(render_line(line) for line in hunk.lines)


def render_file(file: FileLike) -> str:
    header = render_file_header(file.path, file.previous_path, file.status)
    return header + "".join(render_hunk(hunk) for hunk in file.hunks)


def render_diff(files: Iterable[FileLike]) -> str:
    """The whole diff block of a chunk."""
    return "".join(render_file(file) for file in files)
