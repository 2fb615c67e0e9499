"""Which grammar parses a file, and which of its node types mean what.

Grammars come from the per-language wheels on PyPI (`tree-sitter-python`, ...):
compiled into the wheel, loaded on first use, never downloaded. A file whose
extension has no grammar here is handled by `worker.context.fallback`.

Per language: node types that define something (and of which kind), import
statements, and three tree-sitter queries: definitions (`@def`), call sites
(`@name`, the called name) and identifiers (`@id`).
"""

from __future__ import annotations

import importlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Final

from tree_sitter import Language, Parser, Query

from worker.context.model import Kind


@dataclass(frozen=True, eq=False)  # hashed by identity: one instance per language
class LanguageSpec:
    """What the context stages need to know about one language's syntax tree."""

    name: str
    grammar_module: str  # the wheel's module, imported on first use

    definitions: Mapping[str, Kind]  # node type -> kind of definition
    imports: frozenset[str]  # node types of import statements
    calls: str  # query capturing the called name as @name
    identifiers: str  # query capturing every identifier as @id
    # Ruby has no import statement: `require "x"` is a call of these names.
    import_calls: frozenset[str] = field(default_factory=frozenset)
    # JS/TS: `const f = () => ...` defines `f` (a variable_declarator), and
    # `res.location = function location() {}` defines `location` (an assignment).
    extra_definitions: str = ""
    grammar_function: str = "language"  # tree_sitter_typescript has two grammars


_JS_DEFS: Final[Mapping[str, Kind]] = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "method_definition": "method",
    "class_declaration": "class",
}
_TS_DEFS: Final[Mapping[str, Kind]] = {
    **_JS_DEFS,
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "method_signature": "method",
    "abstract_method_signature": "method",
    "function_signature": "function",
    "internal_module": "module",
}
_JS_CALLS: Final = """
(call_expression function: [(identifier) @name
                            (member_expression property: (property_identifier) @name)])
(new_expression constructor: (identifier) @name)
"""
_JS_ARROWS: Final = """
(variable_declarator name: (identifier)
                     value: [(arrow_function) (function_expression)]) @def
(field_definition property: (property_identifier)
                  value: [(arrow_function) (function_expression)]) @def
(pair key: (property_identifier) value: [(arrow_function) (function_expression)]) @def
(assignment_expression left: (member_expression property: (property_identifier))
                       right: [(arrow_function) (function_expression)]) @def
"""
_TS_ARROWS: Final = """
(variable_declarator name: (identifier)
                     value: [(arrow_function) (function_expression)]) @def
(public_field_definition name: (property_identifier)
                         value: [(arrow_function) (function_expression)]) @def
(pair key: (property_identifier) value: [(arrow_function) (function_expression)]) @def
(assignment_expression left: (member_expression property: (property_identifier))
                       right: [(arrow_function) (function_expression)]) @def
"""

_PYTHON = LanguageSpec(
    name="python",
    grammar_module="tree_sitter_python",
    definitions={"function_definition": "function", "class_definition": "class"},
    imports=frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
    calls="(call function: [(identifier) @name (attribute attribute: (identifier) @name)])",
    identifiers="(identifier) @id",
)
_JAVASCRIPT = LanguageSpec(
    name="javascript",
    grammar_module="tree_sitter_javascript",
    definitions=_JS_DEFS,
    imports=frozenset({"import_statement"}),
    calls=_JS_CALLS,
    identifiers="[(identifier) (property_identifier) (shorthand_property_identifier)] @id",
    extra_definitions=_JS_ARROWS,
)
_TS_IDENTIFIERS: Final = "[(identifier) (property_identifier) (type_identifier)] @id"
_TYPESCRIPT = LanguageSpec(
    name="typescript",
    grammar_module="tree_sitter_typescript",
    grammar_function="language_typescript",
    definitions=_TS_DEFS,
    imports=frozenset({"import_statement"}),
    calls=_JS_CALLS,
    identifiers=_TS_IDENTIFIERS,
    extra_definitions=_TS_ARROWS,
)
_TSX = LanguageSpec(
    name="tsx",
    grammar_module="tree_sitter_typescript",
    grammar_function="language_tsx",
    definitions=_TS_DEFS,
    imports=frozenset({"import_statement"}),
    calls=_JS_CALLS,
    identifiers=_TS_IDENTIFIERS,
    extra_definitions=_TS_ARROWS,
)
_GO = LanguageSpec(
    name="go",
    grammar_module="tree_sitter_go",
    definitions={
        "function_declaration": "function",
        "method_declaration": "method",
        "type_spec": "type",  # refined to struct/interface by its `type` child
        "method_elem": "method",
    },
    imports=frozenset({"import_declaration"}),
    calls="""(call_expression function: [(identifier) @name
                                       (selector_expression field: (field_identifier) @name)])""",
    identifiers="[(identifier) (field_identifier) (type_identifier)] @id",
)
_JAVA = LanguageSpec(
    name="java",
    grammar_module="tree_sitter_java",
    definitions={
        "class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "class",
        "annotation_type_declaration": "interface",
        "method_declaration": "method",
        "constructor_declaration": "constructor",
    },
    imports=frozenset({"import_declaration"}),
    calls="""(method_invocation name: (identifier) @name)
             (object_creation_expression type: (type_identifier) @name)""",
    identifiers="[(identifier) (type_identifier)] @id",
)
_RUBY = LanguageSpec(
    name="ruby",
    grammar_module="tree_sitter_ruby",
    definitions={
        "method": "method",
        "singleton_method": "method",
        "class": "class",
        "module": "module",
    },
    imports=frozenset(),
    calls="(call method: (identifier) @name)",
    identifiers="[(identifier) (constant)] @id",
    import_calls=frozenset({"require", "require_relative", "load"}),
)
_RUST = LanguageSpec(
    name="rust",
    grammar_module="tree_sitter_rust",
    definitions={
        "function_item": "function",
        "function_signature_item": "method",
        "struct_item": "struct",
        "enum_item": "enum",
        "union_item": "struct",
        "trait_item": "trait",
        "impl_item": "impl",
        "mod_item": "module",
        "type_item": "type",
        "macro_definition": "function",
    },
    imports=frozenset({"use_declaration", "extern_crate_declaration"}),
    calls="""(call_expression function: [(identifier) @name
                                       (field_expression field: (field_identifier) @name)
                                       (scoped_identifier name: (identifier) @name)])
             (macro_invocation macro: (identifier) @name)""",
    identifiers="[(identifier) (field_identifier) (type_identifier)] @id",
)

