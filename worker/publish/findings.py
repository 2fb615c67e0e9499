"""Where every finding of a review goes: inline on the diff, or in the summary.

`place_findings` is total: each finding the model returned ends up exactly
once as an inline comment, as an entry of the summary (off the diff, over the
comment cap, later rejected by GitHub), as a duplicate merged into another
finding, or as one already posted by an earlier review of this PR. Nothing is
dropped silently; the summary counts the last two kinds.

Placement uses the anchor map (`worker.diff.model.AnchorLookup`): a finding on
a commentable line stays there; one just off it moves to the nearest
commentable line of the same hunk (at most `max_shift` lines away, and it
loses its suggestion, which no longer replaces the lines it was written
for); anything else goes to the summary. A ```suggestion is kept only on the
RIGHT side when every line it replaces is commentable in one hunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, Literal

import msgspec

from worker.diff.model import AnchorLookup, Side
from worker.model_answer import SEVERITY_RANK, Finding
from worker.publish.fingerprint import finding_fingerprint, normalise_text
from worker.publish.sanitize import contains_marker

SummaryReason = Literal["off_diff", "over_cap", "rejected"]
LineText = Callable[[str, Side, int], str | None]
"""The text of a diff line (path, side, line), for fingerprints; None if unknown."""

DEFAULT_MAX_SHIFT: Final = 10
CATEGORY_RANK: Final[dict[str, int]] = {
    "security": 0,
    "bug": 1,
    "correctness": 2,
    "performance": 3,
    "maintainability": 4,
    "style": 5,
}


class InlineFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A finding placed on a commentable line of the diff."""

    finding: Finding  # as the model wrote it (path resolved to the diff's)
    fingerprint: str
    line: int
    start_line: int | None = None  # only for a valid multi-line range
    moved_from: int | None = None  # the model's line when placement moved it
    suggestion: str | None = None  # only when it replaces exactly start_line..line

    @property
    def path(self) -> str:
        return self.finding.path

    @property
    def side(self) -> Side:
        return self.finding.side


class SummaryFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A finding listed in the summary instead of inline, with why."""

    finding: Finding
    fingerprint: str
    reason: SummaryReason


class Placement(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome for every finding of one review, ranked most severe first."""

    inline: list[InlineFinding]
    in_summary: list[SummaryFinding]
    already_posted: list[Finding] = msgspec.field(default_factory=list)
    merged_duplicates: int = 0


def comment_cap(default: int, repo_cap: int | None) -> int:
    """The inline comment cap: REVIEW_MAX_COMMENTS, lowered (never raised) by repo config."""
    return max(0, default if repo_cap is None else min(default, repo_cap))


def place_findings(
    findings: Iterable[Finding],
    anchors: AnchorLookup,
    *,
    cap: int,
    earlier: frozenset[str] = frozenset(),
    line_text: LineText | None = None,
    max_shift: int = DEFAULT_MAX_SHIFT,
) -> Placement:
    """Place, deduplicate, rank and cap one review's findings (see the module docstring).

    `earlier` holds the fingerprints of the bot's earlier comments on the PR.
    """
    candidates = [_anchor(f, anchors, line_text, max_shift) for f in findings]
    kept, merged = _deduplicate(candidates)
    fresh = [c for c in kept if c.fingerprint not in earlier]
    posted = [c.finding for c in kept if c.fingerprint in earlier]
    fresh.sort(key=_rank)
    inline = [c for c in fresh if isinstance(c, InlineFinding)]
    off_diff = [c for c in fresh if isinstance(c, SummaryFinding)]
    over = [
        SummaryFinding(finding=c.finding, fingerprint=c.fingerprint, reason="over_cap")
        for c in inline[cap:]
    ]
    return Placement(
        inline=inline[:cap],
        in_summary=sorted([*off_diff, *over], key=_rank),
        already_posted=posted,
        merged_duplicates=merged,
    )


def demote_rejected(placement: Placement, rejected: Iterable[int]) -> Placement:
    """Move the inline comments at these indices (GitHub refused them) to the summary."""
    refused = set(rejected)
    keep = [c for i, c in enumerate(placement.inline) if i not in refused]
    moved = [
        SummaryFinding(finding=c.finding, fingerprint=c.fingerprint, reason="rejected")
        for i, c in enumerate(placement.inline)
        if i in refused
    ]
    return msgspec.structs.replace(
        placement, inline=keep, in_summary=sorted([*placement.in_summary, *moved], key=_rank)
    )


