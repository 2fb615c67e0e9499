"""Where a review comment may land: the anchor map of a pull request's diff.

GitHub accepts an inline comment only on a line the diff shows
(https://docs.github.com/en/rest/pulls/comments#create-a-review-comment-for-a-pull-request):
on side RIGHT the new-file number of an added or context line, on side LEFT
the old-file number of a removed or context line. A multi-line comment
(`start_line`..`line`) must stay inside one hunk. Inside a hunk those lines
form one unbroken range per side (`new_start .. new_start+new_len-1` on
RIGHT, `old_start .. old_start+old_len-1` on LEFT), so the map stores one
range per hunk and side.

Rule for a finding that misses (`nearest`): a commentable line is its own
answer. Otherwise the closest edge of a hunk range on that side, when it is
at most `NEAREST_REACH` lines away (a model that points just past the end of
a hunk, at a line it saw as context in its head); on a tie the earlier hunk
wins. Anything farther has no anchor: the finding goes to the summary
instead of landing on an unrelated line.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Final

from worker.diff.model import Side
from worker.diff.parse import ParsedFile

NEAREST_REACH: Final = 3


class _Ranges:
    """Sorted, disjoint (first, last, hunk index) ranges of one file side."""

    __slots__ = ("firsts", "hunks", "lasts")

    def __init__(self, ranges: list[tuple[int, int, int]]) -> None:
        ranges.sort()
        self.firsts = [first for first, _, _ in ranges]
        self.lasts = [last for _, last, _ in ranges]
        self.hunks = [hunk for _, _, hunk in ranges]

    def position(self, line: int) -> int:
        """Index of the last range starting at or before `line` (-1 if none)."""
        return bisect.bisect_right(self.firsts, line) - 1


class AnchorMap:
    """Implements `worker.diff.model.AnchorLookup` for a set of parsed files."""

    def __init__(self, files: Iterable[ParsedFile]) -> None:
        self._sides: dict[tuple[str, Side], _Ranges] = {}
        for parsed in files:
            right: list[tuple[int, int, int]] = []
            left: list[tuple[int, int, int]] = []
            for index, hunk in enumerate(parsed.hunks):
                if hunk.new_len:
                    right.append((hunk.new_start, hunk.new_start + hunk.new_len - 1, index))
                if hunk.old_len:
                    left.append((hunk.old_start, hunk.old_start + hunk.old_len - 1, index))
            self._sides[(parsed.path, "RIGHT")] = _Ranges(right)
            self._sides[(parsed.path, "LEFT")] = _Ranges(left)

    def hunk_of(self, path: str, side: Side, line: int) -> int | None:
        """Index of the hunk in which `line` is commentable on `side`, else None."""
        ranges = self._sides.get((path, side))
        if ranges is None:
            return None
        at = ranges.position(line)
        if at >= 0 and line <= ranges.lasts[at]:
            return ranges.hunks[at]
        return None

    def is_commentable(self, path: str, side: Side, line: int) -> bool:
        return self.hunk_of(path, side, line) is not None

    def nearest(self, path: str, side: Side, line: int) -> int | None:
        """The commentable line closest to `line` within NEAREST_REACH, else None."""
        ranges = self._sides.get((path, side))
        if ranges is None:
            return None
        at = ranges.position(line)
        if at >= 0 and line <= ranges.lasts[at]:
            return line
        candidates: list[tuple[int, int]] = []  # (distance, line); earlier hunk first on ties
        if at >= 0:
            candidates.append((line - ranges.lasts[at], ranges.lasts[at]))
        if at + 1 < len(ranges.firsts):
            candidates.append((ranges.firsts[at + 1] - line, ranges.firsts[at + 1]))
        if not candidates:
            return None
        distance, target = min(candidates)
        return target if distance <= NEAREST_REACH else None

    def spans_one_hunk(self, path: str, side: Side, start: int, end: int) -> bool:
        """True when `start`..`end` are both commentable and inside the same hunk."""
        if start > end:
            return False
        first = self.hunk_of(path, side, start)
        return first is not None and first == self.hunk_of(path, side, end)
