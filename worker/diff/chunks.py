"""Pack a pull request's hunks into chunks that each fit one model request.

The budget is in tokens for a chunk's own diff (its rendering by
worker.diff.render), turned into characters by the TokenEstimator. The shared
prompt prefix is not counted: it is identical in every request and served
from the provider's context cache.

Packing keeps the PR's file order (GitHub lists files by path, so related
files travel together). A file that fits in a chunk is never split: when it
does not fit in what is left of the current chunk, a new chunk starts. A file
larger than a whole chunk is packed hunk by hunk, its `FILE` line repeated in
each chunk it reaches. A hunk is cut only when it alone exceeds the budget,
at line boundaries, each piece under a header with its own correct numbers.
Every diff line lands in exactly one chunk; a chunk exceeds the budget only
when it holds one line that does.

A chunk's id is a hash of its rendered diff: the same diff (and budget and
estimator) always gives the same ids, which is what per-chunk checkpoints
of answers rely on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec

from worker.diff.model import FileStatus
from worker.diff.parse import DiffLine, Hunk, ParsedFile
from worker.diff.render import NO_NEWLINE_MARK, render_diff, render_file_header, render_hunk_header
from worker.diff.tokens import TokenEstimator


class ChunkNotSplittable(ValueError):
    """A chunk of one diff line cannot be made smaller (the line alone is too long)."""


class ChunkFile(msgspec.Struct, frozen=True, kw_only=True):
    """The hunks (or hunk pieces) of one file that a chunk carries."""

    path: str
    status: FileStatus
    hunks: tuple[Hunk, ...]
    previous_path: str | None = None


class Chunk(msgspec.Struct, frozen=True):
    """One model request's worth of diff."""

    id: str
    files: tuple[ChunkFile, ...]
    chars: int  # length of the rendered diff

    @property
    def changed_lines(self) -> int:
        return sum(hunk.changed_lines for file in self.files for hunk in file.hunks)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(file.path for file in self.files)


def line_chars(line: DiffLine) -> int:
    """len(render.render_line(line)), without building the string."""
    number = line.old if line.kind == "-" else line.new
    size = len(str(number)) + len(line.text) + 2
    return size + len(NO_NEWLINE_MARK) if line.no_newline else size


def hunk_chars(hunk: Hunk) -> int:
    return len(render_hunk_header(hunk)) + sum(line_chars(line) for line in hunk.lines)


def hunk_piece(hunk: Hunk, start: int, end: int) -> Hunk:
    """Lines start..end-1 of `hunk` as a hunk of their own, with correct numbers.

    An empty side follows the unified-diff convention: `-N,0` means "after
    old line N" (N is the last old line before the piece).
    """
    lines = hunk.lines[start:end]
    olds = [line.old for line in lines if line.old is not None]
    news = [line.new for line in lines if line.new is not None]
    old_start = olds[0] if olds else _line_before(hunk, start, old=True)
    new_start = news[0] if news else _line_before(hunk, start, old=False)
    return Hunk(old_start, len(olds), new_start, len(news), hunk.section, lines)


def _line_before(hunk: Hunk, index: int, *, old: bool) -> int:
    for line in reversed(hunk.lines[:index]):
        number = line.old if old else line.new
        if number is not None:
            return number
    start, length = (hunk.old_start, hunk.old_len) if old else (hunk.new_start, hunk.new_len)
    return start - 1 if length else start


def split_hunk(hunk: Hunk, max_chars: int) -> list[Hunk]:
    """Cut a hunk at line boundaries into pieces of at most `max_chars` rendered.

    A piece holds at least one line, so one line longer than `max_chars`
    makes a piece over the limit.
    """
    pieces: list[Hunk] = []
    start = 0
    size = 0
    # A piece's numbers are at most the hunk's last line numbers and its counts
    # at most the hunk's, so this header is at least as long as any piece's.
    widest = Hunk(
        hunk.old_start + hunk.old_len,
        hunk.old_len,
        hunk.new_start + hunk.new_len,
        hunk.new_len,
        hunk.section,
        (),
    )
    header = len(render_hunk_header(widest))
    for index, line in enumerate(hunk.lines):
        cost = line_chars(line)
        if index > start and header + size + cost > max_chars:
            pieces.append(hunk_piece(hunk, start, index))
            start, size = index, 0
        size += cost
    pieces.append(hunk_piece(hunk, start, len(hunk.lines)))
    return pieces


