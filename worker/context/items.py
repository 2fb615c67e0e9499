"""Candidate context items for a chunk's changed lines, one generator per priority tier.

Each tier yields `Item`s (a file's line numbers and why they matter) in a
deterministic order; `worker.context.select` takes them tier by tier until
the budget is spent, dropping lines the diff or an earlier item shows.
Tiers, most useful first: the enclosing scopes' signatures, the enclosing
function's body, definitions of names the changed lines use, callers of the
functions they change, the enclosing class's outline, the file's imports.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from worker.context.index import RepoIndex
from worker.context.model import CallSite, ContextBudget, Definition, FileOutline
from worker.context.scopes import enclosing, identifiers_on_lines, members

_CONSTRUCTORS: Final = frozenset({"__init__", "constructor", "initialize"})
_TEST_DIRECTORIES: Final = frozenset({"test", "tests", "spec", "specs", "__tests__", "testing"})
_MAX_SITES_RANKED: Final = 200  # call sites read and ranked per function, at most
# Names too common to look up (builtins, receivers, everyday methods and variables): their
# definitions would be unrelated ones that share the name. One or two characters: a local.
_COMMON: Final = frozenset(
    """
    self cls this super Self None True False nil null undefined true false NaN
    print len str int float bool bytes dict list set tuple frozenset object type range
    isinstance issubclass getattr setattr hasattr delattr callable iter next repr hash id
    min max sum abs any all zip map filter sorted reversed enumerate open format vars dir
    Exception ValueError TypeError KeyError IndexError RuntimeError AttributeError OSError
    NotImplementedError StopIteration AssertionError
    get set add append extend insert remove pop push clear update copy items keys values
    join split strip lstrip rstrip replace lower upper startswith endswith find index count
    sort reverse read write close flush run call apply bind then catch finally resolve reject
    length size toString valueOf equals hashCode forEach indexOf includes slice splice concat
    console log warn error info debug Object Array String Number Boolean Promise JSON Math
    Date Error Map Set require module exports document window async await
    err ctx fmt make cap new string error byte rune uint uint8 int64 int32 float64 any
    Integer Long Double Boolean Character List ArrayList HashMap Override System out println
    puts attr_accessor attr_reader attr_writer private public protected include extend
    Ok Err Some Vec Box Option Result unwrap expect clone iter collect into as_ref to_string
    to_owned vec assert assert_eq assert_ne panic unwrap_or is_some is_none is_ok is_err
    value values key name data result results item items args kwargs options config
    """.split()  # noqa: SIM905 - a word list reads better than 200 quoted strings
)


def is_common_name(name: str) -> bool:
    return len(name) < 3 or name in _COMMON


@dataclass(frozen=True)
class Target:
    """A file the chunk changes: its head-revision outline and changed lines."""

    path: str
    outline: FileOutline
    text: str
    changed: tuple[int, ...]  # new-file lines added, or next to a removal


@dataclass(frozen=True)
class Item:
    path: str
    numbers: tuple[int, ...]
    why: str
    focus: int | None = None  # cut to fit: keep the lines nearest this one (else the first)


def _innermost(target: Target, line: int, *, callable_only: bool) -> Definition | None:
    for definition in reversed(enclosing(target.outline, line)):
        if definition.is_callable or not callable_only:
            return definition
    return None


def _changed_by_scope(
    target: Target, *, callable_only: bool
) -> Iterator[tuple[Definition, list[int]]]:
    """Each innermost (callable) scope holding changed lines, with those lines."""
    grouped: dict[Definition, list[int]] = {}
    for line in target.changed:
        scope = _innermost(target, line, callable_only=callable_only)
        if scope is not None:
            grouped.setdefault(scope, []).append(line)
    yield from grouped.items()


def signatures(targets: list[Target]) -> Iterator[Item]:
    for target in targets:
        seen: set[Definition] = set()
        for line in target.changed:
            for scope in enclosing(target.outline, line):
                if scope not in seen:
                    seen.add(scope)
                    numbers = tuple(range(scope.start, scope.signature_end + 1))
                    why = f"enclosing {scope.kind} `{scope.name}` of line {line}"
                    yield Item(target.path, numbers, why)


def bodies(targets: list[Target], budget: ContextBudget) -> Iterator[Item]:
    for target in targets:
        for scope, lines in _changed_by_scope(target, callable_only=True):
            start, end = scope.start, scope.end
            if end - start + 1 > budget.body_lines:
                half = budget.body_lines // 2  # a long function: the part around the change
                start, end = max(start, lines[0] - half), min(end, lines[-1] + half)
            why = f"body of {scope.kind} `{scope.name}`, which holds line {lines[0]}"
            yield Item(target.path, tuple(range(start, end + 1)), why, focus=lines[0])


def _outline_numbers(outline: FileOutline | None, container: Definition, limit: int) -> list[int]:
    numbers = list(range(container.start, container.signature_end + 1))
    if outline is not None:
        numbers += [member.start for member in members(outline, container)]
    return sorted(set(numbers))[:limit]


def _imports_text(outline: FileOutline | None, text: str | None) -> str:
    if outline is None or text is None:
        return ""
    lines = text.split("\n")
    return "\n".join(lines[n - 1] for n in outline.imports if n <= len(lines))


def _nearness(path: str, imports_text: str, other: str) -> int:
    """How close `other` is to `path`: 0 same file, 1 same directory, 2 imported, 3 elsewhere.

    `imports_text` is `path`'s import lines; they import `other` when they
    name its module (file stem, or directory for `__init__.py` and kin).
    """
    if other == path:
        return 0
    if posixpath.dirname(other) == posixpath.dirname(path):
        return 1
    stem = posixpath.splitext(posixpath.basename(other))[0]
    if stem in {"__init__", "index", "mod", "lib", "main"}:
        stem = posixpath.basename(posixpath.dirname(other))
    return 2 if stem and re.search(rf"\b{re.escape(stem)}\b", imports_text) else 3


def _definition_lines(index: RepoIndex, definition: Definition, budget: ContextBudget) -> list[int]:
    if definition.is_container:
        outline = index.outline(definition.path)
        return _outline_numbers(outline, definition, budget.definition_lines)
    last = min(definition.end, definition.start + budget.definition_lines - 1)
    return list(range(definition.start, last + 1))


def definitions(
    targets: list[Target], index: RepoIndex, budget: ContextBudget, in_diff: set[str]
) -> Iterator[Item]:
    """Where the names used on changed lines are defined (unambiguous or nearby ones).

    A name defined in several places, or used as an attribute (`x.name`: the
    object's type is unknown), is looked up only in files near the changed one.
    """
    looked_up: set[str] = set()
    for target in targets:
        imports_text = _imports_text(target.outline, target.text)
        own = {d.name for line in target.changed for d in enclosing(target.outline, line)}
        for line, name, member in identifiers_on_lines(target.path, target.text, target.changed):
            if name in looked_up or name in in_diff or name in own or is_common_name(name):
                continue
            if len(looked_up) >= budget.names_per_chunk:
                return
            looked_up.add(name)
            found = index.definitions(name)
            if not found or len(found) > budget.max_candidates:
                continue  # unknown, or too ambiguous to guess which one is meant
            ranked = sorted(
                (_nearness(target.path, imports_text, d.path), d.path, d.start, d) for d in found
            )
            if len(found) > 1 or member:
                ranked = [entry for entry in ranked if entry[0] < 3][:2]
            for *_, definition in ranked:
                why = f"definition of `{name}` used at {target.path}:{line}"
                yield Item(
                    definition.path, tuple(_definition_lines(index, definition, budget)), why
                )


def is_test_path(path: str) -> bool:
    """Tests show how code is used, but a caller in the product says more: theirs come last."""
    name = posixpath.basename(path)
    directories = path.split("/")[:-1]
    return (
        any(part in _TEST_DIRECTORIES for part in directories)
        or name.startswith("test_")
        or posixpath.splitext(name)[0].endswith(("_test", "_spec", ".test", ".spec", "Test"))
    )


def _called_name(target: Target, scope: Definition) -> str:
    """The name callers use: a constructor is called by its class's name."""
    if scope.name in _CONSTRUCTORS:
        chain = enclosing(target.outline, scope.start)
        containers = [d for d in chain if d.is_container]
        if containers:
            return containers[-1].name
    return scope.name


def _caller_sites(target: Target, scope: Definition, name: str, index: RepoIndex) -> list[CallSite]:
    """Call sites of `name` outside `scope`, nearest first; only near ones if the name is shared."""
    shared = len(index.definitions(name)) > 1
    ranked = []
    for site in index.call_sites(name)[:_MAX_SITES_RANKED]:
        if site.path == target.path and scope.start <= site.line <= scope.end:
            continue  # recursion, or the changed function itself
        caller_imports = _imports_text(index.outline(site.path), index.text(site.path))
        nearness = _nearness(site.path, caller_imports, target.path)
        if nearness < 3 or not shared:
            ranked.append((nearness, is_test_path(site.path), site.path, site.line, site))
    return [entry[-1] for entry in sorted(ranked)]


def callers(
    targets: list[Target], index: RepoIndex, budget: ContextBudget, notes: list[str]
) -> Iterator[Item]:
    """Call sites anywhere in the repository of the functions the changed lines are in."""
    for target in targets:
        for scope, lines in _changed_by_scope(target, callable_only=True):
            name = _called_name(target, scope)
            if len(index.definitions(name)) > budget.max_candidates:
                notes.append(f"callers of `{name}` not shown: too many definitions share its name")
                continue
            sites = _caller_sites(target, scope, name, index)
            if len(sites) > budget.callers_per_function:
                notes.append(
                    f"`{name}` has {len(sites)} call sites; {budget.callers_per_function} shown"
                )
            for site in sites[: budget.callers_per_function]:
                low, high = site.line - budget.caller_lines, site.line + budget.caller_lines
                if site.scope_line is not None and site.scope_end is not None:
                    low, high = max(low, site.scope_line), min(high, site.scope_end)
                numbers = set(range(low, high + 1))
                if site.scope_line is not None:
                    numbers.add(site.scope_line)
                why = f"caller of `{name}` (changed at {target.path}:{lines[0]})"
                yield Item(site.path, tuple(sorted(numbers)), why)


def outlines(targets: list[Target], budget: ContextBudget) -> Iterator[Item]:
    for target in targets:
        for _, lines in _changed_by_scope(target, callable_only=False):
            chain = [d for d in enclosing(target.outline, lines[0]) if d.is_container]
            if not chain:
                continue
            owner = chain[-1]
            numbers = _outline_numbers(target.outline, owner, budget.outline_lines)
            why = f"outline of {owner.kind} `{owner.name}` (member signatures)"
            yield Item(target.path, tuple(numbers), why)


def imports(targets: list[Target], budget: ContextBudget) -> Iterator[Item]:
    for target in targets:
        numbers = target.outline.imports[: budget.import_lines]
        if numbers:
            yield Item(target.path, tuple(numbers), f"imports of {target.path}")
