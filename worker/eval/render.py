"""An eval report as text for people, and two reports side by side (`--compare`). Pure.

Scores print as percentages with one decimal, "-" where undefined (no
findings: no precision). The comparison lists every case of either run,
with A's and B's figures and the delta B - A, then the totals the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from worker.eval.report import CaseReport, EvalReport, Totals

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _safe(text: str) -> str:
    """Model text may carry terminal escapes; print none of them."""
    return _CONTROL.sub("", text)


def _case_line(case: CaseReport) -> str:
    t = case.review_tokens
    cost = (
        f"{len(case.findings)} findings  in {t.prompt:,} (cached {t.cached:,}) out "
        f"{t.completion:,}  {t.calls} calls  {case.seconds:.1f}s"
    )
    if case.status == "judged":
        score = f"P {pct(case.precision)}  R {pct(case.recall)}  F1 {pct(case.f1)}"
        return f"{case.id}  {score}  found {case.found}/{case.expected}  {cost}"
    if case.status == "not_judged":
        return f"{case.id}  {cost}"
    return f"{case.id}  {case.status.upper()}: {_safe(case.error or '')}"


def render_report(report: EvalReport, *, verbose: bool = True) -> str:
    judge = report.judge_model or "none (--no-judge)"
    lines = [f"kimi-review eval {report.dataset}: model {report.model}, judge {judge}", ""]
    for case in report.cases:
        lines.append(_case_line(case))
        if case.snapshot not in ("used", "none"):
            lines.append(f"    snapshot: {case.snapshot}")
        if verbose:
            for dropped in case.dropped_by_verification:
                where = f"{dropped.path}:{dropped.line}"
                lines.append(f"    dropped by verification {where}: {_safe(dropped.title)}")
            for match in case.matches:
                mark = f"F{match.finding}" if match.finding is not None else "missed"
                lines.append(f"    E{match.expected} -> {mark}: {_safe(match.reason)}")
    for invalid in report.invalid:
        lines.append(f"{invalid.id}  INVALID: {invalid.error}")
    lines.append("")
    lines.extend(render_totals(report.totals, judged=report.judge_model is not None))
    return "\n".join(lines) + "\n"


def render_totals(t: Totals, *, judged: bool) -> list[str]:
    lines = []
    if judged:
        lines.append(
            f"Total ({t.judged} of {t.cases} cases judged): P {pct(t.precision)}  "
            f"R {pct(t.recall)}  F1 {pct(t.f1)}  (macro F1 {pct(t.macro_f1)})  "
            f"found {t.found}/{t.expected}, {t.findings} findings"
        )
    per_pr = "-" if t.findings_per_pr is None else f"{t.findings_per_pr:.1f}"
    r, j = t.review_tokens, t.judge_tokens
    lines.append(
        f"Findings per PR {per_pr}; review: in {r.prompt:,} (cached {r.cached:,}) out "
        f"{r.completion:,}, {r.calls} calls; judge: in {j.prompt:,} (cached {j.cached:,}) out "
        f"{j.completion:,}, {j.calls} calls; wall time {t.seconds:.1f}s"
    )
    for label, ids in (("unjudged", t.unjudged), ("failed", t.failed), ("invalid", t.invalid)):
        if ids:
            lines.append(f"{label}: {', '.join(ids)}")
    return lines


def _delta(a: float | None, b: float | None, percent: bool = True, decimals: int = 0) -> str:
    """B - A: in percentage points for scores, else in the figure's own unit."""
    if a is None or b is None:
        return "-"
    if percent:
        return f"{100 * (b - a):+.1f} pt"
    return f"{b - a:+,.{decimals}f}"


def _tokens(case: CaseReport | Totals | None) -> int | None:
    if case is None:
        return None
    return case.review_tokens.prompt + case.review_tokens.completion


Row = tuple[str, CaseReport | None, CaseReport | None]
_COLUMNS: Final[list[tuple[str, Callable[[CaseReport], float | None], bool]]] = [
    ("P", lambda c: c.precision, True),
    ("R", lambda c: c.recall, True),
    ("F1", lambda c: c.f1, True),
    ("findings", lambda c: float(len(c.findings)) if c.status != "failed" else None, False),
    ("tokens", lambda c: float(_tokens(c) or 0) if c.status != "failed" else None, False),
]


def _cell(value: float | None, percent: bool) -> str:
    if value is None:
        return "-"
    return pct(value) if percent else f"{value:,.0f}"


def render_compare(a: EvalReport, b: EvalReport) -> str:
    """Per case: each column as `A -> B (delta)`; then the totals."""
    ids = [c.id for c in a.cases] + [c.id for c in b.cases if c.id not in {x.id for x in a.cases}]
    by_a, by_b = {c.id: c for c in a.cases}, {c.id: c for c in b.cases}
    header = ["case", *(name for name, _, _ in _COLUMNS)]
    rows = [header]
    for case_id in ids:
        row = [case_id]
        for _, get, percent in _COLUMNS:
            va = get(by_a[case_id]) if case_id in by_a else None
            vb = get(by_b[case_id]) if case_id in by_b else None
            delta = _delta(va, vb, percent)
            row.append(f"{_cell(va, percent)} -> {_cell(vb, percent)} ({delta})")
        rows.append(row)
    ta, tb = a.totals, b.totals
    total = ["TOTAL (micro; findings per PR)"]
    for va, vb in ((ta.precision, tb.precision), (ta.recall, tb.recall), (ta.f1, tb.f1)):
        total.append(f"{pct(va)} -> {pct(vb)} ({_delta(va, vb)})")
    pa, pb = ta.findings_per_pr, tb.findings_per_pr
    per_pr = [("-" if v is None else f"{v:.1f}") for v in (pa, pb)]
    total.append(f"{per_pr[0]} -> {per_pr[1]} ({_delta(pa, pb, percent=False, decimals=1)})")
    tok_a, tok_b = float(_tokens(ta) or 0), float(_tokens(tb) or 0)
    total.append(f"{tok_a:,.0f} -> {tok_b:,.0f} ({_delta(tok_a, tok_b, percent=False)})")
    rows.append(total)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        f"A: {a.dataset} {a.started_at} model {a.model}",
        f"B: {b.dataset} {b.started_at} model {b.model}",
        "",
    ]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    macro = _delta(ta.macro_f1, tb.macro_f1)
    lines.append(f"macro F1: {pct(ta.macro_f1)} -> {pct(tb.macro_f1)} ({macro})")
    return "\n".join(lines) + "\n"
