"""The sticky summary comment: one per PR, edited in place on every review.

It says what the PR changes (the chunk summaries merged), the findings by
severity, every finding not posted inline with why, what was not reviewed
(skipped files, masked secrets, dropped chunks), and how the run went (model,
fallback, tokens, quota). Its first line is the summary marker, by which the
next review finds the comment to edit.
"""

from __future__ import annotations

import re

import msgspec

from worker.diff.long_lines import MAX_LINE_CHARS, LongLine
from worker.diff.model import SkippedFile
from worker.model_answer import SEVERITY_RANK, RefutedFinding
from worker.publish import messages
from worker.publish.findings import Placement, SummaryFinding, count_by_severity
from worker.publish.fingerprint import SUMMARY_MARKER
from worker.publish.render import GITHUB_BODY_LIMIT, TITLE_LIMIT, fit_body
from worker.publish.sanitize import (
    code_span,
    fence_for,
    sanitize_line,
    sanitize_markdown,
    unclosed_fence,
)


class MaskedSecret(msgspec.Struct, frozen=True):
    """A diff line whose secret-looking value was masked before the model saw it."""

    path: str
    line: int


class DroppedChunk(msgspec.Struct, frozen=True):
    """A chunk whose answer could not be used, with why and which files it covered."""

    chunk_id: str
    reason: str
    paths: list[str] = msgspec.field(default_factory=list)


class TokenUse(msgspec.Struct, frozen=True):
    prompt: int = 0
    completion: int = 0
    cached: int = 0


