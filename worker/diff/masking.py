"""Mask secret-looking values in diff lines before the model sees them.

Detection uses the `detect-secrets` plugins directly (`analyze_line` per
line), not `scan_line`: that one rewrites the library's global settings and
clears its caches on every call, which is slow and unsafe across threads.
The library's own false-positive heuristics (templated values, UUIDs,
sequential strings, `*_id` fields, indirect references) are applied the way
its scanner does. Two plugins are replaced: `PrivateKeyDetector` only flags
the `BEGIN ... PRIVATE KEY` words, so a PEM block's body is masked here line
by line instead; `IPPublicDetector` is left out (an IP address is not a
credential, and masking every address would blind reviews of network code).
The key shapes this product handles itself (Moonshot, Kimi Code, Anthropic,
OpenAI, GitHub, JWT) come from `worker.diff.secret_shapes`, written to match
in linear time; the detect-secrets patterns they replace backtracked.

Hostile input: callers cut lines over `long_lines.MAX_LINE_CHARS` first
(`cut_long_lines`), so every scan here reads at most that many characters
per line; the key shapes and the PEM patterns use possessive runs, the
detect-secrets patterns that backtracked are replaced, and `_mask_value`
widens a match with a loop, not a regex: the cost is linear in the diff
(bench/bench_masking.py). `mask_text` does the same for a PR's title and
description.

Only the secret's characters are replaced, with `MASK`: lines keep their
count and numbers, and each masking is reported (path, side, line) for the
summary. A line carrying detect-secrets' `pragma: allowlist secret` is left
alone, as that tool's users expect.

Speed (bench/bench_chunking.py prints it): the regex-only plugins' patterns
run in one loop, and the keyword plugin, by far the slowest, runs only on
lines containing one of its keywords.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Final

import msgspec
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters.heuristic import (
    is_indirect_reference,
    is_likely_id_string,
    is_potential_uuid,
    is_prefixed_with_dollar_sign,
    is_sequential_string,
    is_templated_secret,
)
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.keyword import DENYLIST_REGEX as KEYWORD_DENYLIST

from worker.diff.model import Side
from worker.diff.parse import DiffLine, Hunk, ParsedFile
from worker.diff.secret_shapes import KEY_SHAPES, REPLACED_PLUGINS

MASK: Final = "***masked***"
PEM_BODY: Final = "PEM private key body"

_LEFT_OUT_PLUGINS: Final = frozenset({"PrivateKeyDetector", "IPPublicDetector"}) | REPLACED_PLUGINS
_KEYWORD_PLUGIN: Final = "KeywordDetector"
# The keyword plugin's own denylist: a line without one of its words cannot match.
_KEYWORD_HINT: Final = re.compile(KEYWORD_DENYLIST, re.IGNORECASE)
_ALLOWLIST_PRAGMA: Final = re.compile(r"pragma: ?allowlist[ -]secret", re.IGNORECASE)
_PEM_BEGIN: Final = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END: Final = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_GLUED_PUNCTUATION: Final = frozenset("_-+/=")
_BASE64_RUN: Final = re.compile(r"[A-Za-z0-9+/=]{16,}")
_PEM_BODY_LINE: Final = re.compile(
    r"""^[\s"'`+]*+(?:[A-Za-z0-9+/]{16,}+={0,2}|-----END [A-Z0-9 ]*-----)(?:\\n)?["'`,;+\s)]*+$"""
)


class Masking(msgspec.Struct, frozen=True):
    """One masked line: where, and what kind of secret it looked like."""

    path: str
    side: Side
    line: int
    kind: str


class MaskedFiles(msgspec.Struct, frozen=True):
    files: list[ParsedFile]
    maskings: list[Masking]


class _Detectors(msgspec.Struct, frozen=True):
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (kind, regex) of regex-only plugins
    plugins: tuple[Any, ...]  # plugins with logic of their own (entropy, keyword)


@lru_cache(maxsize=1)
def _detectors() -> _Detectors:
    """detect-secrets' plugins, built on first use (not at import)."""
    patterns: list[tuple[str, re.Pattern[str]]] = []
    plugins: list[Any] = []
    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    for cls in classes:
        if cls.__name__ in _LEFT_OUT_PLUGINS:
            continue
        plugin = cls()
        if isinstance(plugin, RegexBasedDetector):
            patterns.extend((plugin.secret_type, regex) for regex in plugin.denylist)
        else:
            plugins.append(plugin)
    return _Detectors(tuple(patterns), tuple(plugins))


def find_secrets(text: str, *, path: str) -> list[tuple[str, str]]:
    """(value, kind) of each secret-looking value in one line of `path`."""
    if _ALLOWLIST_PRAGMA.search(text):
        return []
    detectors = _detectors()
    found: list[tuple[str, str]] = []
    # Regex plugins run their patterns here rather than through analyze_line:
    # one loop instead of ~25 method calls per line, and the whole match is
    # kept where the library reports only a capture group (GitHub tokens come
    # back as just "ghp").
    for kind, pattern in (*KEY_SHAPES, *detectors.patterns):
        for match in pattern.finditer(text):
            value = _secret_of(match)
            if not _is_false_positive(value, text, None):
                found.append((value, kind))
    for plugin in detectors.plugins:
        if type(plugin).__name__ == _KEYWORD_PLUGIN and (
            _KEYWORD_HINT.search(text) is None or is_indirect_reference(text)
        ):
            continue
        for potential in plugin.analyze_line(filename=path, line=text):
            value = potential.secret_value
            if value and not _is_false_positive(value, text, plugin):
                found.append((value, potential.type))
    return found


