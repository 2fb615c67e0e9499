""".env.example names exactly the variables the product reads, each documented and valid.

"The code reads" is found in the source, not in a list kept by hand:
`worker/config.py`'s string literals that name variables (the first argument
of the `EnvReader` methods, and the names kept in tuples for the main and
fallback endpoints), plus any `os.environ` / `os.getenv` read elsewhere in
app/ and worker/. Variables only `deploy/compose.yaml` reads (`${NAME}`) are
allowed in their own group.
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
from worker.envparse import EnvReader

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"
CONFIG = ROOT / "worker" / "config.py"
COMPOSE = ROOT / "deploy" / "compose.yaml"

ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_ENTRY = re.compile(r"^(?P<off>#\s?)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_HEADING = re.compile(r"^# -{2,} (?P<title>.+?) -*$")
_OS_READS = frozenset({"os.environ.get", "os.getenv", "os.environ.setdefault"})
GROUPS = (
    "Main model",
    "Fallback model",
    "Eval judge",
    "GitHub App",
    "Redis",
    "Quota window",
    "Operations",
    "Docker Compose only",
)


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


def names_read_by_config(source: str) -> set[str]:
    """Variable names in worker/config.py: EnvReader arguments and the names in tuples."""
    reader_methods = {name for name in vars(EnvReader) if not name.startswith("_")}
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in reader_methods
            and node.args
        ):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
        if isinstance(node, ast.Tuple):  # ("API_LLM_PROVIDER", ...) and "A", "B" = ...
            names |= {
                element.value
                for element in node.elts
                if isinstance(element, ast.Constant)
                and isinstance(element.value, str)
                and ENV_NAME.fullmatch(element.value)
            }
    return names


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
    names = names_read_by_config(CONFIG.read_text())
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


# --- the lists match -----------------------------------------------------------
def test_config_parser_finds_direct_and_tuple_held_names() -> None:
    """Guards the parser itself: names reached through `names[1]` must not be missed."""
    names = names_read_by_config(CONFIG.read_text())
    assert {"REDIS_URL", "GITHUB_WEBHOOK_SECRET", "API_LLM_QUOTA_ANCHOR"} <= names
    assert {"API_LLM_FALLBACK_MODEL", "API_OPENAI_FORCE_BASE_URL"} <= names  # tuples
    assert {"API_OPEN_AI_API_KEY", "API_LLM_FALLBACK_MAX_CONCURRENT_REQUESTS"} <= names
    sample = 'import os\nA = os.environ["X_ONE"]\nB = os.getenv("X_TWO")\nC = os.environ.get("X_3")'
    assert names_read_from_os_environ(sample) == {"X_ONE", "X_TWO", "X_3"}


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    listed = {entry.name for entry in entries()}
    missing = sorted(names_the_product_reads() - listed)
    assert not missing, f"add to .env.example (with a one-line comment): {missing}"


def test_every_variable_in_env_example_is_read_by_the_code_or_compose() -> None:
    product, compose = names_the_product_reads(), names_compose_reads()
    for entry in entries():
        if entry.group == "Docker Compose only":
            assert entry.name in compose, f"{entry.name}: compose.yaml does not use it"
            assert entry.name not in product, f"{entry.name} is read by the product too"
        else:
            assert entry.name in product, f"{entry.name}: nothing reads it"


def test_every_variable_compose_substitutes_is_in_env_example() -> None:
    listed = {entry.name for entry in entries()}
    assert names_compose_reads() <= listed


# --- the file reads well --------------------------------------------------------
def test_each_variable_has_a_one_line_comment_above_it() -> None:
    for entry in entries():
        assert entry.comment.startswith("# "), f"{entry.name} has no comment above it"
        assert not _ENTRY.match(entry.comment), f"{entry.name}: the line above is a variable"
        assert not _HEADING.match(entry.comment), f"{entry.name}: the line above is a heading"


def test_no_variable_is_listed_twice() -> None:
    names = [entry.name for entry in entries()]
    assert len(names) == len(set(names))


def test_variables_are_grouped_in_the_documented_order() -> None:
    headings = [m["title"] for m in map(_HEADING.match, ENV_EXAMPLE.read_text().splitlines()) if m]
    assert [title.split(" (")[0] for title in headings] == list(GROUPS)
    for entry in entries():
        assert entry.group, f"{entry.name} is above the first heading"


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("API_OPEN_AI_API_KEY", "Main model"),
        ("API_LLM_FALLBACK_API_KEY", "Fallback model"),
        ("GITHUB_WEBHOOK_SECRET", "GitHub App"),
        ("REDIS_URL", "Redis"),
        ("API_LLM_QUOTA_TOKENS", "Quota window"),
        ("METRICS_PORT", "Operations"),
    ],
)
def test_variables_sit_in_their_group(name: str, group: str) -> None:
    (entry,) = [entry for entry in entries() if entry.name == name]
    assert entry.group == group


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


def test_commented_defaults_match_what_the_code_uses_when_unset(tmp_path: Path) -> None:
    """A `# VAR=default` line must not promise a default the code does not have."""
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key_pem())
    enabled = _product_values([e for e in entries() if e.enabled], key_file)
    baseline = load_settings(enabled)
    defaults = {
        "API_LLM_PROVIDER": "openai_compatible",
        "API_LLM_THINKING": "enabled",
        "API_LLM_MAX_COMPLETION_TOKENS": "32768",
        "API_LLM_CHUNK_TOKENS": "24000",
        "API_LLM_TIMEOUT": "900",
        "API_LLM_BREAKER_COOLDOWN": "300",
        "API_LLM_MAX_CONCURRENT_REQUESTS": "50",
        "API_LLM_QUOTA_WINDOW": "7d",
        "GITHUB_API_URL": "https://api.github.com",
        "LOG_FORMAT": "json",
        "REVIEW_MAX_COMMENTS": "25",
        "API_LLM_REVIEW_MAX_TOKENS": "2000000",
        "REVIEW_UNTRUSTED_MAX_LINES": "2000",
        "WORKER_JOB_TIMEOUT": "60",
        "WORKER_REVIEW_LEASE": "20",
        "WORKER_MAX_REVIEWS": "10",
        "WORKER_REVIEW_GIVE_UP_AFTER": "8d",
    }
    listed = {e.name: e.value for e in entries() if not e.enabled}
    for name, value in defaults.items():
        assert listed[name] == value, f"{name}: .env.example shows {listed[name]!r}"
        assert load_settings({**enabled, name: value}) == baseline, name
