"""The checklist `kimi-review doctor` prints: pure text from check results, no I/O.

Each check is one line with a mark (✓ passed, ! warning, ✗ failed), what was
checked and what was found (naming the URL tried); a failure or a warning
carries a `fix` line below it. The whole text goes through `scrub` with every
known secret value, so a secret that slipped into a server's error message is
still never printed. The exit code is 1 when any check failed: warnings alone
do not fail the run, so a deployment script can gate on `doctor`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from app.cli.exit_codes import ExitCode
from worker.secrets import scrub

Status = Literal["pass", "warn", "fail"]

MARKS: Final[dict[Status, str]] = {"pass": "✓", "warn": "!", "fail": "✗"}


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist: `name` is what was checked (a variable, an endpoint)."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def exit_code(checks: Iterable[Check]) -> ExitCode:
    """1 when any check failed; warnings are allowed."""
    return ExitCode.CHECKS_FAILED if any(check.failed for check in checks) else ExitCode.OK


def summary(checks: Sequence[Check]) -> str:
    failed = sum(1 for c in checks if c.status == "fail")
    warned = sum(1 for c in checks if c.status == "warn")
    if failed:
        return f"{failed} of {len(checks)} checks failed, {warned} warning(s): fix the ✗ lines"
    if warned:
        return f"all {len(checks)} checks passed, {warned} warning(s)"
    return f"all {len(checks)} checks passed"


def render_checklist(checks: Sequence[Check], secrets: Iterable[str] = ()) -> str:
    """The printed checklist, scrubbed of every value in `secrets`."""
    lines = ["kimi-review doctor"]
    for check in checks:
        lines.append(f"{MARKS[check.status]} {check.name}: {check.detail}")
        if check.fix and check.status != "pass":
            lines.append(f"    fix: {check.fix}")
    lines.append(summary(checks))
    return scrub("\n".join(lines), list(secrets)) + "\n"