def _secret_of(match: re.Match[str]) -> str:
    """The last capture group when it is long enough to be the secret, else the whole match."""
    groups = [group for group in match.groups() if group]
    return groups[-1] if groups and len(groups[-1]) >= 8 else match.group(0)


def _is_false_positive(value: str, line: str, plugin: Any) -> bool:
    """detect-secrets' own heuristic filters (detect_secrets/filters/heuristic.py)."""
    return (
        is_templated_secret(value)
        or is_prefixed_with_dollar_sign(value)
        or is_sequential_string(value)
        or is_potential_uuid(value)
        or (plugin is not None and is_likely_id_string(value, line, plugin))
    )


def mask_secrets(files: Iterable[ParsedFile]) -> MaskedFiles:
    """The files with secret-looking values masked, and the list of maskings."""
    out: list[ParsedFile] = []
    maskings: list[Masking] = []
    for parsed in files:
        hunks = tuple(_mask_hunk(parsed.path, hunk, maskings) for hunk in parsed.hunks)
        changed = any(new is not old for new, old in zip(hunks, parsed.hunks, strict=True))
        out.append(msgspec.structs.replace(parsed, hunks=hunks) if changed else parsed)
    return MaskedFiles(out, maskings)


def _mask_hunk(path: str, hunk: Hunk, maskings: list[Masking]) -> Hunk:
    lines: list[DiffLine] = []
    changed = False
    for line, text, kinds in _masked_lines(path, hunk.lines):
        if kinds:
            changed = True
            side: Side = "LEFT" if line.kind == "-" else "RIGHT"
            number = line.old if side == "LEFT" else line.new
            maskings.append(Masking(path, side, number or 0, ", ".join(sorted(set(kinds)))))
            line = msgspec.structs.replace(line, text=text)
        lines.append(line)
    return msgspec.structs.replace(hunk, lines=tuple(lines)) if changed else hunk


def _masked_lines(
    path: str, lines: Sequence[DiffLine]
) -> Iterator[tuple[DiffLine, str, list[str]]]:
    """Each line with its masked text and the kinds of secret found in it."""
    # Inside a PEM block, per side: old-file lines ("-", " ") and new-file ones ("+", " ").
    in_key = {"-": False, "+": False}
    for line in lines:
        sides = ("-", "+") if line.kind == " " else (line.kind,)
        text = line.text
        kinds: list[str] = []
        begin = _PEM_BEGIN.search(text)
        if begin is not None or any(in_key[side] for side in sides):
            # A body line is base64 and little else; anything else (code that
            # merely names the marker) ends the block so real code stays visible.
            if begin is not None or _PEM_BODY_LINE.match(text):
                text, pem_found = _mask_pem(text, begin)
                if pem_found:
                    kinds.append(PEM_BODY)
                still_open = _PEM_END.search(line.text, begin.end() if begin else 0) is None
            else:
                still_open = False
            for side in sides:
                in_key[side] = still_open
        for value, kind in find_secrets(text, path=path):
            if value in text:
                text = _mask_value(text, value)
                kinds.append(kind)
        yield line, text, kinds


def _mask_value(text: str, value: str) -> str:
    """Replace `value` and the token characters glued to it (a pattern may match
    only part of a longer key; the rest must not reach the model either).

    A loop, not a regex: `[glued]*value` retried the glued run from every
    position before the value, quadratic in a long word.
    """
    out: list[str] = []
    done = 0
    found = text.find(value)
    while found >= 0:
        start, end = found, found + len(value)
        while start > done and _is_glued(text[start - 1]):
            start -= 1
        while end < len(text) and _is_glued(text[end]):
            end += 1
        out += (text[done:start], MASK)
        done = end
        found = text.find(value, done)
    return "".join(out) + text[done:]


def _is_glued(char: str) -> bool:
    return char.isalnum() or char in _GLUED_PUNCTUATION


def _mask_pem(text: str, begin: re.Match[str] | None) -> tuple[str, bool]:
    """Mask base64 runs after a BEGIN marker (or in a whole body line)."""
    start = begin.end() if begin else 0
    end_marker = _PEM_END.search(text, start)
    stop = end_marker.start() if end_marker else len(text)
    body, count = _BASE64_RUN.subn(MASK, text[start:stop])
    return text[:start] + body + text[stop:], count > 0


def mask_text(text: str, *, where: str) -> tuple[str, list[Masking]]:
    """Free text (a PR's title or description) masked like diff lines; `where` names it.

    Callers cut over-long lines first (`long_lines.cut_text`), as for diffs;
    each masking is reported with `where` as its path and the line in the text.
    """
    lines = tuple(DiffLine("+", line, None, n) for n, line in enumerate(text.split("\n"), start=1))
    maskings: list[Masking] = []
    hunk = Hunk(0, 0, 1, len(lines), "", lines)
    masked = _mask_hunk(where, hunk, maskings)
    if masked is hunk:
        return text, maskings
    return "\n".join(line.text for line in masked.lines), maskings
