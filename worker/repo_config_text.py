"""What a `.kimi-review.toml` may hold, checked key by key, with errors people can act on.

Pure: TOML text in, checked values (or every problem, named) out; turning
them into a `RepoConfig` and reading the file from GitHub is
`worker.repo_config`'s job. Each message names the key, what was expected and
what came (`max_comments: expected an integer 0..200, got "ten"`); an unknown
key gets the nearest known one (`did you mean `min_severity`?`). Layout: flat
keys at the top level, no tables. Values quoted back come from the
repository, so whoever posts an error sanitises it.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from worker.answer import SEVERITY_RANK
from worker.review.sanitize import code_span

MAX_CONFIG_BYTES: Final = 64 * 1024
MAX_COMMENTS_LIMIT: Final = 200  # the same bound as REVIEW_MAX_COMMENTS
MAX_PATTERNS: Final = 100
MAX_PATTERN_CHARS: Final = 200
MAX_INSTRUCTION_CHARS: Final = 2000
MAX_LANGUAGE_CHARS: Final = 40
MAX_ERRORS_SHOWN: Final = 5
# Spend limits a repository may lower (never raise): positive, so that no
# value can mean "no limit" (REVIEW_UNTRUSTED_MAX_LINES=0 does, for operators).
REVIEW_TOKENS_RANGE: Final = (1000, 1_000_000_000)
UNTRUSTED_LINES_RANGE: Final = (1, 100_000_000)


class CheckedText(NamedTuple):
    """The checked values by key (only keys the file set), or an error naming every problem."""

    values: dict[str, object]
    error: str | None


class _Rejected(Exception):
    """A value that does not fit its key; carries what was expected."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _describe(value: object) -> str:
    """A short TOML-ish rendering of a value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value[:40], ensure_ascii=False) + ("…" if len(value) > 40 else "")
        return shown if len(value) <= 40 else f"{shown} ({len(value)} characters)"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Rejected("true or false")
    return value


def _choice(*options: str) -> Callable[[object], str]:
    expected = "one of " + ", ".join(f'"{o}"' for o in options)

    def check(value: object) -> str:
        if isinstance(value, str) and value in options:
            return value
        near = difflib.get_close_matches(str(value).lower(), options, n=1)
        raise _Rejected(expected + (f' (did you mean "{near[0]}"?)' if near else ""))

    return check


def _comment_count(value: object) -> int:
    # TOML's `true` arrives as Python's True, which is an int: refuse it explicitly.
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_COMMENTS_LIMIT
    ):
        raise _Rejected(f"an integer 0..{MAX_COMMENTS_LIMIT}")
    return value


def _whole_number(low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Rejected(f"an integer {low}..{high}")
        return value

    return check


def _patterns(value: object) -> tuple[str, ...]:
    expected = (
        f"an array of at most {MAX_PATTERNS} glob strings, "
        f"each 1..{MAX_PATTERN_CHARS} characters on one line"
    )
    if not isinstance(value, list) or len(value) > MAX_PATTERNS:
        raise _Rejected(expected)
    for item in value:
        if not isinstance(item, str) or not 0 < len(item.strip()) <= MAX_PATTERN_CHARS:
            raise _Rejected(expected)
        if "\n" in item or "\r" in item:
            raise _Rejected(expected)
    return tuple(item.strip() for item in value)


def _instructions(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_INSTRUCTION_CHARS:
        raise _Rejected(f"a string of at most {MAX_INSTRUCTION_CHARS} characters")
    return value.strip()


def _language(value: object) -> str:
    expected = f"a language name on one line, 1..{MAX_LANGUAGE_CHARS} characters"
    if not isinstance(value, str):
        raise _Rejected(expected)
    name = value.strip()
    if not 0 < len(name) <= MAX_LANGUAGE_CHARS or not name.isprintable():
        raise _Rejected(expected)
    return name


# One checker per key; the keys here are exactly the keys a file may hold.
_CHECKS: Final[dict[str, Callable[[object], object]]] = {
    "enabled": _boolean,
    "include": _patterns,
    "exclude": _patterns,
    "min_severity": _choice(*SEVERITY_RANK),
    "max_comments": _comment_count,
    "extra_instructions": _instructions,
    "thinking": _choice("enabled", "disabled", "auto"),
    "incremental": _boolean,
    "review_drafts": _boolean,
    "language": _language,
    "review_max_tokens": _whole_number(*REVIEW_TOKENS_RANGE),
    "untrusted_max_lines": _whole_number(*UNTRUSTED_LINES_RANGE),
}
KEYS: Final = tuple(_CHECKS)


def _unknown_key(key: str, value: object) -> str:
    if isinstance(value, dict):
        table = code_span(f"[{key}]")
        return f"unknown table {table}: settings go at the top level of the file, not in a table"
    near = difflib.get_close_matches(key, KEYS, n=1)
    hint = f" (did you mean `{near[0]}`?)" if near else ""
    return f"unknown key {code_span(key)}{hint}"


def _check_keys(data: dict[str, Any]) -> tuple[dict[str, object], list[str]]:
    clean: dict[str, object] = {}
    errors: list[str] = []
    for key, value in data.items():
        check = _CHECKS.get(key)
        if check is None:
            errors.append(_unknown_key(key, value))
            continue
        try:
            clean[key] = check(value)
        except _Rejected as rejected:
            errors.append(f"{key}: expected {rejected.expected}, got {_describe(value)}")
    return clean, errors


def _joined(errors: list[str]) -> str:
    shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
    more = len(errors) - MAX_ERRORS_SHOWN
    return f"{shown}; and {more} more" if more > 0 else shown


def too_large(size: int) -> str:
    """The error for a file of `size` bytes over the bound."""
    return f"the file is {size:,} bytes; the limit is {MAX_CONFIG_BYTES:,}"


def check_config_text(text: str) -> CheckedText:
    """Decode and check a config file's text; any problem empties `values`.

    A leading byte-order mark (Windows editors add one) is ignored.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        return CheckedText({}, too_large(size))
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        return CheckedText({}, f"invalid TOML: {exc}")
    values, errors = _check_keys(data)
    if errors:
        return CheckedText({}, _joined(errors))
    return CheckedText(values, None)
