""".env.example and the README's table agree with the declarations, and nothing reads more.

Every variable is declared once (worker/settings/models.py,
worker/settings/service.py): name, group, default, bounds, one-line doc.
Here that list is the source of truth: `.env.example` lists exactly the
declared variables, in their order and groups, each under its doc and
showing its default (or its declared example); the README's configuration
table names exactly the product's variables with their default; and the
product reads no variable that is not declared — `worker/config.py`'s string
literals that name variables, plus any `os.environ` / `os.getenv` read
elsewhere in app/ and worker/. Variables only `deploy/compose.yaml` reads
(`${NAME}`) are declared with `product=False`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from worker.config import load_settings
from worker.settings.read import DECLARED, SETTINGS
from worker.settings.spec import GROUPS

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"
CONFIG = ROOT / "worker" / "config.py"
COMPOSE = ROOT / "deploy" / "compose.yaml"

ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_ENTRY = re.compile(r"^(?P<off>#\s?)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_HEADING = re.compile(r"^# -{2,} (?P<title>.+?) -*$")
_OS_READS = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault"})
PRODUCT = [setting for setting in SETTINGS if setting.product]


@dataclass(frozen=True, slots=True)
class Entry:
    """One `VAR=value` or `# VAR=value` line of .env.example."""

    name: str
    value: str
    enabled: bool
    comment: str  # the line just above
    group: str


def parse_env_example(text: str) -> list[Entry]:
    entries: list[Entry] = []
    group = ""
    previous = ""
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            group = heading["title"].split(" (")[0]
        match = _ENTRY.match(line)
        if match:
            entries.append(
                Entry(match["name"], match["value"], match["off"] is None, previous, group)
            )
        previous = line
    return entries


def names_in_source(source: str) -> set[str]:
    """Every string literal of a module that looks like a variable name."""
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and ENV_NAME.fullmatch(node.value)
    }


def names_read_from_os_environ(source: str) -> set[str]:
    """`os.environ["X"]`, `os.environ.get("X")` and `os.getenv("X")` with a literal name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        elif isinstance(node, ast.Call) and node.args and ast.unparse(node.func) in _OS_READS:
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def names_the_product_reads() -> set[str]:
    names = names_in_source(CONFIG.read_text())
    for package in ("app", "worker"):
        for path in sorted((ROOT / package).rglob("*.py")):
            names |= names_read_from_os_environ(path.read_text())
    return names


def names_compose_reads() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text()))


def entries() -> list[Entry]:
    return parse_env_example(ENV_EXAMPLE.read_text())


def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


# --- the declarations and the code agree -------------------------------------------
def test_the_source_scanners_find_what_they_must() -> None:
    """Guards the scanners themselves: names held in tuples must not be missed."""
    names = names_in_source(CONFIG.read_text())
    assert {"REDIS_URL", "GITHUB_WEBHOOK_SECRET", "API_LLM_QUOTA_ANCHOR"} <= names
    assert {"API_LLM_FALLBACK_MODEL", "API_OPENAI_FORCE_BASE_URL"} <= names  # tuples
    sample = 'import os\nA = os.environ["X_ONE"]\nB = os.getenv("X_TWO")\nC = os.environ.get("X_3")'
    assert names_read_from_os_environ(sample) == {"X_ONE", "X_TWO", "X_3"}


def test_the_product_reads_no_variable_that_is_not_declared() -> None:
    undeclared = sorted(names_the_product_reads() - {s.name for s in PRODUCT})
    assert not undeclared, f"declare in worker/settings/models.py or _service.py: {undeclared}"


def test_no_module_names_a_variable_of_ours_that_is_not_declared() -> None:
    """Beyond worker/config.py: a name with one of the product's prefixes anywhere in
    app/ or worker/ (doctor's advice, an `environ.get` by a computed name) is declared."""
    ours = re.compile(r"(API|GITHUB|REDIS|LOG|METRICS|REVIEW|WORKER|KIMI_REVIEW)_[A-Z0-9_]+")
    stray = {
        f"{path.relative_to(ROOT)}: {name}"
        for package in ("app", "worker")
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in names_in_source(path.read_text())
        if ours.fullmatch(name) and name not in DECLARED
    }
    assert not stray, sorted(stray)


def test_every_declared_variable_is_read_by_the_product() -> None:
    unread = sorted({s.name for s in PRODUCT} - names_the_product_reads())
    assert not unread, f"declared but nothing reads it: {unread}"


def test_compose_only_declarations_are_exactly_what_compose_substitutes() -> None:
    compose_only = {s.name for s in SETTINGS if not s.product}
    assert compose_only == names_compose_reads()


