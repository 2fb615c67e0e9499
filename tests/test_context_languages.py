"""Targeted context in each language with a grammar: scope, definition, callers.

One realistic three-file repository per language (tests/support/context_cases):
a one-line change deep inside a long method must bring that method's first
line (80+ lines above the hunk), the definition of the function the changed
line calls (another file), and the method's caller (a third file), never a
line of the diff itself, within the budget.
"""

from __future__ import annotations

import pytest

from tests.support.context_cases import CASES, LanguageCase, case_change, line_of
from worker.context import ContextBlock, MappingSource, RepoIndex, context_for_chunk
from worker.context.render import snippet_chars
from worker.context.scopes import outline_file
from worker.diff.chunks import ChunkFile


def _why_of(block: ContextBlock, path: str, line: int) -> str:
    """The `why` of the snippet showing (path, line); fails when none does."""
    for snippet in block.snippets:
        if snippet.path == path and any(number == line for number, _ in snippet.lines):
            return snippet.why
    shown = [(s.path, s.start, s.end, s.why) for s in block.snippets]
    raise AssertionError(f"{path}:{line} not in the context; snippets: {shown}")


def _diff_lines(chunk_file: ChunkFile) -> set[tuple[str, int]]:
    return {
        (chunk_file.path, line.new)
        for hunk in chunk_file.hunks
        for line in hunk.lines
        if line.new is not None
    }


@pytest.fixture(params=CASES, ids=[case.language for case in CASES])
def case(request: pytest.FixtureRequest) -> LanguageCase:
    language_case: LanguageCase = request.param
    return language_case


def test_changed_line_gets_its_enclosing_method_first_line_far_above(case: LanguageCase) -> None:
    chunk_file, changed = case_change(case)
    block = context_for_chunk([chunk_file], RepoIndex(MappingSource(case.files)))
    text = case.files[case.changed_path]
    method_line = line_of(text, case.method_line)
    assert changed - method_line > 80
    assert f"`{case.method}` of line {changed}" in _why_of(block, case.changed_path, method_line)


def test_definition_of_a_name_on_the_changed_line_comes_from_another_file(
    case: LanguageCase,
) -> None:
    chunk_file, changed = case_change(case)
    block = context_for_chunk([chunk_file], RepoIndex(MappingSource(case.files)))
    helper_line = line_of(case.files[case.helper_path], case.helper_line)
    why = _why_of(block, case.helper_path, helper_line)
    assert f"definition of `{case.helper}` used at {case.changed_path}:{changed}" in why


def test_callers_of_the_changed_method_in_other_files_are_shown(case: LanguageCase) -> None:
    chunk_file, _ = case_change(case)
    block = context_for_chunk([chunk_file], RepoIndex(MappingSource(case.files)))
    call_line = line_of(case.files[case.caller_path], case.caller_line)
    assert f"caller of `{case.method}`" in _why_of(block, case.caller_path, call_line)


def test_no_diff_line_and_no_line_twice_and_within_budget(case: LanguageCase) -> None:
    chunk_file, _ = case_change(case)
    block = context_for_chunk([chunk_file], RepoIndex(MappingSource(case.files)))
    shown = [(snippet.path, number) for snippet in block.snippets for number, _ in snippet.lines]
    assert len(shown) == len(set(shown))
    assert not set(shown) & _diff_lines(chunk_file)
    assert sum(snippet_chars(snippet) for snippet in block.snippets) <= block.budget_chars


def test_snippet_lines_are_the_head_revision_text(case: LanguageCase) -> None:
    chunk_file, _ = case_change(case)
    block = context_for_chunk([chunk_file], RepoIndex(MappingSource(case.files)))
    for snippet in block.snippets:
        lines = case.files[snippet.path].split("\n")
        assert all(lines[number - 1] == text for number, text in snippet.lines)


def test_outline_names_the_method_and_its_container(case: LanguageCase) -> None:
    outline = outline_file(case.changed_path, case.files[case.changed_path])
    kinds = {definition.name: definition.kind for definition in outline.definitions}
    assert kinds[case.method] == "method"
    assert outline.imports, "the service file's import line is found"


def test_arrow_functions_in_class_fields_and_objects_are_definitions() -> None:
    source = (
        "class Form {\n  handle = (event) => {\n    submit(event);\n  };\n}\n"
        "const api = { fetchUser: (id) => get(id) };\n"
    )
    for path in ("a.js", "a.ts"):
        outline = outline_file(path, source)
        kinds = {(d.name, d.kind, d.start) for d in outline.definitions}
        assert ("handle", "method", 2) in kinds
        assert ("fetchUser", "function", 6) in kinds


def test_functions_assigned_to_members_are_definitions() -> None:
    """Express-style `res.location = function location(url) {...}` had no scope at all."""
    source = (
        "var res = module.exports = {};\n"
        "res.location = function location(url) {\n  return url;\n};\n"
        "Cart.prototype.total = (items) => items.length;\n"
        "exports.parse = function (text) {\n  return text;\n};\n"
    )
    for path in ("a.js", "a.ts"):
        outline = outline_file(path, source)
        kinds = {(d.name, d.kind, d.start, d.end) for d in outline.definitions}
        assert ("location", "function", 2, 4) in kinds
        assert ("total", "function", 5, 5) in kinds
        assert ("parse", "function", 6, 8) in kinds


def test_every_grammar_loads_from_its_wheel_and_every_query_compiles() -> None:
    from worker.context import languages

    for extension in (".py", ".js", ".ts", ".tsx", ".go", ".java", ".rb", ".rs"):
        spec = languages.language_for(f"x{extension}")
        assert spec is not None
        languages.definitions_query(spec)
        languages.calls_query(spec)
        languages.identifiers_query(spec)
        languages.imports_query(spec)
    tsx = outline_file("c.tsx", "export function Card(p: P) {\n  return <div>{p.x}</div>;\n}\n")
    assert [d.name for d in tsx.definitions] == ["Card"]
