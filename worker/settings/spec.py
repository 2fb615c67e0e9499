"""The shape of one setting's declaration, and the groups they are listed in.

Every environment variable the product reads is declared once, as a `Setting`,
in worker/settings/models.py (the model blocks) or worker/settings/service.py
(GitHub, Redis, quota, operations, Compose). `load_settings` reads each one
through its declaration (worker.settings.read), so the default and bounds
declared are the ones enforced; `.env.example` and the README's configuration
table are checked against the declarations by tests/test_env_example.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal[
    "text", "int", "number", "choice", "url", "duration", "secret", "json", "timestamp", "redis"
]
PROVIDER_CHOICES: Final = ("openai_compatible", "anthropic")
# The headings of `.env.example`, in order.
GROUPS: Final = (
    "Main model",
    "Fallback model",
    "Eval judge",
    "GitHub App",
    "Redis",
    "Quota window",
    "Operations",
    "Docker Compose only",
)
# README default cells of settings with no literal default.
NONE: Final = "none"
CAP_RULE: Final = "`30` on `api.kimi.com/coding`, else `50`"


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable as the product and its documentation know it."""

    name: str
    group: str
    kind: Kind
    doc: str
    """The one-line comment above the variable in `.env.example`."""
    default: str | None = None
    """The value used when unset, as written in the environment; None = unset."""
    rule: str | None = None
    """The README's default cell when there is no literal default (computed, required, none)."""
    example: str | None = None
    """What `.env.example` shows when it shows something other than the default."""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    product: bool = True
    """False: only deploy/compose.yaml substitutes it; kimi-review never reads it."""

    @property
    def shown(self) -> str | None:
        """The value `.env.example` shows for it."""
        return self.example if self.example is not None else self.default

    @property
    def int_low(self) -> int:
        return int(self.low) if self.low is not None else 0

    @property
    def int_high(self) -> int | None:
        return int(self.high) if self.high is not None else None
