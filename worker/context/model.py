"""Types shared by the context stages: definitions, call sites, snippets, budgets.

Line numbers are 1-based lines of the head revision's file, the numbering the
diff's `+` and context lines use, so a snippet line and a diff line with the
same (path, number) are the same line.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

import msgspec

Kind = Literal[
    "function",
    "method",
    "constructor",
    "class",
    "interface",
    "struct",
    "enum",
    "trait",
    "impl",
    "module",
    "type",
]
CONTAINER_KINDS: Final[frozenset[str]] = frozenset(
    {"class", "interface", "struct", "enum", "trait", "impl", "module", "type"}
)
CALLABLE_KINDS: Final[frozenset[str]] = frozenset({"function", "method", "constructor"})


class Definition(msgspec.Struct, frozen=True, gc=False):
    """A named function, method or type in one file."""

    path: str
    kind: Kind
    name: str
    start: int  # first line (the `def`/`func`/`class` line, after decorators)
    end: int  # last line
    signature_end: int  # last line of the signature (before the body), >= start
    signature: str  # the first line's text, stripped

    @property
    def is_container(self) -> bool:
        return self.kind in CONTAINER_KINDS

    @property
    def is_callable(self) -> bool:
        return self.kind in CALLABLE_KINDS


class CallSite(msgspec.Struct, frozen=True, gc=False):
    """A call of a function or method by name, with the scope that makes it."""

    path: str
    line: int
    scope_line: int | None  # first line of the innermost enclosing definition
    scope_end: int | None
    scope: str | None  # that line's text, stripped


class Identifier(NamedTuple):
    """A name used on a line; `member` when it follows `.` or `->` (an attribute)."""

    line: int
    name: str
    member: bool


class FileOutline(msgspec.Struct, frozen=True):
    """What one file defines, imports and calls (calls: (name, line) pairs)."""

    path: str
    language: str  # a grammar's name, or "text" for the plain-text fallback
    definitions: tuple[Definition, ...]
    imports: tuple[int, ...]  # lines holding import statements
    calls: tuple[tuple[str, int], ...] = ()


class Snippet(msgspec.Struct, frozen=True):
    """Numbered lines of one file (gaps allowed, in order) and why they are shown."""

    path: str
    lines: tuple[tuple[int, str], ...]
    why: str

    @property
    def start(self) -> int:
        return self.lines[0][0]

    @property
    def end(self) -> int:
        return self.lines[-1][0]


class ContextBlock(msgspec.Struct, frozen=True):
    """One chunk's context: snippets in priority order, plus notes on what is missing."""

    snippets: tuple[Snippet, ...] = ()
    notes: tuple[str, ...] = ()
    budget_chars: int = 0

    @property
    def empty(self) -> bool:
        return not self.snippets and not self.notes


class ContextBudget(msgspec.Struct, frozen=True, kw_only=True):
    """How much context one chunk may get, and how large each kind of item may be."""

    ratio: float = 2.0  # rendered snippet characters per character of the chunk's diff
    max_chars: int = 16_000  # absolute cap, whatever the diff's size
    min_chars: int = 3_000  # a one-line change still gets its enclosing function
    body_share: float = 0.6  # scopes and bodies leave the rest for definitions and callers
    body_lines: int = 60  # enclosing function shown whole up to this many lines
    definition_lines: int = 25  # a used definition shown up to this many lines
    outline_lines: int = 40  # class outline: member signatures
    import_lines: int = 30
    callers_per_function: int = 4
    caller_lines: int = 1  # lines shown around a call site, each side
    names_per_chunk: int = 24  # distinct names looked up
    max_candidates: int = 6  # a name defined in more places is too ambiguous to look up

    def chars_for(self, diff_chars: int) -> int:
        scaled = max(self.min_chars, int(diff_chars * self.ratio))
        return max(0, min(self.max_chars, scaled))
