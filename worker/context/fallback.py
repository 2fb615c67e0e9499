"""Plain-text structure for languages without a grammar here (C, PHP, Kotlin, ...).

Heuristics, not parsing: a definition is a line that looks like a function
signature (a name, an opening parenthesis, no `;`, not a control keyword) or
a `class`/`struct`/... header; it ends where its braces balance, or, with no
brace, where indentation comes back to its level. Imports are `#include`,
`import`, `use`, `using`, `require` lines. Good enough to name the function a
changed line sits in; wrong answers cost only a less useful snippet.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

from worker.context.model import Definition, FileOutline, Identifier, Kind

_KEYWORDS: Final = frozenset(
    """
    if else for while switch case return do catch try sizeof elif foreach until unless
    new delete throw typeof await yield and or not in is defined
    """.split()  # noqa: SIM905 - a word list reads better than quoted strings
)
_SIGNATURE: Final = re.compile(
    r"^(?P<indent>\s*)(?:[\w$:<>\[\],*&~.]+\s+)*[*&]*(?P<name>[A-Za-z_$][\w$]*)\s*\((?P<rest>[^;]*)$"
)
_CONTAINER: Final = re.compile(
    r"^(?P<indent>\s*)(?:(?:public|private|protected|abstract|final|static|export|data|sealed)\s+)*"
    r"(?P<kind>class|struct|interface|enum|trait|impl|module|namespace|object|protocol)\s+"
    r"(?P<name>[A-Za-z_$][\w$]*)"
)
_IMPORT: Final = re.compile(
    r"^\s*(?:#\s*include|#\s*import|import|from\s+\S+\s+import|using|use|require(?:_once)?|"
    r"include(?:_once)?|library)\b"
)
_CALL: Final = re.compile(r"\b([A-Za-z_$][\w$]*)\s*\(")
_WORD: Final = re.compile(r"[A-Za-z_$][\w$]*")
_STRING: Final = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")
_CONTAINER_KIND: Final[dict[str, Kind]] = {
    "class": "class",
    "struct": "struct",
    "interface": "interface",
    "protocol": "interface",
    "enum": "enum",
    "trait": "trait",
    "impl": "impl",
}


def _strip_code(line: str) -> str:
    """The line without string literals and `//` comments (crude, on purpose)."""
    return _STRING.sub('""', line).split("//", 1)[0]


def _header(line: str) -> tuple[Kind, str, int] | None:
    code = _strip_code(line)
    if not code.strip() or code.lstrip().startswith(("#", "*", "/*")):
        return None
    container = _CONTAINER.match(code)
    if container:
        kind = _CONTAINER_KIND.get(container["kind"], "module")
        return kind, container["name"], len(container["indent"])
    signature = _SIGNATURE.match(code)
    if signature is None or signature["name"] in _KEYWORDS:
        return None
    if "=" in code.split("(", 1)[0]:
        return None  # `x = f(...)`: a call, not a definition
    return "function", signature["name"], len(signature["indent"])


def _end(lines: list[str], index: int, indent: int) -> int:
    """0-based index of a definition's last line: braces balance, else indentation returns."""
    depth, opened = 0, False
    for position in range(index, min(len(lines), index + 4000)):
        code = _strip_code(lines[position])
        depth += code.count("{") - code.count("}")
        opened = opened or "{" in code
        if opened and depth <= 0:
            return position
        if not opened and position > index + 2:
            break  # no brace near the header: an indentation-based language
    last = index
    for position in range(index + 1, len(lines)):
        text = lines[position]
        if not text.strip():
            continue
        if len(text) - len(text.lstrip()) <= indent:
            break
        last = position
    return last


def outline_text(path: str, text: str) -> FileOutline:
    lines = text.split("\n")
    definitions: list[Definition] = []
    imports: list[int] = []
    calls: list[tuple[str, int]] = []
    for index, line in enumerate(lines):
        if _IMPORT.match(line):
            imports.append(index + 1)
            continue
        header = _header(line)
        if header is not None:
            kind, name, indent = header
            end = _end(lines, index, indent) + 1
            definitions.append(
                Definition(
                    path=path,
                    kind=kind,
                    name=name,
                    start=index + 1,
                    end=end,
                    signature_end=index + 1,
                    signature=line.strip(),
                )
            )
            continue
        for match in _CALL.finditer(_strip_code(line)):
            if match[1] not in _KEYWORDS:
                calls.append((match[1], index + 1))
    return FileOutline(
        path=path,
        language="text",
        definitions=tuple(definitions),
        imports=tuple(imports),
        calls=tuple(calls),
    )


def identifiers_on_lines(text: str, wanted: Collection[int]) -> list[Identifier]:
    lines = text.split("\n")
    found: list[Identifier] = []
    for line in sorted(wanted):
        if 1 <= line <= len(lines):
            code = _strip_code(lines[line - 1])
            for match in _WORD.finditer(code):
                if match[0] not in _KEYWORDS:
                    member = code[: match.start()].rstrip().endswith((".", "->"))
                    found.append(Identifier(line, match[0], member))
    return found
