"""One file's structure: its definitions, imports and call sites, and scope queries.

`outline_file` parses a file's text with its tree-sitter grammar (or the
plain-text fallback) into a `FileOutline`; the helpers below answer from an
outline alone: the chain of scopes enclosing a line, a class's members, the
import lines. `identifiers_on_lines` re-parses a file to list the names used
on given lines (only done for the files a chunk changes).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from tree_sitter import Node, QueryCursor, Tree

from worker.context import fallback
from worker.context.languages import (
    LanguageSpec,
    calls_query,
    definitions_query,
    identifiers_query,
    imports_query,
    language_for,
    parser,
)
from worker.context.model import CONTAINER_KINDS, Definition, FileOutline, Identifier, Kind

_MAX_SIGNATURE_LINES: Final = 8
# Where a definition's name is: `type` for Rust's `impl Type`, `property`/`key` for
# JavaScript's `handle = () => ...` class fields and `{ handle: () => ... }` pairs.
_NAME_FIELDS: Final = ("name", "type", "property", "key")
_GO_TYPE_KINDS: Final[dict[str, Kind]] = {"struct_type": "struct", "interface_type": "interface"}


def is_member_access(before: bytes) -> bool:
    """Whether a name follows `.`, `?.`, `&.` or `->`: an attribute of some object."""
    return before.rstrip().endswith((b".", b"->"))


def split_lines(text: str) -> list[str]:
    """Lines as the diff numbers them (split on "\\n" only, a CR stays on its line)."""
    return text.split("\n")


def parse(spec: LanguageSpec, text: str) -> Tree:
    return parser(spec).parse(text.encode("utf-8", "surrogatepass"))


def outline_file(path: str, text: str) -> FileOutline:
    """Definitions, import lines and call sites of one file."""
    spec = language_for(path)
    if spec is None:
        return fallback.outline_text(path, text)
    lines = split_lines(text)
    root = parse(spec, text).root_node
    definitions = _definitions(spec, path, root, lines)
    calls, import_lines = _calls(spec, root)
    query = imports_query(spec)
    if query is not None:
        for node in QueryCursor(query).captures(root).get("import", ()):
            end = min(node.end_point.row, node.start_point.row + 20)
            import_lines.update(range(node.start_point.row + 1, end + 2))
    return FileOutline(
        path=path,
        language=spec.name,
        definitions=definitions,
        imports=tuple(sorted(import_lines)),
        calls=calls,
    )


def _definitions(
    spec: LanguageSpec, path: str, root: Node, lines: list[str]
) -> tuple[Definition, ...]:
    nodes = QueryCursor(definitions_query(spec)).captures(root).get("def", ())
    found: list[Definition] = []
    for node in sorted(nodes, key=lambda n: (n.start_byte, -n.end_byte)):
        named = node
        if node.type == "assignment_expression":  # `obj.name = function ...`: the member names it
            named = node.child_by_field_name("left") or node
        name_node = next(
            (child for field in _NAME_FIELDS if (child := named.child_by_field_name(field))),
            None,
        )
        if name_node is None:
            continue  # anonymous: its enclosing named scope stands for it
        kind = spec.definitions.get(node.type, "function")
        type_node = node.child_by_field_name("type")
        if node.type == "type_spec" and type_node is not None:
            kind = _GO_TYPE_KINDS.get(type_node.type, "type")
        start = node.start_point.row + 1
        end = max(start, node.end_point.row + 1 - (node.end_point.column == 0))
        found.append(
            Definition(
                path=path,
                kind=kind,
                name=_text(name_node),
                start=start,
                end=end,
                signature_end=_signature_end(node, start, end, lines),
                signature=lines[start - 1].strip() if start <= len(lines) else "",
            )
        )
    return tuple(_mark_methods(found))


def _signature_end(node: Node, start: int, end: int, lines: list[str]) -> int:
    """Last line of the header: up to the body, which may open on the header's last line."""
    body = node.child_by_field_name("body")
    if body is None:
        return start
    row, column = body.start_point.row, body.start_point.column
    header_on_body_line = row < len(lines) and lines[row][:column].strip() != ""
    last = row + 1 if header_on_body_line else row
    return max(start, min(last, end, start + _MAX_SIGNATURE_LINES - 1))


def _mark_methods(definitions: list[Definition]) -> Iterable[Definition]:
    """A function whose innermost enclosing definition is a class-like one is a method."""
    stack: list[Definition] = []
    for definition in definitions:
        while stack and stack[-1].end < definition.start:
            stack.pop()
        if definition.kind == "function" and stack and stack[-1].kind in CONTAINER_KINDS:
            definition = Definition(
                path=definition.path,
                kind="method",
                name=definition.name,
                start=definition.start,
                end=definition.end,
                signature_end=definition.signature_end,
                signature=definition.signature,
            )
        stack.append(definition)
        yield definition


def _calls(spec: LanguageSpec, root: Node) -> tuple[tuple[tuple[str, int], ...], set[int]]:
    calls: list[tuple[str, int]] = []
    import_lines: set[int] = set()
    for node in QueryCursor(calls_query(spec)).captures(root).get("name", ()):
        name = _text(node)
        line = node.start_point.row + 1
        if name in spec.import_calls:
            import_lines.add(line)
        else:
            calls.append((name, line))
    calls.sort(key=lambda call: (call[1], call[0]))
    return tuple(calls), import_lines


def identifiers_on_lines(path: str, text: str, wanted: Collection[int]) -> list[Identifier]:
    """Each identifier on the `wanted` lines, in reading order."""
    if not wanted:
        return []
    spec = language_for(path)
    if spec is None:
        return fallback.identifiers_on_lines(text, wanted)
    source = text.encode("utf-8", "surrogatepass")
    cursor = QueryCursor(identifiers_query(spec))
    cursor.set_point_range((min(wanted) - 1, 0), (max(wanted), 0))
    nodes = cursor.captures(parser(spec).parse(source).root_node).get("id", ())
    found = {
        (node.start_byte, node.start_point.row + 1, _text(node))
        for node in nodes
        if node.start_point.row + 1 in wanted
    }
    return [
        Identifier(line, name, is_member_access(source[max(0, start - 8) : start]))
        for start, line, name in sorted(found)
    ]


def enclosing(outline: FileOutline, line: int) -> list[Definition]:
    """The definitions containing `line`, outermost first."""
    chain = [d for d in outline.definitions if d.start <= line <= d.end]
    chain.sort(key=lambda d: (d.start, -d.end))
    return chain


def members(outline: FileOutline, container: Definition) -> list[Definition]:
    """The definitions directly inside `container` (not inside one of its members)."""
    inside = [
        d
        for d in outline.definitions
        if container.start <= d.start and d.end <= container.end and d != container
    ]
    return [
        d
        for d in inside
        if not any(o.start <= d.start and d.end <= o.end and o != d for o in inside)
    ]


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")