class SummaryInput(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the summary reports besides the placed findings."""

    head_sha: str
    model: str
    chunk_summaries: list[str] = msgspec.field(default_factory=list)
    incremental: bool = False
    base_sha: str | None = None  # incremental: the head reviewed last time
    skipped_files: list[SkippedFile] = msgspec.field(default_factory=list)
    masked_secrets: list[MaskedSecret] = msgspec.field(default_factory=list)
    long_lines: list[LongLine] = msgspec.field(default_factory=list)
    dropped_chunks: list[DroppedChunk] = msgspec.field(default_factory=list)
    fallback_model: str | None = None  # set when the fallback answered at least one chunk
    fallback_reason: str | None = None
    thinking: bool | None = None
    tokens: TokenUse = msgspec.field(default_factory=TokenUse)
    quota_line: str | None = None  # e.g. "62% of this week's budget used; refreshes 2026-11-28"
    config_note: str | None = None  # an invalid .kimi-review.toml: what was wrong (defaults used)
    link_host: str | None = None  # the GitHub web host model-written links may point to
    token_ceiling: int | None = None  # the review's token ceiling, for the "cut short" line
    run_notes: list[str] = msgspec.field(default_factory=list)  # context, instruction files
    refuted: list[RefutedFinding] = msgspec.field(default_factory=list)  # dropped by verification
    round_notes: list[str] = msgspec.field(default_factory=list)  # extra passes/verify skipped


def merge_chunk_summaries(summaries: list[str], *, link_host: str | None = None) -> list[str]:
    """The chunks' summaries as one list of bullet items, repeats removed.

    A paragraph becomes one item, a list gives one item per entry; a summary
    holding a code block is kept as one block item, indented under its bullet.
    """
    items: list[str] = []
    seen: set[str] = set()
    for summary in summaries:
        text = sanitize_markdown(summary, link_host=link_host).strip()
        if not text:
            continue
        for item in _items_of(text):
            key = _item_key(item)
            if key and key not in seen:
                seen.add(key)
                items.append(item)
    return items


def render_summary(placement: Placement, info: SummaryInput, *, cap: int | None = None) -> str:
    """The sticky summary's markdown, its marker first, within GitHub's size limit."""
    sections = [_heading(info), _changes(info), _findings(placement, cap, info.link_host)]
    sections += [_not_reviewed(info), _run(info)]
    content = "\n\n".join(s for s in sections if s)
    return fit_body(content, head=f"{SUMMARY_MARKER}\n", limit=GITHUB_BODY_LIMIT)


def _heading(info: SummaryInput) -> str:
    head = code_span(info.head_sha[:7])
    if info.incremental and info.base_sha:
        scope = f"changes since the last review, {code_span(info.base_sha[:7])}…{head}"
    else:
        scope = f"the whole pull request at {head}"
    return f"## {messages.PRODUCT}\n\nReviewed {scope}."


def _changes(info: SummaryInput) -> str:
    items = merge_chunk_summaries(info.chunk_summaries, link_host=info.link_host)
    if not items:
        return ""
    return "### What this PR changes\n\n" + "\n".join(_bullet(i) for i in items)


def _findings(placement: Placement, cap: int | None, link_host: str | None) -> str:
    inline = count_by_severity(c.finding for c in placement.inline)
    listed = count_by_severity(c.finding for c in placement.in_summary)
    if not any(inline.values()) and not any(listed.values()):
        lines = ["### Findings", "", "No new findings."]
    else:
        lines = ["### Findings", "", "| severity | inline | listed below |", "|---|--:|--:|"]
        for severity in SEVERITY_RANK:
            if inline[severity] or listed[severity]:
                badge = messages.SEVERITY_BADGE[severity]
                lines.append(f"| {badge} | {inline[severity]} | {listed[severity]} |")
    notes = []
    if placement.already_posted:
        n = len(placement.already_posted)
        notes.append(f"{n} finding{'s' if n != 1 else ''} already raised by an earlier review")
    if placement.merged_duplicates:
        n = placement.merged_duplicates
        notes.append(f"{n} duplicate{'s' if n != 1 else ''} merged")
    if notes:
        lines += ["", f"Not repeated: {'; '.join(notes)}."]
    if placement.in_summary:
        lines += ["", "#### Not posted inline", ""]
        lines += [_listed_finding(c, cap, link_host) for c in placement.in_summary]
    return "\n".join(lines)


def _listed_finding(item: SummaryFinding, cap: int | None, link_host: str | None) -> str:
    finding = item.finding
    reason = messages.NOT_INLINE_REASON[item.reason]
    if item.reason == "over_cap" and cap is not None:
        reason = f"over the cap of {cap} inline comments"
    where = code_span(f"{finding.path}:{finding.line}")
    badge = messages.SEVERITY_BADGE[finding.severity]
    title = sanitize_line(finding.title, link_host=link_host, limit=TITLE_LIMIT)
    head = f"**{badge}** {where} **{title}** _({reason})_"
    body = sanitize_markdown(finding.body, link_host=link_host).strip()
    if finding.suggestion and finding.suggestion.strip() and item.reason != "over_cap":
        body += "\n\nSuggested replacement:\n\n" + _code_block(finding.suggestion)
    return _bullet(f"{head}\n{body}" if body else head)


def _not_reviewed(info: SummaryInput) -> str:
    lines = []
    for skipped in info.skipped_files:
        wording = sanitize_line(messages.describe_skip(skipped.reason))
        lines.append(f"- {code_span(skipped.path)}: {wording}")
    for secret in info.masked_secrets:
        where = code_span(f"{secret.path}:{secret.line}")
        lines.append(f"- {where}: a secret-looking value was masked before the model saw it")
    for long in info.long_lines:
        where = code_span(f"{long.path}:{long.line}")
        size = f"{long.chars:,} characters, over the {MAX_LINE_CHARS:,}-character limit"
        lines.append(f"- {where}: line not sent to the model ({size})")
    for chunk in info.dropped_chunks:
        files = ", ".join(code_span(p) for p in chunk.paths) or code_span(chunk.chunk_id)
        lines.append(f"- {files}: not reviewed, {sanitize_line(chunk.reason)}")
    if not lines:
        return ""
    cut = [c for c in info.dropped_chunks if c.reason == messages.CEILING_REACHED]
    lead = f"{messages.ceiling_cut_short_note(len(cut), info.token_ceiling)}\n\n" if cut else ""
    return "### Not reviewed\n\n" + lead + "\n".join(lines)


def _run(info: SummaryInput) -> str:
    model = code_span(info.model)
    if info.thinking is not None:
        model += " with thinking" if info.thinking else " without thinking"
    lines = [f"- Model: {model}"]
    if info.fallback_model:
        why = f" ({sanitize_line(info.fallback_reason)})" if info.fallback_reason else ""
        lines.append(f"- Fallback served: {code_span(info.fallback_model)}{why}")
    tokens = info.tokens
    lines.append(
        f"- Tokens: {tokens.prompt:,} in ({tokens.cached:,} cached), {tokens.completion:,} out"
    )
    if info.quota_line:
        lines.append(f"- Quota: {sanitize_line(info.quota_line)}")
    lines += [f"- {sanitize_line(note)}" for note in info.run_notes]
    if info.config_note:
        note = sanitize_line(info.config_note)
        lines.append(f"- Config: `.kimi-review.toml` not used, defaults applied: {note}")
    return "### Run\n\n" + "\n".join(lines)


def _items_of(text: str) -> list[str]:
    if unclosed_fence(text) is not None or "```" in text or "~~~" in text:
        return [text]
    items: list[str] = []
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        if lines and all(_is_list_item(line) for line in lines):
            items += [_strip_marker(line) for line in lines]
        elif lines:
            items.append(" ".join(_strip_heading(line) for line in lines))
    return items


def _item_key(item: str) -> str:
    # Case, markdown and punctuation differ between chunks saying the same
    # thing; numbers do not ("adds 3 tests" and "adds 5 tests" are two items).
    return " ".join(re.sub(r"[`*_~>#\[\]()!|\"'.,;:?]+", " ", item.lower()).split())


def _is_list_item(line: str) -> bool:
    head = line.split(" ", 1)[0]
    return head in ("-", "*", "+") or (head.endswith((".", ")")) and head[:-1].isdigit())


def _strip_marker(line: str) -> str:
    return line.split(" ", 1)[1].strip() if " " in line else line


def _strip_heading(line: str) -> str:
    stripped = line.lstrip("#").strip()
    return f"**{stripped}**" if line.startswith("#") and stripped else line


def _bullet(text: str) -> str:
    first, _, rest = text.partition("\n")
    if not rest:
        return f"- {first}"
    return f"- {first}\n" + "\n".join(f"  {line}" if line else "" for line in rest.split("\n"))


def _code_block(code: str) -> str:
    fence = fence_for(code)
    return f"{fence}\n{code.removesuffix(chr(10))}\n{fence}"