_BY_EXTENSION: Final[Mapping[str, LanguageSpec]] = {
    ".py": _PYTHON,
    ".pyi": _PYTHON,
    ".js": _JAVASCRIPT,
    ".mjs": _JAVASCRIPT,
    ".cjs": _JAVASCRIPT,
    ".jsx": _JAVASCRIPT,
    ".ts": _TYPESCRIPT,
    ".mts": _TYPESCRIPT,
    ".cts": _TYPESCRIPT,
    ".tsx": _TSX,
    ".go": _GO,
    ".java": _JAVA,
    ".rb": _RUBY,
    ".rake": _RUBY,
    ".rs": _RUST,
}

# Source files without a grammar here: indexed and scoped by plain-text heuristics.
FALLBACK_EXTENSIONS: Final[frozenset[str]] = frozenset(
    {".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".php", ".kt", ".kts", ".swift",
     ".scala", ".m", ".mm", ".dart", ".lua", ".pl", ".pm", ".sh", ".bash", ".ex", ".exs",
     ".erl", ".hs", ".ml", ".clj", ".groovy", ".gradle", ".vue", ".svelte", ".zig", ".nim",
     ".r", ".jl", ".sql", ".proto"}
)  # fmt: skip


def language_for(path: str) -> LanguageSpec | None:
    """The grammar for `path` by its extension, or None (plain-text fallback)."""
    return _BY_EXTENSION.get(posixpath.splitext(path)[1].lower())


def is_source(path: str) -> bool:
    """Whether `path` is code worth indexing (a grammar or a fallback language)."""
    extension = posixpath.splitext(path)[1].lower()
    if path.endswith((".min.js", ".min.mjs", ".bundle.js")):
        return False  # minified: one enormous line, nothing a reviewer reads
    return extension in _BY_EXTENSION or extension in FALLBACK_EXTENSIONS


@cache
def grammar(spec: LanguageSpec) -> Language:
    module = importlib.import_module(spec.grammar_module)
    capsule: object = getattr(module, spec.grammar_function)()
    return Language(capsule)


@cache
def parser(spec: LanguageSpec) -> Parser:
    return Parser(grammar(spec))


@cache
def definitions_query(spec: LanguageSpec) -> Query:
    types = " ".join(f"({node_type})" for node_type in spec.definitions)
    return Query(grammar(spec), f"[{types}] @def\n{spec.extra_definitions}")


@cache
def calls_query(spec: LanguageSpec) -> Query:
    return Query(grammar(spec), spec.calls)


@cache
def identifiers_query(spec: LanguageSpec) -> Query:
    return Query(grammar(spec), spec.identifiers)


@cache
def imports_query(spec: LanguageSpec) -> Query | None:
    if not spec.imports:
        return None
    types = " ".join(f"({node_type})" for node_type in sorted(spec.imports))
    return Query(grammar(spec), f"[{types}] @import")