def test_each_declaration_is_whole() -> None:
    """A default or a README rule for each; choices for a choice; bounds hold the default."""
    assert len(DECLARED) == len(SETTINGS), "a variable is declared twice"
    for s in SETTINGS:
        assert s.group in GROUPS, s.name
        assert s.doc, s.name
        assert "\n" not in s.doc, s.name
        assert (s.default is None) != (s.rule is None) or not s.product, s.name
        if s.kind == "choice":
            assert s.shown in s.choices, s.name
        if s.kind == "int" and s.default is not None:
            assert s.int_low <= int(s.default) <= (s.int_high or int(s.default)), s.name


# --- .env.example is the declarations, written out ----------------------------------
def test_env_example_lists_the_declared_variables_in_their_order_and_groups() -> None:
    listed = entries()
    assert [e.name for e in listed] == [s.name for s in SETTINGS]
    headings = [m["title"] for m in map(_HEADING.match, ENV_EXAMPLE.read_text().splitlines()) if m]
    assert [title.split(" (")[0] for title in headings] == list(GROUPS)
    for entry in listed:
        assert entry.group == DECLARED[entry.name].group, entry.name


def test_each_variable_sits_under_its_declared_doc() -> None:
    for entry in entries():
        assert entry.comment == f"# {DECLARED[entry.name].doc}", entry.name


def test_each_variable_shows_its_declared_default_or_example() -> None:
    """A `# VAR=default` line must not promise a default the declaration does not have."""
    for entry in entries():
        assert entry.value == DECLARED[entry.name].shown, entry.name


# --- the values are usable --------------------------------------------------------
def _product_values(entries_: list[Entry], key_file: Path) -> dict[str, str]:
    values = {e.name: e.value for e in entries_ if e.group != "Docker Compose only"}
    values["GITHUB_APP_PRIVATE_KEY_PATH"] = str(key_file)
    return values


def test_enabled_values_start_serve_and_worker(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key_pem())
    settings = load_settings(_product_values([e for e in entries() if e.enabled], key_file))
    settings.require("serve")
    settings.require("worker")


def test_every_commented_example_is_a_valid_value(tmp_path: Path) -> None:
    """All examples at once (fallback block included) load without a single problem."""
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key_pem())
    values = _product_values(entries(), key_file)
    del values["GITHUB_APP_PRIVATE_KEY"]  # a shortened placeholder; the path form is tested
    settings = load_settings(values)
    assert settings.llm.fallback is not None
    assert settings.llm.fallback.provider == "anthropic"
    assert settings.llm.reasoning_override == {
        "thinking": {"type": "enabled", "budget_tokens": 25000}
    }
    assert settings.quota.anchor is not None


@pytest.mark.parametrize(
    "name",
    [
        s.name
        for s in PRODUCT
        if s.default is not None or s.rule == "`30` on `api.kimi.com/coding`, else `50`"
    ],
)
def test_declared_defaults_are_what_the_code_uses_when_unset(tmp_path: Path, name: str) -> None:
    """Setting a variable to its declared default changes nothing (the caps: to 50, their
    default off the Kimi Code URL)."""
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key_pem())
    enabled = _product_values([e for e in entries() if e.enabled], key_file)
    enabled["API_LLM_FALLBACK_MODEL"] = "claude-sonnet-4-5"  # so the fallback's are read too
    enabled["API_LLM_FALLBACK_API_KEY"] = "sk-ant-test"
    enabled["API_LLM_FALLBACK_BASE_URL"] = "https://api.example.test/v1"
    baseline = load_settings(enabled)
    value = DECLARED[name].default or "50"
    assert load_settings({**enabled, name: value}) == baseline


# --- the README's configuration table -------------------------------------------------
def readme_defaults() -> dict[str, str]:
    """Each variable named in the first column of the README's table -> its default cell."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Configuration\n")
    end = text.index("\n### ", start)
    rows = [line.split("|") for line in text[start:end].splitlines() if line.startswith("| `")]
    return {
        name: row[-2].strip() for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[1])
    }


def test_the_readme_table_names_exactly_the_declared_product_variables() -> None:
    """A setting declared without a README row (or a row left for a removed one) is caught."""
    assert sorted(readme_defaults()) == sorted(s.name for s in PRODUCT)


def test_the_readme_table_shows_each_declared_default() -> None:
    cells = readme_defaults()
    for s in PRODUCT:
        expected = s.rule if s.rule is not None else f"`{s.default}`"
        assert expected in cells[s.name], f"{s.name}: README default {cells[s.name]!r}"
