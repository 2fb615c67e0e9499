"""Pure parsers for environment values; each error names the variable.

`EnvReader` collects every problem instead of stopping at the first, so an
operator fixing a `.env` sees the whole list in one run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from worker.secrets import Secret, redact_url

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def parse_duration(text: str) -> int:
    """`7d` -> 604800 seconds. Units: s, m, h, d, w."""
    match = _DURATION.match(text)
    if not match or int(match[1]) <= 0:
        raise ValueError(f"expected a positive duration such as 7d, 5h or 30m, got {text!r}")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


class EnvReader:
    """Reads typed values from a mapping, recording problems by variable name."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def integer(
        self, name: str, default: int | None, *, low: int = 0, high: int | None = None
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"must be a whole number, got {value!r}")
            return default
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.fail(name, f"must be {bound}, got {number}")
            return default
        return number

    def number(self, name: str, *, low: float, high: float) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            self.fail(name, f"must be a number, got {value!r}")
            return None
        if not low <= number <= high:
            self.fail(name, f"must be between {low} and {high}, got {number}")
            return None
        return number

    def secret(self, name: str) -> Secret | None:
        value = self.raw(name)
        return Secret(value) if value is not None else None

    def url(self, name: str, default: str | None) -> str | None:
        value = self.raw(name) or default
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.fail(name, f"must be an http:// or https:// URL, got {redact_url(value)!r}")
            return default
        return value.rstrip("/")

    def duration(self, name: str, default: str) -> int:
        value = self.raw(name) or default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(name, str(exc))
            return parse_duration(default)

    def json_object(self, name: str) -> dict[str, Any] | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            self.fail(name, f"must be a JSON object: {exc.msg} at column {exc.colno}")
            return None
        except RecursionError:
            self.fail(name, "must be a JSON object: nested too deeply")
            return None
        if not isinstance(parsed, dict):
            self.fail(name, f"must be a JSON object, got {type(parsed).__name__}")
            return None
        return parsed

    def timestamp(self, name: str) -> datetime | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                return datetime(day.year, day.month, day.day, tzinfo=UTC)
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(name, f"must be a date such as 2026-11-01 or an ISO datetime, got {value!r}")
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
