"""A symbol index of one revision: definitions and call sites by name, bounded.

Built once per review over a `RepoSource` (lazily: on the first question) and
shared by every chunk. Only source files are indexed (see
`languages.is_source`), nearest the changed paths first, within
`IndexLimits`: a repository too large for them gives a partial index and a
note saying how many files were left out, never an error.

The index keeps outlines and call sites, not file texts: the few files a
snippet is cut from are read again through a small cache.
"""

from __future__ import annotations

import posixpath
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from worker.context.languages import is_source
from worker.context.model import CallSite, Definition, FileOutline
from worker.context.scopes import outline_file
from worker.context.sources import RepoSource

_TEXT_CACHE: Final = 64
_MINIFIED_LINE_CHARS: Final = 400  # average characters per line above which code is generated


class IndexLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Bounds of one index; past any of them files are skipped and counted."""

    max_files: int = 20_000
    max_file_bytes: int = 512 * 1024
    max_total_bytes: int = 64 * 1024 * 1024


class IndexStats(msgspec.Struct, frozen=True, kw_only=True):
    files_indexed: int
    files_skipped: int  # source files left out: limits, binary, unreadable, generated
    bytes_indexed: int
    definitions: int
    call_sites: int


class RepoIndex:
    """Definitions and call sites by name across a repository's source files."""

    def __init__(
        self,
        source: RepoSource,
        *,
        limits: IndexLimits | None = None,
        focus: Iterable[str] = (),
    ) -> None:
        self._source = source
        self._limits = limits or IndexLimits()
        self._focus = tuple(focus)  # changed paths: indexed first when limits bite
        self._stats: IndexStats | None = None
        self._outlines: dict[str, FileOutline] = {}
        self._extra_outlines: dict[str, FileOutline | None] = {}
        self._definitions: dict[str, list[Definition]] = defaultdict(list)
        self._calls: dict[str, list[CallSite]] = defaultdict(list)
        self._texts: OrderedDict[str, str | None] = OrderedDict()
        # Chunks may select their context in parallel threads: the caches below mutate.
        self._lock = threading.RLock()

    def build(self) -> IndexStats:
        """Index the source (once; later calls return the same stats).

        CPU-bound (seconds for a large repository): call it off the event loop.
        Safe to call from several threads; only the first one builds.
        """
        with self._lock:
            if self._stats is None:
                self._stats = self._build()
            return self._stats

    @property
    def stats(self) -> IndexStats:
        return self.build()

    def partial_note(self) -> str | None:
        stats = self.build()
        if not stats.files_skipped:
            return None
        limits = self._limits
        return (
            f"index partial: {stats.files_skipped} files skipped (limits: {limits.max_files} "
            f"files, {limits.max_file_bytes} bytes per file, {limits.max_total_bytes} bytes in "
            "total; binary and generated files); definitions and callers there are not shown"
        )

    def definitions(self, name: str) -> Sequence[Definition]:
        self.build()
        return self._definitions.get(name, ())

    def call_sites(self, name: str) -> Sequence[CallSite]:
        self.build()
        return self._calls.get(name, ())

    def outline(self, path: str) -> FileOutline | None:
        """The file's outline: from the index, else parsed now (any extension)."""
        self.build()
        if path in self._outlines:
            return self._outlines[path]
        with self._lock:
            if path not in self._extra_outlines:
                text = self.text(path)
                self._extra_outlines[path] = None if text is None else outline_file(path, text)
            return self._extra_outlines[path]

    def text(self, path: str) -> str | None:
        """The file's text at this revision (small LRU cache over the source)."""
        with self._lock:
            if path in self._texts:
                self._texts.move_to_end(path)
                return self._texts[path]
            text = self._source.read(path)
            if text is not None and len(text) > self._limits.max_file_bytes:
                text = None
            self._texts[path] = text
            if len(self._texts) > _TEXT_CACHE:
                self._texts.popitem(last=False)
            return text

    def _candidates(self) -> list[str]:
        paths = [path for path in self._source.list_files() if is_source(path)]
        focus_dirs = {posixpath.dirname(path) for path in self._focus}
        focus_tops = {path.split("/", 1)[0] for path in self._focus}

        def nearness(path: str) -> tuple[int, str]:
            if posixpath.dirname(path) in focus_dirs:
                return (0, path)
            return (1 if path.split("/", 1)[0] in focus_tops else 2, path)

        return sorted(paths, key=nearness)

    def _build(self) -> IndexStats:
        limits = self._limits
        indexed = skipped = total = calls = definitions = 0
        for path in self._candidates():
            if indexed >= limits.max_files:
                skipped += 1
                continue
            text = self._source.read(path)
            size = len(text.encode("utf-8", "surrogatepass")) if text is not None else 0
            if (
                text is None
                or size > limits.max_file_bytes
                or total + size > limits.max_total_bytes
                or size > _MINIFIED_LINE_CHARS * (text.count("\n") + 1)
            ):
                skipped += 1
                continue
            outline = outline_file(path, text)
            indexed, total = indexed + 1, total + size
            definitions += len(outline.definitions)
            calls += self._add(outline)
        return IndexStats(
            files_indexed=indexed,
            files_skipped=skipped,
            bytes_indexed=total,
            definitions=definitions,
            call_sites=calls,
        )

    def _add(self, outline: FileOutline) -> int:
        for definition in outline.definitions:
            self._definitions[definition.name].append(definition)
        # Call sites are kept by name only; the outline keeps what scopes need.
        self._outlines[outline.path] = msgspec.structs.replace(outline, calls=())
        for name, site in _sites(outline):
            self._calls[name].append(site)
        return len(outline.calls)


def _sites(outline: FileOutline) -> Iterable[tuple[str, CallSite]]:
    """Each call with its innermost enclosing definition (one sweep over sorted lines)."""
    definitions = sorted(outline.definitions, key=lambda d: (d.start, -d.end))
    stack: list[Definition] = []
    next_definition = 0
    for name, line in outline.calls:  # sorted by line
        while next_definition < len(definitions) and definitions[next_definition].start <= line:
            opened = definitions[next_definition]
            while stack and stack[-1].end < opened.start:
                stack.pop()
            stack.append(opened)
            next_definition += 1
        while stack and stack[-1].end < line:
            stack.pop()
        scope = stack[-1] if stack else None
        yield (
            name,
            CallSite(
                path=outline.path,
                line=line,
                scope_line=scope.start if scope else None,
                scope_end=scope.end if scope else None,
                scope=scope.signature if scope else None,
            ),
        )
