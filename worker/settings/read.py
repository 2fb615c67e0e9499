"""Read a variable through its declaration: its default, bounds and choices.

`DeclaredEnv` is how worker.config reads the environment: each method takes a
variable's name, looks up its one `Setting` (a name not declared is a
programming error, `KeyError`), checks it is read as the kind declared, and
hands the declared default and bounds to `EnvReader`, whose messages name the
variable. A default computed from other settings (a cap that depends on the
plan, a URL that depends on the provider) is passed as `default=`; its
declaration says the rule in `rule`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from worker.envparse import EnvReader, parse_duration
from worker.secrets import Secret
from worker.settings.models import MODEL_SETTINGS
from worker.settings.service import SERVICE_SETTINGS
from worker.settings.spec import Kind, Setting

SETTINGS: Final[tuple[Setting, ...]] = MODEL_SETTINGS + SERVICE_SETTINGS
DECLARED: Final[dict[str, Setting]] = {setting.name: setting for setting in SETTINGS}
_REDIS_SCHEMES: Final = ("redis", "rediss", "unix")


def declared_int(name: str) -> int:
    """A declared integer's literal default: the typed dataclasses' field defaults."""
    default = DECLARED[name].default
    if default is None:
        raise TypeError(f"{name} has no literal default")
    return int(default)


def declared_seconds(name: str) -> int:
    """A declared duration's default, in seconds."""
    default = DECLARED[name].default
    if default is None:
        raise TypeError(f"{name} has no literal default")
    return parse_duration(default)


def secret_names() -> tuple[str, ...]:
    """The product's variables whose raw values are secrets (for scrubbing)."""
    return tuple(s.name for s in SETTINGS if s.secret and s.product)


class DeclaredEnv:
    """Typed reads of declared variables; problems are collected by `env`."""

    def __init__(self, env: EnvReader) -> None:
        self.env = env

    def _get(self, name: str, *kinds: Kind) -> Setting:
        setting = DECLARED[name]
        if kinds and setting.kind not in kinds:
            raise TypeError(f"{name} is declared {setting.kind}, read as {'/'.join(kinds)}")
        return setting

    def raw(self, name: str) -> str | None:
        """The stripped value, None when unset or blank (no default, no check)."""
        self._get(name)
        return self.env.raw(name)

    def fail(self, name: str, message: str) -> None:
        self._get(name)
        self.env.fail(name, message)

    def text(self, name: str) -> str | None:
        setting = self._get(name, "text")
        return self.env.raw(name) or setting.default

    def integer(self, name: str, default: int | None = None) -> int | None:
        """The declared default unless `default` (a computed one) is given."""
        setting = self._get(name, "int")
        if default is None and setting.default is not None:
            default = int(setting.default)
        return self.env.integer(name, default, low=setting.int_low, high=setting.int_high)

    def count(self, name: str) -> int:
        """An integer with a literal declared default: never None."""
        setting = self._get(name, "int")
        if setting.default is None:
            raise TypeError(f"{name} has no literal default")
        value = self.integer(name)
        return int(setting.default) if value is None else value

    def number(self, name: str) -> float | None:
        setting = self._get(name, "number")
        low = setting.low if setting.low is not None else float("-inf")
        high = setting.high if setting.high is not None else float("inf")
        return self.env.number(name, low=low, high=high)

    def choice(self, name: str, default: str | None = None) -> str:
        setting = self._get(name, "choice")
        fallback = default if default is not None else setting.default
        if fallback is None:
            raise TypeError(f"{name} has no default")
        return self.env.choice(name, setting.choices, fallback)

    def url(self, name: str, default: str | None = None) -> str | None:
        setting = self._get(name, "url")
        return self.env.url(name, default if default is not None else setting.default)

    def secret(self, name: str) -> Secret | None:
        self._get(name, "secret")
        return self.env.secret(name)

    def duration(self, name: str) -> int:
        setting = self._get(name, "duration")
        if setting.default is None:
            raise TypeError(f"{name} has no default")
        return self.env.duration(name, setting.default)

    def json_object(self, name: str) -> dict[str, Any] | None:
        self._get(name, "json")
        return self.env.json_object(name)

    def timestamp(self, name: str) -> datetime | None:
        self._get(name, "timestamp")
        return self.env.timestamp(name)

    def redis_url(self, name: str) -> Secret:
        """A Redis URL (wrapped: its password is a secret)."""
        setting = self._get(name, "redis")
        value = self.env.raw(name) or setting.default or ""
        if urlsplit(value).scheme not in _REDIS_SCHEMES:
            self.env.fail(name, "must start with redis://, rediss:// or unix://")
        return Secret(value)
