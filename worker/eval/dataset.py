"""Loading and validating evaluation cases (the format of bench/devset/README.md).

A case is a folder holding `case.toml` (PR title and description, snapshot
recipe, expected issues) and `change.diff`. `load_dataset(DIR)` takes DIR as
a folder of cases, or as one case when it holds a `case.toml` itself. A case
that does not load is returned as an `InvalidCase` naming the case and the
field, so one bad case is reported and skipped while the others run.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, get_args

from worker.diff.local import LocalDiffError, changed_files_from_diff
from worker.model_answer import Severity

SEVERITIES: Final = get_args(Severity)
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
CASE_FILE: Final = "case.toml"
DIFF_FILE: Final = "change.diff"


class CaseError(ValueError):
    """A case that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where the repository at the change's head comes from: an archive and its digest."""

    url: str
    sha256: str
    strip: int
    registry: str = ""
    package: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class ExpectedIssue:
    text: str
    severity: str
    path: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    folder: Path
    title: str
    description: str
    diff: str
    snapshot: Snapshot | None
    expected: tuple[ExpectedIssue, ...]
    language: str = ""
    cross_file: bool = False


@dataclass(frozen=True, slots=True)
class InvalidCase:
    id: str
    error: str


def _get(table: dict[str, Any], name: str, kind: type, where: str, *, required: bool = True) -> Any:
    value = table.get(name)
    if value is None:
        if required:
            raise CaseError(f"{where}{name}: missing")
        return None
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise CaseError(f"{where}{name}: expected {kind.__name__}, got {type(value).__name__}")
    if isinstance(value, str) and required and not value.strip():
        raise CaseError(f"{where}{name}: empty")
    return value


def _snapshot(table: Any) -> Snapshot | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise CaseError("snapshot: expected a table")
    url = _get(table, "url", str, "snapshot.")
    if not url.startswith(("https://", "http://")):
        raise CaseError("snapshot.url: expected an http(s):// URL")
    digest = _get(table, "sha256", str, "snapshot.").lower()
    if not _SHA256.fullmatch(digest):
        raise CaseError("snapshot.sha256: expected 64 hexadecimal digits")
    strip = _get(table, "strip", int, "snapshot.", required=False)
    if strip is not None and strip < 0:
        raise CaseError("snapshot.strip: must be 0 or more")
    return Snapshot(
        url,
        digest,
        strip if strip is not None else 0,
        _get(table, "registry", str, "snapshot.", required=False) or "",
        _get(table, "package", str, "snapshot.", required=False) or "",
        _get(table, "version", str, "snapshot.", required=False) or "",
    )


def _expected(items: Any) -> tuple[ExpectedIssue, ...]:
    if not isinstance(items, list) or not items:
        raise CaseError("expected: at least one [[expected]] issue is required")
    issues = []
    for n, item in enumerate(items):
        where = f"expected[{n}]."
        if not isinstance(item, dict):
            raise CaseError(f"expected[{n}]: expected a table")
        severity = _get(item, "severity", str, where)
        if severity not in SEVERITIES:
            raise CaseError(f"{where}severity: one of {', '.join(SEVERITIES)}, got {severity!r}")
        line = _get(item, "line", int, where, required=False)
        if line is not None and line < 1:
            raise CaseError(f"{where}line: must be 1 or more")
        path = _get(item, "path", str, where, required=False)
        issues.append(ExpectedIssue(_get(item, "text", str, where), severity, path, line))
    return tuple(issues)


def load_case(folder: Path) -> Case:
    """Read one case folder; raises CaseError naming the file or field at fault."""
    try:
        raw = (folder / CASE_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseError(f"{CASE_FILE}: cannot read ({exc.strerror})") from None
    try:
        table = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{CASE_FILE}: not valid TOML ({exc})") from None
    try:
        diff = (folder / DIFF_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CaseError(f"{DIFF_FILE}: cannot read ({exc.strerror})") from None
    try:
        changed_files_from_diff(diff)
    except LocalDiffError as exc:
        raise CaseError(f"{DIFF_FILE}: {exc}") from None
    return Case(
        id=folder.name,
        folder=folder,
        title=_get(table, "title", str, ""),
        description=_get(table, "description", str, "", required=False) or "",
        diff=diff,
        snapshot=_snapshot(table.get("snapshot")),
        expected=_expected(table.get("expected")),
        language=_get(table, "language", str, "", required=False) or "",
        cross_file=bool(_get(table, "cross_file", bool, "", required=False)),
    )


def case_folders(root: Path) -> list[Path]:
    """DIR itself when it is a case, else its sub-folders holding a case.toml, sorted."""
    if (root / CASE_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / CASE_FILE).is_file())


def load_dataset(root: Path) -> tuple[list[Case], list[InvalidCase]]:
    """Every case under `root`, and those that could not be loaded (with why)."""
    cases: list[Case] = []
    invalid: list[InvalidCase] = []
    for folder in case_folders(root):
        try:
            cases.append(load_case(folder))
        except CaseError as exc:
            invalid.append(InvalidCase(folder.name, str(exc)))
    return cases, invalid
