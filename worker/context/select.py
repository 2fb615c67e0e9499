"""Choose one chunk's context within its budget: `context_for_chunk`.

The budget is `ContextBudget.chars_for(diff characters)` characters of
rendered snippets. Items come tier by tier (see `worker.context.items`); each
loses the lines the chunk's diff shows and the lines an earlier snippet
shows, so nothing is ever repeated; an item that no longer fits is cut to the
lines that do, or left out and counted in a note. Snippets that end up
adjacent in the same file are merged into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from worker.context import items
from worker.context.index import RepoIndex
from worker.context.model import ContextBlock, ContextBudget, Snippet
from worker.context.render import snippet_chars
from worker.diff.chunks import ChunkFile
from worker.diff.filters import is_credentials_file
from worker.diff.masking import mask_secrets
from worker.diff.parse import DiffLine, Hunk, ParsedFile
from worker.diff.render import render_diff


def changed_lines(hunk: Hunk) -> list[int]:
    """New-file lines a hunk changes: its added lines, or for a pure removal the lines around it."""
    added = [line.new for line in hunk.lines if line.kind == "+" and line.new is not None]
    if added:
        return added
    around: set[int] = set()
    previous: int | None = None
    for position, line in enumerate(hunk.lines):
        if line.kind != "-":
            previous = line.new if line.new is not None else previous
            continue
        following = (later.new for later in hunk.lines[position + 1 :] if later.new is not None)
        around.update(n for n in (previous, next(following, None)) if n is not None)
    return sorted(around) or [max(1, hunk.new_start)]


def _diff_lines(chunk_files: Iterable[ChunkFile]) -> set[tuple[str, int]]:
    """(path, new line) of every line the diff itself shows (added and context)."""
    return {
        (file.path, line.new)
        for file in chunk_files
        for hunk in file.hunks
        for line in hunk.lines
        if line.new is not None
    }


def _targets(chunk_files: Sequence[ChunkFile], index: RepoIndex) -> list[items.Target]:
    targets = []
    for file in chunk_files:
        if file.status == "removed":
            continue  # no head version to explain
        outline, text = index.outline(file.path), index.text(file.path)
        if outline is None or text is None:
            continue
        changed = sorted({n for hunk in file.hunks for n in changed_lines(hunk)})
        targets.append(items.Target(file.path, outline, text, tuple(changed)))
    return targets


class _Packer:
    """Turns items into snippets while the budget lasts."""

    def __init__(self, index: RepoIndex, budget: int, shown: set[tuple[str, int]]) -> None:
        self.index = index
        self.budget = budget
        self.used = 0
        self.seen = set(shown)
        self.snippets: list[Snippet] = []
        self.left_out = 0
        self.masked_lines = 0

    def _masked(self, path: str, lines: tuple[tuple[int, str], ...]) -> tuple[tuple[int, str], ...]:
        """Secret-looking values masked exactly as in the diff (worker.diff.masking)."""
        hunk = Hunk(
            old_start=0,
            old_len=0,
            new_start=lines[0][0],
            new_len=len(lines),
            section="",
            lines=tuple(DiffLine("+", text, None, number) for number, text in lines),
        )
        masked = mask_secrets([ParsedFile(path=path, status="modified", hunks=(hunk,))])
        if not masked.maskings:
            return lines
        self.masked_lines += len(masked.maskings)
        return tuple((line.new or 0, line.text) for line in masked.files[0].hunks[0].lines)

    def add(self, item: items.Item, ceiling: int) -> None:
        text = self.index.text(item.path)
        if text is None:
            return
        file_lines = text.split("\n")
        lines = tuple(
            (n, file_lines[n - 1])
            for n in item.numbers
            if 1 <= n <= len(file_lines) and (item.path, n) not in self.seen
        )
        if not lines or is_credentials_file(item.path):
            return
        lines = self._masked(item.path, lines)
        snippet = Snippet(item.path, lines, item.why)
        cost = snippet_chars(snippet)
        room = min(ceiling, self.budget) - self.used
        while cost > room and len(snippet.lines) > 1:
            keep = max(1, min(len(snippet.lines) - 1, len(snippet.lines) * room // cost))
            snippet = Snippet(item.path, _cut(snippet.lines, keep, item.focus), item.why)
            cost = snippet_chars(snippet)
        if cost > room:
            self.left_out += 1
            return
        self.used += cost
        self.seen.update((item.path, n) for n, _ in snippet.lines)
        self.snippets.append(snippet)


def _cut(
    lines: tuple[tuple[int, str], ...], keep: int, focus: int | None
) -> tuple[tuple[int, str], ...]:
    """The `keep` lines nearest `focus` (a change inside a long body), else the first ones."""
    if focus is None:
        return lines[:keep]  # a scope's or a definition's first lines say the most
    nearest = sorted(lines, key=lambda line: (abs(line[0] - focus), line[0]))[:keep]
    return tuple(sorted(nearest))


def _merge_adjacent(snippets: list[Snippet]) -> list[Snippet]:
    """Join a snippet to an earlier one of the same file that ends right before it."""
    merged: list[Snippet] = []
    for snippet in snippets:
        for position, earlier in enumerate(merged):
            if earlier.path == snippet.path and earlier.end + 1 == snippet.start:
                why = earlier.why if earlier.why == snippet.why else f"{earlier.why}; {snippet.why}"
                merged[position] = Snippet(earlier.path, earlier.lines + snippet.lines, why)
                break
        else:
            merged.append(snippet)
    return merged


def context_for_chunk(
    chunk_files: Sequence[ChunkFile],
    index: RepoIndex,
    *,
    budget: ContextBudget | None = None,
    diff_chars: int | None = None,
    budget_chars: int | None = None,
) -> ContextBlock:
    """The head revision's code that explains `chunk_files`' hunks, within the budget.

    The budget is `budget_chars` when given, else `budget.chars_for(diff_chars)`;
    `diff_chars` is the length of the chunk's rendered diff (`Chunk.chars`),
    computed when not given.
    """
    limits = budget or ContextBudget()
    if budget_chars is None:
        size = diff_chars if diff_chars is not None else len(render_diff(chunk_files))
        budget_chars = limits.chars_for(size)
    allowed = max(0, budget_chars)
    notes: list[str] = []
    partial = index.partial_note()
    if partial:
        notes.append(partial)
    shown = _diff_lines(chunk_files)
    targets = _targets(chunk_files, index)
    in_diff = {
        definition.name
        for target in targets
        for definition in target.outline.definitions
        if (target.path, definition.start) in shown
    }
    packer = _Packer(index, allowed, shown)
    scopes_ceiling = int(allowed * limits.body_share)
    tiers = (
        (items.signatures(targets), allowed),
        (items.bodies(targets, limits), scopes_ceiling),
        (items.definitions(targets, index, limits, in_diff), allowed),
        (items.callers(targets, index, limits, notes), allowed),
        (items.outlines(targets, limits), allowed),
        (items.imports(targets, limits), allowed),
    )
    for tier, ceiling in tiers:
        for item in tier:
            packer.add(item, ceiling)
    if packer.masked_lines:
        notes.append(f"secret-looking values masked on {packer.masked_lines} context lines")
    if packer.left_out:
        notes.append(f"{packer.left_out} context items left out: budget of {allowed} characters")
    return ContextBlock(
        snippets=tuple(_merge_adjacent(packer.snippets)), notes=tuple(notes), budget_chars=allowed
    )
