"""The layout keeps its promises: the arrows hold, the map's paths exist, no stale references.

docs/ARCHITECTURE.md names the module of every step of a review; a move that
forgets the map leaves a path that no longer exists, and this test names it.
The import contracts of pyproject.toml run here too, so `pytest` alone
catches an upward import (CI also runs `lint-imports`).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE_PATH = re.compile(r"(?<![\w/.])((?:app|worker)/[\w/]+\.py)\b")
# Built in two halves so this file does not name what it forbids.
STALE_NAME = "DES" + "IGN"


def _section(text: str, heading: str) -> str:
    """From `heading` to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    ends = [m.start() for m in re.finditer(rf"\n#{{1,{len(level)}}} ", text[start + 1 :])]
    return text[start : start + 1 + ends[0]] if ends else text[start:]


def _paths_named_in(doc: str) -> set[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    if doc == "README.md":  # elsewhere it quotes sample reviews of other people's `app/…`
        text = "".join(
            _section(text, h)
            for h in ("### Reliability: what is guaranteed and how", "## Development")
        )
    return set(MODULE_PATH.findall(text))


@pytest.mark.parametrize("doc", ["docs/ARCHITECTURE.md", "README.md"])
def test_every_module_path_the_docs_name_exists(doc: str) -> None:
    named = _paths_named_in(doc)
    assert named, f"{doc} names no module path: the pattern is wrong"
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert missing == [], f"{doc} names modules that do not exist: {missing}"


def test_the_architecture_map_names_every_package() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    packages = sorted(
        f"{p.parent.parent.name}.{p.parent.name}"
        for p in ROOT.glob("*/*/__init__.py")
        if p.parent.parent.name in {"app", "worker"}
    )
    assert packages
    unnamed = [p for p in packages if p not in text]
    assert unnamed == [], f"docs/ARCHITECTURE.md does not name {unnamed}"


def test_no_source_cites_a_document_a_clone_does_not_have() -> None:
    """Files cited a design document only the authors had; the map is docs/ARCHITECTURE.md."""
    files = [
        *ROOT.glob("app/**/*.py"),
        *ROOT.glob("worker/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("docs/*.md"),
        ROOT / "README.md",
    ]
    citing = sorted(
        str(f.relative_to(ROOT)) for f in files if STALE_NAME in f.read_text(encoding="utf-8")
    )
    assert citing == []


def test_no_prefix_family_of_flat_modules_in_worker() -> None:
    """Seven gate_*.py and five review_*.py sat flat in worker/: a family is a package."""
    flat = [p.stem for p in (ROOT / "worker").glob("*.py") if p.stem != "__init__"]
    prefixes: dict[str, list[str]] = {}
    for name in flat:
        if "_" in name:
            prefixes.setdefault(name.split("_", 1)[0], []).append(name)
    families = {k: v for k, v in prefixes.items() if len(v) > 1}
    assert families == {}


def test_imports_point_down_only() -> None:
    """The layers and the receiver's limits of [tool.importlinter] hold (no package cycle)."""
    lint = Path(sys.executable).with_name("lint-imports")
    argv = [str(lint), "--no-cache"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:]


def test_every_command_exits_with_the_one_exit_code_enum() -> None:
    """Each command kept its own EXIT_* numbers (2 meant a bad config in one, bad input in
    another); now app.cli.exit_codes.ExitCode is the only place a code is given a meaning."""
    own = re.compile(r"^EXIT_[A-Z_]+\s*(?::[^=]+)?=", re.M)
    defining = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "app").rglob("*.py")
        if own.search(p.read_text(encoding="utf-8"))
    )
    assert defining == []


MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _sources() -> list[Path]:
    return sorted(p for root in ("app", "worker") for p in (ROOT / root).rglob("*.py"))


def test_no_function_over_sixty_lines() -> None:
    """flow._review ran 160 lines and run_attempt 85: a long function hides its steps.

    Counted from `def` to the last line, docstring included; a nested function
    counts in its parent too.
    """
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}::{node.name} ({lines})")
    assert long == []


def test_no_module_over_four_hundred_lines() -> None:
    """A module past 400 lines does more than one job (300 is the aim, 400 the limit)."""
    big = []
    for path in _sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            big.append(f"{path.relative_to(ROOT)} ({lines})")
    assert big == []
