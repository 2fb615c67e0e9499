"""Stable identities for findings, and the hidden markers the bot leaves on GitHub.

A finding's fingerprint hashes its path, its normalised title and body and the
text of the code line it is anchored to, never its line number: a push that
shifts the file by ten lines keeps the fingerprint, so a re-review does not
repeat a comment the PR already has. Numbers in the prose are blanked for the
same reason ("line 42" becomes "line #").

Markers are HTML comments (invisible on GitHub) at a fixed place in a body the
bot wrote: the fingerprint is the LAST line of an inline comment, the review
and summary markers are the FIRST line of their bodies. Parsers look only
there, so a marker-shaped string inside model text (which sanitising breaks
anyway) can never be taken for one of ours.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Final

import msgspec

from worker.diff.model import Side
from worker.diff.parse import ParsedFile
from worker.model_answer import Finding

FINGERPRINT_LENGTH: Final = 16
SUMMARY_MARKER: Final = "<!-- kimi-review:summary -->"

_FP_MARKER: Final = re.compile(r"^<!-- kimi-review:fp=(?P<fp>[0-9a-f]{16}) -->$")
_REVIEW_MARKER: Final = re.compile(
    r"^<!-- kimi-review:review sha=(?P<sha>[0-9a-f]{7,64})"
    r"(?: run=(?P<run>[A-Za-z0-9_.:-]{1,64}))? -->$"
)
_RUN_ID: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_SHA: Final = re.compile(r"^[0-9a-f]{7,64}$")
_MARKDOWN_NOISE: Final = re.compile(r"[`*_~>#\[\]()!|\"'.,;:?]+")
_NUMBER: Final = re.compile(r"\d+")


class ReviewMarker(msgspec.Struct, frozen=True):
    """What a review's marker says: the head it reviewed, and which run posted it."""

    head_sha: str
    run: str | None = None


def normalise_text(text: str) -> str:
    """Prose reduced to what survives rewording noise: case, markdown, numbers, spacing."""
    text = _MARKDOWN_NOISE.sub(" ", text.lower())
    return " ".join(_NUMBER.sub("#", text).split())


def finding_fingerprint(finding: Finding, anchored_code: str | None) -> str:
    """16 hex digits identifying `finding` across pushes (see the module docstring).

    `anchored_code` is the text of the line the finding is anchored to; only
    its stripped content counts, so re-indenting it does not change the
    fingerprint. When it is None (unknown), the line number stands in.
    """
    parts = (
        _normalise_path(finding.path),
        finding.side,
        normalise_text(finding.title),
        normalise_text(finding.body),
        # Without the code, the line number is all that tells two findings
        # of the same wording apart; such a fingerprint does not survive a
        # shift, so callers pass `line_text` whenever they have the diff.
        f"#line {finding.line}" if anchored_code is None else " ".join(anchored_code.split()),
    )
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def line_texts(files: Iterable[ParsedFile]) -> Callable[[str, Side, int], str | None]:
    """`(path, side, line) -> text` over the parsed diff, for `place_findings(line_text=...)`."""
    texts: dict[tuple[str, Side, int], str] = {}
    for parsed in files:
        for hunk in parsed.hunks:
            for diff_line in hunk.lines:
                if diff_line.new is not None:
                    texts[(parsed.path, "RIGHT", diff_line.new)] = diff_line.text
                if diff_line.old is not None:
                    texts[(parsed.path, "LEFT", diff_line.old)] = diff_line.text
    return lambda path, side, line: texts.get((path, side, line))


def fingerprint_marker(fingerprint: str) -> str:
    """The hidden line ending an inline comment: `<!-- kimi-review:fp=... -->`."""
    marker = f"<!-- kimi-review:fp={fingerprint} -->"
    if _FP_MARKER.match(marker) is None:
        raise ValueError(f"not a fingerprint: {fingerprint!r}")
    return marker


def review_marker(head_sha: str, run: str | None = None) -> str:
    """The hidden first line of a review: `<!-- kimi-review:review sha=... -->`.

    `run` tells apart the extra review an explicit `/review full` adds for a
    head already reviewed (e.g. `comment-1234`); the automatic one has none.
    """
    if _SHA.match(head_sha) is None:
        raise ValueError(f"not a commit SHA: {head_sha!r}")
    if run is None:
        return f"<!-- kimi-review:review sha={head_sha} -->"
    if _RUN_ID.match(run) is None:
        raise ValueError(f"not a run id: {run!r}")
    return f"<!-- kimi-review:review sha={head_sha} run={run} -->"


def fingerprint_of_comment(body: str | None) -> str | None:
    """The fingerprint an earlier inline comment of the bot carries, if any."""
    if not body:
        return None
    found = _FP_MARKER.match(body.rstrip().rsplit("\n", 1)[-1].strip())
    return found["fp"] if found else None


def earlier_fingerprints(comment_bodies: Iterable[str | None]) -> frozenset[str]:
    """Every fingerprint found in the bodies of the bot's earlier review comments."""
    found = (fingerprint_of_comment(body) for body in comment_bodies)
    return frozenset(fp for fp in found if fp is not None)


def review_marker_of(body: str | None) -> ReviewMarker | None:
    """The marker heading an earlier review body of the bot, if any."""
    found = _REVIEW_MARKER.match(_first_line(body))
    return ReviewMarker(found["sha"], found["run"]) if found else None


def is_summary_comment(body: str | None) -> bool:
    """True for the bot's sticky summary comment (its first line is the marker)."""
    return _first_line(body) == SUMMARY_MARKER


def already_reviewed(review_bodies: Iterable[str | None], head_sha: str, run: str | None) -> bool:
    """True when one of the bot's reviews already covers (head_sha, run): do not post again."""
    wanted = ReviewMarker(head_sha, run)
    return any(review_marker_of(body) == wanted for body in review_bodies)


def _first_line(body: str | None) -> str:
    return (body or "").lstrip().split("\n", 1)[0].strip()


def _normalise_path(path: str) -> str:
    path = path.strip().lstrip("/")
    while path.startswith("./"):
        path = path[2:]
    return path
