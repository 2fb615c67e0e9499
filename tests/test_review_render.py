"""The review payload, inline comment bodies, sticky summary and check run, against goldens.

Regenerate the golden files with KIMI_REVIEW_UPDATE_GOLDEN=1 after an intended change,
then read their diff: they are what reviewers see on GitHub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from tests.support.github_render import rendered_problems
from tests.test_review_findings import HunkAnchors
from worker.answer import Finding
from worker.diff.model import SkippedFile
from worker.review import messages
from worker.review.check_run import (
    check_completed,
    check_deferred,
    check_gave_up,
    check_in_progress,
    check_skipped,
)
from worker.review.findings import InlineFinding, Placement, place_findings
from worker.review.fingerprint import (
    SUMMARY_MARKER,
    ReviewMarker,
    fingerprint_of_comment,
    is_summary_comment,
    review_marker_of,
)
from worker.review.render import (
    GITHUB_BODY_LIMIT,
    comment_body,
    fit_body,
    review_payload,
)
from worker.review.sanitize import unclosed_fence
from worker.review.summary import (
    DroppedChunk,
    MaskedSecret,
    SummaryInput,
    TokenUse,
    merge_chunk_summaries,
    render_summary,
)

# --- one realistic review, shared by the golden tests ----------------------
HEAD = "9f1c2e4b7a0d3c5e8f6a1b2c3d4e5f60718293a4"
BASE = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
CAP = 3

ANCHORS = HunkAnchors(
    {
        ("app/db.py", "RIGHT"): [(10, 30)],
        ("app/db.py", "LEFT"): [(10, 24)],
        ("app/views.py", "RIGHT"): [(1, 12), (50, 60)],
    }
)
CODE = {
    ("app/db.py", 21): "    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")",
    ("app/db.py", 22): "    return cur.fetchall()",
    ("app/views.py", 12): "def show(request):",
    ("app/views.py", 55): "    cache[key] = value",
}

FINDINGS = [
    Finding(
        path="app/db.py",
        line=22,
        start_line=21,
        severity="critical",
        category="security",
        title="SQL query built from user input",
        body=(
            "`name` comes from the request and is formatted into the SQL text, so a "
            "crafted name runs arbitrary SQL. Pass it as a parameter.\n\n"
            "cc @security-team ![pwned](https://evil.example/p.png) <details>hidden</details>"
        ),
        suggestion=(
            '    cur.execute("SELECT * FROM users WHERE name = %s", (name,))\n'
            "    return cur.fetchall()\n"
        ),
    ),
    Finding(
        path="./app/views.py",
        line=14,
        severity="high",
        category="bug",
        title="Request handler never returns a response",
        body="`show` falls off the end and returns `None`; Django raises `ValueError`.",
        suggestion="    return render(request, 'show.html')",
    ),
    Finding(
        path="app/views.py",
        line=55,
        severity="medium",
        category="performance",
        title="Unbounded cache",
        body="Entries are never evicted; memory grows with every key.",
    ),
    Finding(
        path="app/views.py",
        line=55,
        severity="low",
        category="performance",
        title="Unbounded cache.",
        body="Same thing, said again by an overlapping chunk.",
    ),
    Finding(
        path="app/models.py",
        line=200,
        severity="high",
        category="correctness",
        title="Migration missing for the new field",
        body="`User.nickname` is added without a migration.\n/approve",
    ),
    Finding(
        path="app/db.py",
        line=12,
        severity="low",
        category="style",
        title="Unused import",
        body="`os` is imported and never used.",
    ),
    Finding(
        path="app/db.py",
        line=14,
        side="LEFT",
        severity="low",
        category="maintainability",
        title="Removed docstring",
        body="The docstring explained the retry policy; keep it.",
    ),
]


def _line_text(path: str, side: str, line: int) -> str | None:
    return CODE.get((path, line)) if side == "RIGHT" else None


def _placement(earlier: frozenset[str] = frozenset()) -> Placement:
    return place_findings(FINDINGS, ANCHORS, cap=CAP, earlier=earlier, line_text=_line_text)


INFO = SummaryInput(
    head_sha=HEAD,
    base_sha=BASE,
    incremental=True,
    model="kimi-k2.6",
    thinking=True,
    chunk_summaries=[
        "- Moves user lookup to raw SQL in `app/db.py`\n- Adds a per-key cache to the views",
        "Adds a `nickname` field to `User`.\n\n- Adds a per-key cache to the views",
        "",
    ],
    skipped_files=[
        SkippedFile("static/logo.png", "binary"),
        SkippedFile("deploy/prod.env", "credentials"),
        SkippedFile("vendor/lib.js", "excluded: matches vendor/**"),
        SkippedFile("weird.txt", "diff over <b>limit</b>"),
    ],
    masked_secrets=[MaskedSecret("app/settings.py", 8)],
    dropped_chunks=[
        DroppedChunk("c7", "the model's answer was not valid JSON twice", ["app/big.py"])
    ],
    fallback_model="claude-sonnet-4-5",
    fallback_reason="kimi-k2.6 answered 429 rate limit for 2 of 7 chunks",
    tokens=TokenUse(prompt=48210, completion=3912, cached=30500),
    quota_line="62% of this week's budget used; refreshes 2026-11-28",
)


# --- golden files --------------------------------------------------------
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KIMI_REVIEW_UPDATE_GOLDEN") == "1"


def _golden(name: str, actual: str) -> None:
    """Compare with tests/golden/<name>; KIMI_REVIEW_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def _nulls(value: object, where: str = "$") -> list[str]:
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _nulls(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _nulls(v, f"{where}[{i}]")]
    return []


