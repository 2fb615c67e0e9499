"""Match paths against `.kimi-review.toml` globs in time linear in the path.

Globs are gitignore-like: a pattern without "/" (other than a trailing one)
matches the file name at any depth, a leading "/" anchors it at the root,
`**/` stands for any number of directories, another `**` for any characters,
`*` and `?` do not cross "/", and a pattern naming a directory also covers
everything inside it.

Whoever writes the repository's config writes the patterns, and compiling
them to a backtracking regex let one pattern with a few `**/` take seconds
on a deep path (each `**/` retried at every "/" of the path, for every
choice of the ones before it). Here a glob is a small automaton instead:
matching keeps the SET of pattern positions reachable after each character
of the path (Thompson's construction), so the cost is at most the path's
length times the pattern's, with no retry. Transitions between sets are
memoised per glob, so the usual case is one dictionary lookup per character.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, Literal

Token = tuple[Literal["char", "one", "segment", "any", "dirs"], str]

# Memoised transitions kept per glob: a bound, so a hostile pattern cannot
# grow memory without limit (past it, steps are computed, still linearly).
_MAX_MEMO: Final = 4096


class Glob:
    """One compiled glob; `match(path)` is True when the pattern covers `path`."""

    __slots__ = ("_closures", "_memo", "_start", "_tokens", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._tokens = _tokenize(pattern)
        self._closures = [_closure(self._tokens, i) for i in range(len(self._tokens) + 1)]
        self._start = self._closures[0]
        self._memo: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def match(self, path: str) -> bool:
        states = self._start
        for char in path:
            key = (states, char)
            following = self._memo.get(key)
            if following is None:
                following = self._step(states, char)
                if len(self._memo) < _MAX_MEMO:
                    self._memo[key] = following
            states = following
            if not states:
                return False
        end = len(self._tokens)
        return end in states or _TAIL in states

    def _step(self, states: frozenset[int], char: str) -> frozenset[int]:
        """The positions reachable from `states` by reading `char`, closed under skips."""
        tokens = self._tokens
        end = len(tokens)
        out: set[int] = set()
        for state in states:
            if state == _TAIL:
                out.add(_TAIL)  # inside a matched directory: anything follows
            elif state == end:
                if char == "/":
                    out.add(_TAIL)
            elif state < 0:  # inside a `**/`: any characters, then a "/" ends it
                out.add(state)
                if char == "/":
                    out.update(self._closures[-state])
            else:
                kind, value = tokens[state]
                if (kind == "char" and char == value) or (kind == "one" and char != "/"):
                    out.update(self._closures[state + 1])
                elif (kind == "segment" and char != "/") or kind == "any":
                    out.update(self._closures[state])
        return frozenset(out)


# State numbering: i >= 0 is "before token i" (len(tokens) is "matched");
# -(i + 1) is "inside the `**/` at token i" (its closure after the "/" is i + 1);
# _TAIL is "past the matched path, inside a directory it names".
_TAIL: Final = -(10**9)


def _closure(tokens: list[Token], index: int) -> frozenset[int]:
    """Position `index` and every position reachable from it without reading."""
    out = {index}
    while index < len(tokens):
        kind = tokens[index][0]
        if kind == "dirs":
            out.add(-(index + 1))
        elif kind not in ("segment", "any"):
            break
        index += 1
        out.add(index)
    return frozenset(out)


def _tokenize(pattern: str) -> list[Token]:
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    # A pattern without "/" matches the name at any depth: as if it began with `**/`.
    tokens: list[Token] = [] if anchored else [("dirs", "")]
    index = 0
    while index < len(body):
        if body.startswith("**/", index):
            tokens.append(("dirs", ""))
            index += 3
        elif body.startswith("**", index):
            tokens.append(("any", ""))
            index += 2
        else:
            char = body[index]
            kinds: dict[str, Token] = {"*": ("segment", ""), "?": ("one", "")}
            tokens.append(kinds.get(char, ("char", char)))
            index += 1
    return tokens


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> Glob:
    """The compiled glob for `pattern` (cached: repo configs repeat them)."""
    return Glob(pattern)
