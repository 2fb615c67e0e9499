"""Printing a one-shot review: readable text for people, JSON for tools. Pure.

Model text is untrusted (the PR's content can steer it), so control
characters, including ANSI escape sequences that could rewrite the terminal,
are removed before anything is printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from worker.model_answer import Finding
from worker.review.conclude import ReviewResult
from worker.review.prepare import PreparedReview

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SEVERITY: Final = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}


def terminal_safe(text: str) -> str:
    """Drop control characters (keeps newlines and tabs)."""
    return _CONTROL.sub("", text)


def _entries(result: ReviewResult) -> list[tuple[Finding, int, int | None, str | None]]:
    """(finding, line, start_line, why not inline) for every placed finding, ranked."""
    entries: list[tuple[Finding, int, int | None, str | None]] = [
        (item.finding, item.line, item.start_line, None) for item in result.placement.inline
    ]
    entries.extend(
        (item.finding, item.finding.line, item.finding.start_line, item.reason)
        for item in result.placement.in_summary
    )
    return entries


def render_text(prepared: PreparedReview, result: ReviewResult) -> str:
    lines: list[str] = []
    entries = _entries(result)
    for finding, line, start, why in entries:
        where = (
            f"{finding.path}:{start}-{line}"
            if start and start != line
            else f"{finding.path}:{line}"
        )
        note = f"  ({why.replace('_', ' ')})" if why else ""
        lines.append(
            f"{where}  {_SEVERITY[finding.severity]}  {finding.category}  "
            f"{terminal_safe(finding.title)}{note}"
        )
        lines.extend(f"    {row}" for row in terminal_safe(finding.body).splitlines())
        if finding.suggestion:
            lines.append("    suggested replacement:")
            lines.extend(f"      {row}" for row in terminal_safe(finding.suggestion).splitlines())
        lines.append("")
    if not entries:
        lines.append("No findings.")
        lines.append("")
    if result.chunk_summaries:
        lines.append("Summary:")
        lines.extend(f"  {terminal_safe(s).strip()}" for s in result.chunk_summaries)
        lines.append("")
    for skip in prepared.skipped:
        lines.append(f"skipped {skip.path}: {skip.reason}")
    for masked in prepared.masked:
        lines.append(f"masked a secret-looking value in {masked.path}:{masked.line}")
    for long in prepared.long_lines:
        lines.append(f"not sent {long.path}:{long.line}: a line of {long.chars:,} characters")
    for dropped in result.dropped:
        lines.append(f"not reviewed ({', '.join(dropped.paths)}): {dropped.reason}")
    for item in result.refuted:
        finding = item.finding
        lines.append(
            f"dropped by verification {finding.path}:{finding.line}: "
            f"{terminal_safe(finding.title)} ({terminal_safe(item.reason)})"
        )
    lines.extend(terminal_safe(note) for note in result.round_notes)
    lines.extend(terminal_safe(note) for note in result.run_notes)
    tokens = result.tokens
    served = ", ".join(result.models) or "none"
    fallback = (
        f"; fallback served: {result.fallback_reason or 'yes'}" if result.fallback_model else ""
    )
    lines.append(
        f"{len(entries)} findings, {len(prepared.chunks)} chunks, model {served}{fallback}; "
        f"tokens in {tokens.prompt:,} (cached {tokens.cached:,}), out {tokens.completion:,}"
    )
    return "\n".join(lines) + "\n"


def render_json(
    prepared: PreparedReview, result: ReviewResult, *, extra: Mapping[str, Any] | None = None
) -> bytes:
    """The report as JSON; `extra` keys come first (`review <PR URL>`: status, review URL)."""
    findings: list[dict[str, Any]] = []
    for finding, line, start, why in _entries(result):
        entry = msgspec.to_builtins(finding)
        entry.update(line=line, inline=why is None)
        if start is not None:
            entry["start_line"] = start
        if why is not None:
            entry["not_inline_reason"] = why
        findings.append(entry)
    document = {
        **(extra or {}),
        "findings": findings,
        "summary": result.chunk_summaries,
        "skipped": [{"path": s.path, "reason": s.reason} for s in prepared.skipped],
        "masked": [{"path": m.path, "line": m.line} for m in prepared.masked],
        "long_lines": [msgspec.to_builtins(line) for line in prepared.long_lines],
        "dropped_chunks": [msgspec.to_builtins(d) for d in result.dropped],
        "dropped_by_verification": [msgspec.to_builtins(r) for r in result.refuted],
        "notes": [*result.run_notes, *result.round_notes],
        "chunks": len(prepared.chunks),
        "models": result.models,
        "fallback": {"model": result.fallback_model, "reason": result.fallback_reason},
        "tokens": msgspec.to_builtins(result.tokens),
    }
    return msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"