class _Packer:
    """Accumulates (file, hunks) entries into chunks of at most `budget` chars."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.chunks: list[Chunk] = []
        self.entries: list[tuple[ParsedFile | ChunkFile, list[Hunk]]] = []
        self.size = 0

    def add_file(self, file: ParsedFile, size: int) -> None:
        if self.entries and self.size + size > self.budget:
            self.flush()
        self.entries.append((file, list(file.hunks)))
        self.size += size

    def add_hunk(self, file: ParsedFile | ChunkFile, header: int, hunk: Hunk, size: int) -> None:
        same_file = bool(self.entries) and self.entries[-1][0] is file
        extra = size if same_file else size + header
        if self.entries and self.size + extra > self.budget:
            self.flush()
            same_file, extra = False, size + header
        if same_file:
            self.entries[-1][1].append(hunk)
        else:
            self.entries.append((file, [hunk]))
        self.size += extra

    def flush(self) -> None:
        if self.entries:
            self.chunks.append(make_chunk(_chunk_file(f, hunks) for f, hunks in self.entries))
        self.entries, self.size = [], 0


def _chunk_file(file: ParsedFile | ChunkFile, hunks: Sequence[Hunk]) -> ChunkFile:
    return ChunkFile(
        path=file.path, status=file.status, hunks=tuple(hunks), previous_path=file.previous_path
    )


def make_chunk(files: Iterable[ChunkFile]) -> Chunk:
    """A chunk with its content-hash id."""
    members = tuple(files)
    rendered = render_diff(members)
    digest = hashlib.sha256(rendered.encode("utf-8", "surrogatepass")).hexdigest()
    return Chunk(id=digest[:20], files=members, chars=len(rendered))


def chunk_files(
    files: Iterable[ParsedFile], *, budget_tokens: int, estimator: TokenEstimator
) -> list[Chunk]:
    """Pack every hunk of `files` into chunks whose diff fits `budget_tokens`."""
    budget = max(1, estimator.chars_for(budget_tokens))
    packer = _Packer(budget)
    for file in files:
        if not file.hunks:
            continue  # pure rename or mode change: nothing to review
        header = len(render_file_header(file.path, file.previous_path, file.status))
        costs = [hunk_chars(hunk) for hunk in file.hunks]
        if header + sum(costs) <= budget:
            packer.add_file(file, header + sum(costs))
            continue
        for hunk, cost in zip(file.hunks, costs, strict=True):
            if header + cost <= budget:
                packer.add_hunk(file, header, hunk, cost)
                continue
            for piece in split_hunk(hunk, budget - header):
                packer.add_hunk(file, header, piece, hunk_chars(piece))
    packer.flush()
    return packer.chunks


def split_chunk(chunk: Chunk) -> tuple[Chunk, Chunk]:
    """Two chunks of about half the size (for a provider's "context too long").

    Cuts between hunks when the chunk has several, else inside its one hunk;
    raises ChunkNotSplittable when it holds a single line.
    """
    units = [(file, hunk) for file in chunk.files for hunk in file.hunks]
    if len(units) == 1:
        file, hunk = units[0]
        if len(hunk.lines) < 2:
            raise ChunkNotSplittable(f"chunk {chunk.id} holds one line of {file.path}")
        cut = _half_point([line_chars(line) for line in hunk.lines])
        units = [(file, hunk_piece(hunk, 0, cut)), (file, hunk_piece(hunk, cut, len(hunk.lines)))]
    cut = _half_point([hunk_chars(hunk) for _, hunk in units])
    return _regroup(units[:cut]), _regroup(units[cut:])


def _half_point(sizes: Sequence[int]) -> int:
    """Index in 1..len-1 that splits `sizes` into two sums as equal as possible."""
    total = sum(sizes)
    best, best_gap, running = 1, total, 0
    for index in range(1, len(sizes)):
        running += sizes[index - 1]
        gap = abs(total - 2 * running)
        if gap < best_gap:
            best, best_gap = index, gap
    return best


def _regroup(units: Sequence[tuple[ChunkFile, Hunk]]) -> Chunk:
    files: list[ChunkFile] = []
    hunks: list[Hunk] = []
    for index, (file, hunk) in enumerate(units):
        hunks.append(hunk)
        if index + 1 == len(units) or units[index + 1][0] is not file:
            files.append(_chunk_file(file, hunks))
            hunks = []
    return make_chunk(files)