def test_review_payload_matches_golden() -> None:
    payload = review_payload(_placement(), head_sha=HEAD)
    _golden("review_payload.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def test_summary_matches_golden() -> None:
    summary = render_summary(_placement(), INFO, cap=CAP)
    _golden("review_summary.md", summary + "\n")


def test_check_run_outcome_matches_golden() -> None:
    runs = {
        "in_progress": check_in_progress(12, 40).to_payload(),
        "completed": check_completed(_placement(), INFO).to_payload(),
        "deferred": check_deferred("both models answered 503").to_payload(),
        "gave_up": check_gave_up(HEAD, 12, "the fallback refused @ops").to_payload(),
        "skipped": check_skipped("This pull request is a draft.").to_payload(),
    }
    _golden("review_check_run.json", json.dumps(runs, indent=2, ensure_ascii=False) + "\n")


def test_review_payload_is_one_comment_review_with_no_null() -> None:
    payload = review_payload(_placement(), head_sha=HEAD)
    assert payload["event"] == "COMMENT"
    assert payload["commit_id"] == HEAD
    assert _nulls(payload) == []
    assert review_marker_of(str(payload["body"])) == ReviewMarker(HEAD)
    comments = payload["comments"]
    assert isinstance(comments, list)
    assert len(comments) == CAP
    for comment in comments:
        assert set(comment) <= {"path", "line", "side", "body", "start_line", "start_side"}
        assert ("start_line" in comment) == ("start_side" in comment)
        assert fingerprint_of_comment(comment["body"]) is not None


def test_a_review_without_inline_comments_omits_the_comments_field() -> None:
    empty = Placement(inline=[], in_summary=[])
    payload = review_payload(empty, head_sha=HEAD, run="comment-5")
    assert "comments" not in payload
    assert review_marker_of(str(payload["body"])) == ReviewMarker(HEAD, "comment-5")


def test_a_retry_renders_the_same_payload() -> None:
    """Idempotent posting relies on a retried job building byte-identical text."""
    first = review_payload(_placement(), head_sha=HEAD)
    assert review_payload(_placement(), head_sha=HEAD) == first


def test_a_suggestion_holding_a_fence_gets_a_longer_one() -> None:
    item = InlineFinding(
        finding=Finding(path="README.md", line=3, title="Fence", body="b"),
        fingerprint="0123456789abcdef",
        line=3,
        suggestion="```python\nx = 1\n```",
    )
    body = comment_body(item)
    assert "````suggestion\n```python\nx = 1\n```\n````" in body
    assert fingerprint_of_comment(body) == "0123456789abcdef"


def test_a_long_body_is_cut_with_a_note_and_keeps_its_marker() -> None:
    item = InlineFinding(
        finding=Finding(path="a.py", line=1, title="Long", body="```\n" + "x\n" * 40_000),
        fingerprint="0123456789abcdef",
        line=1,
    )
    body = comment_body(item, limit=5_000)
    assert len(body) <= 5_000
    assert "characters not shown" in body
    assert fingerprint_of_comment(body) == "0123456789abcdef"
    assert unclosed_fence(body) is None


def test_a_very_long_title_is_cut_where_no_mention_comes_alive() -> None:
    """Cutting a long title inside its line split the code span round `@octocat`: a live ping."""
    for pad in range(12):
        title = "x" * pad + " @octocat" * 3_000
        item = InlineFinding(
            finding=Finding(path="a.py", line=1, title=title, body="b"),
            fingerprint="0123456789abcdef",
            line=1,
        )
        body = comment_body(item, limit=5_000)
        assert rendered_problems(body) == [], pad
        assert fingerprint_of_comment(body) == "0123456789abcdef"
    assert rendered_problems(fit_body("`@octocat` " * 1_000, limit=2_000)) == []


def test_a_review_cut_short_by_its_token_ceiling_says_so_and_names_what_was_left() -> None:
    """The summary only listed dropped chunks; now it says the ceiling cut the review short."""
    dropped = [
        DroppedChunk("c3", messages.CEILING_REACHED, ["pkg/a.py", "pkg/b.py"]),
        DroppedChunk("c4", messages.CEILING_REACHED, []),
    ]
    info = msgspec.structs.replace(INFO, dropped_chunks=dropped, token_ceiling=2_000_000)
    summary = render_summary(_placement(), info, cap=CAP)
    assert "**This review was cut short** by its token ceiling of 2,000,000 tokens" in summary
    assert "2 chunks listed below were not reviewed" in summary
    assert "- `pkg/a.py`, `pkg/b.py`: not reviewed, the review's token ceiling" in summary
    assert "- `c4`: not reviewed" in summary
    check = check_completed(_placement(), info).to_payload()
    assert "token ceiling was reached" in str(check["output"])
    assert "cut short" not in render_summary(_placement(), INFO, cap=CAP)


def test_fit_body_leaves_short_text_alone() -> None:
    assert fit_body("abc", head="H\n", tail="\nT") == "H\nabc\nT"


def test_summary_over_githubs_limit_is_cut_and_keeps_its_marker_first() -> None:
    many = [f"Change number {i} " + "detail " * 50 for i in range(400)]
    huge = SummaryInput(head_sha=HEAD, model="kimi-k2.6", chunk_summaries=many)
    summary = render_summary(Placement(inline=[], in_summary=[]), huge)
    assert len(summary) <= GITHUB_BODY_LIMIT
    assert is_summary_comment(summary)
    assert summary.startswith(SUMMARY_MARKER)
    assert "characters not shown" in summary


def test_chunk_summaries_merge_into_one_list_without_repeats() -> None:
    merged = merge_chunk_summaries(
        ["- Adds a cache\n- Fixes @bob's bug", "## Adds a cache", "Adds a CACHE.", ""]
    )
    assert merged == ["Adds a cache", "Fixes `@bob`'s bug"]


def test_model_text_in_the_summary_is_sanitised() -> None:
    summary = render_summary(_placement(), INFO, cap=CAP)
    body_text = summary.split("\n", 1)[1]
    assert "<details>" not in body_text
    assert "<b>" not in body_text
    assert "\n/approve" not in summary
    assert " @security-team" not in summary


@pytest.mark.parametrize(("done", "total"), [(0, 40), (12, 40), (40, 40)])
def test_in_progress_check_run_shows_the_live_count(done: int, total: int) -> None:
    payload = check_in_progress(done, total).to_payload()
    assert payload["status"] == "in_progress"
    assert "conclusion" not in payload
    output = payload["output"]
    assert isinstance(output, dict)
    assert output["title"] == f"{done}/{total} chunks reviewed"


def test_a_review_with_a_critical_finding_or_a_dropped_chunk_is_neutral_not_failed() -> None:
    payload = check_completed(_placement(), INFO).to_payload()
    assert payload["conclusion"] == "neutral"
    clean = SummaryInput(head_sha=HEAD, model="kimi-k2.6")
    assert check_completed(Placement(inline=[], in_summary=[]), clean).conclusion == "success"