def collapse_ranges(placement: Placement) -> Placement:
    """Every multi-line comment made single-line (GitHub refused a start_line).

    A suggestion replaces its whole range, so it goes with the range.
    """
    inline = [
        msgspec.structs.replace(c, start_line=None, suggestion=None) if c.start_line else c
        for c in placement.inline
    ]
    return msgspec.structs.replace(placement, inline=inline)


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each severity, every severity present (most severe first)."""
    counts = dict.fromkeys(SEVERITY_RANK, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def _anchor(
    finding: Finding, anchors: AnchorLookup, line_text: LineText | None, max_shift: int
) -> InlineFinding | SummaryFinding:
    side = finding.side
    for path in _path_candidates(finding.path):
        hunk = anchors.hunk_of(path, side, finding.line)
        if hunk is not None:
            return _inline(finding, path, finding.line, hunk, anchors, line_text)
        nearest = anchors.nearest(path, side, finding.line)
        if nearest is not None and abs(nearest - finding.line) <= max_shift:
            hunk = anchors.hunk_of(path, side, nearest)
            if hunk is not None:
                moved = _inline(finding, path, nearest, hunk, anchors, line_text)
                return msgspec.structs.replace(
                    moved, start_line=None, suggestion=None, moved_from=finding.line
                )
    resolved = msgspec.structs.replace(finding, path=_path_candidates(finding.path)[0])
    code = line_text(resolved.path, side, finding.line) if line_text else None
    fingerprint = finding_fingerprint(resolved, code)
    return SummaryFinding(finding=resolved, fingerprint=fingerprint, reason="off_diff")


def _inline(
    finding: Finding,
    path: str,
    line: int,
    hunk: int,
    anchors: AnchorLookup,
    line_text: LineText | None,
) -> InlineFinding:
    resolved = msgspec.structs.replace(finding, path=path)
    code = line_text(path, finding.side, line) if line_text else None
    start = finding.start_line
    range_ok = start is None or (
        start <= line
        and all(anchors.hunk_of(path, finding.side, n) == hunk for n in range(start, line))
    )
    suggestion = finding.suggestion
    if not range_ok or finding.side != "RIGHT" or suggestion is None or not suggestion.strip():
        suggestion = None
    elif contains_marker(suggestion):
        suggestion = None  # never post text shaped like the bot's own markers
    else:
        suggestion = suggestion.removesuffix("\n")
    return InlineFinding(
        finding=resolved,
        fingerprint=finding_fingerprint(resolved, code),
        line=line,
        start_line=start if range_ok and start is not None and start < line else None,
        suggestion=suggestion,
    )


def _path_candidates(path: str) -> list[str]:
    """The model's path, then the forms it likely meant (`./x`, `/x`, `b/x` from diff headers)."""
    cleaned = path.strip().lstrip("/")
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    found = [cleaned]
    if cleaned[:2] in ("a/", "b/"):
        found.append(cleaned[2:])
    return found


def _dedupe_keys(c: InlineFinding | SummaryFinding) -> tuple[str, str]:
    line = c.line if isinstance(c, InlineFinding) else c.finding.line
    place = f"{c.finding.path}:{c.finding.side}:{line}"
    return (f"fp:{c.fingerprint}", f"at:{place}:{normalise_text(c.finding.title)}")


def _deduplicate(
    candidates: Sequence[InlineFinding | SummaryFinding],
) -> tuple[list[InlineFinding | SummaryFinding], int]:
    """One finding per fingerprint or per (place, title); the better one wins."""
    kept: list[InlineFinding | SummaryFinding] = []
    slot_of: dict[str, int] = {}
    for candidate in candidates:
        keys = _dedupe_keys(candidate)
        slot = next((slot_of[k] for k in keys if k in slot_of), None)
        if slot is None:
            slot = len(kept)
            kept.append(candidate)
        elif _preference(candidate) < _preference(kept[slot]):
            kept[slot] = candidate
        for key in keys:
            slot_of.setdefault(key, slot)
    return kept, len(candidates) - len(kept)


def _preference(c: InlineFinding | SummaryFinding) -> tuple[int, int, int]:
    if isinstance(c, InlineFinding):
        return (SEVERITY_RANK[c.finding.severity], 0, 0 if c.suggestion is not None else 1)
    return (SEVERITY_RANK[c.finding.severity], 1, 1)


def _rank(c: InlineFinding | SummaryFinding) -> tuple[int, int, int, str, int]:
    moved = isinstance(c, InlineFinding) and c.moved_from is not None
    return (
        SEVERITY_RANK[c.finding.severity],
        CATEGORY_RANK.get(c.finding.category, len(CATEGORY_RANK)),
        1 if moved else 0,
        c.finding.path,
        c.line if isinstance(c, InlineFinding) else c.finding.line,
    )
