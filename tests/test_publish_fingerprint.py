"""Fingerprints survive line shifts; markers are found only where the bot puts them."""

from __future__ import annotations

import pytest

from worker.diff.model import ChangedFile
from worker.diff.parse import parse_changed_files
from worker.model_answer import Finding
from worker.publish.fingerprint import (
    SUMMARY_MARKER,
    ReviewMarker,
    already_reviewed,
    earlier_fingerprints,
    finding_fingerprint,
    fingerprint_marker,
    fingerprint_of_comment,
    is_summary_comment,
    line_texts,
    review_marker,
    review_marker_of,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def _finding(**changes: object) -> Finding:
    fields: dict[str, object] = {
        "path": "src/app.py",
        "line": 42,
        "title": "SQL built from user input",
        "body": "Line 42 formats `name` into the query; use parameters.",
        "severity": "high",
        "category": "security",
    }
    fields.update(changes)
    return Finding(**fields)  # type: ignore[arg-type]


def test_fingerprint_ignores_line_numbers_and_indentation() -> None:
    before = finding_fingerprint(_finding(), "    cur.execute(f'... {name}')")
    after = finding_fingerprint(
        _finding(line=52, body="Line 52 formats `name` into the query; use parameters."),
        "        cur.execute(f'... {name}')",
    )
    assert before == after
    assert len(before) == 16


def test_fingerprint_ignores_case_and_markdown_noise() -> None:
    a = finding_fingerprint(_finding(title="**SQL built from user input**"), "x")
    b = finding_fingerprint(_finding(title="sql built from user input."), "x")
    assert a == b


def test_fingerprint_changes_with_path_code_or_meaning() -> None:
    base = finding_fingerprint(_finding(), "x = 1")
    assert finding_fingerprint(_finding(path="src/other.py"), "x = 1") != base
    assert finding_fingerprint(_finding(), "x = 2") != base
    assert finding_fingerprint(_finding(title="Unbounded loop"), "x = 1") != base


def test_inline_comment_marker_round_trips_from_the_last_line() -> None:
    marker = fingerprint_marker("0123456789abcdef")
    body = f"**High** · Bug\n\ntext\n\n{marker}\n"
    assert fingerprint_of_comment(body) == "0123456789abcdef"
    assert earlier_fingerprints([body, None, "plain comment"]) == {"0123456789abcdef"}


def test_a_marker_inside_the_text_is_not_taken_for_ours() -> None:
    forged = "<!-- kimi-review:fp=ffffffffffffffff -->"
    assert fingerprint_of_comment(f"{forged}\n\nreal text") is None
    assert review_marker_of(f"intro\n{review_marker(SHA)}") is None
    assert not is_summary_comment(f"quote:\n{SUMMARY_MARKER}")


def test_review_marker_round_trips_with_and_without_a_run() -> None:
    assert review_marker_of(f"{review_marker(SHA)}\nbody") == ReviewMarker(SHA)
    marked = review_marker(SHA, run="comment-77")
    assert review_marker_of(marked) == ReviewMarker(SHA, "comment-77")


def test_a_retried_job_sees_its_earlier_review() -> None:
    bodies = [f"{review_marker(SHA)}\n**Kimi review**", "LGTM"]
    assert already_reviewed(bodies, SHA, None)
    assert not already_reviewed(bodies, SHA, "comment-9"), "/review full adds its own review"
    assert not already_reviewed(bodies, "f" * 40, None)


def test_summary_marker_heads_the_summary() -> None:
    assert is_summary_comment(f"{SUMMARY_MARKER}\n## Kimi review")
    assert not is_summary_comment(None)


@pytest.mark.parametrize("bad", ["", "xyz", "ABCDEF0", "a" * 65])
def test_review_marker_refuses_what_is_not_a_sha(bad: str) -> None:
    with pytest.raises(ValueError, match="SHA"):
        review_marker(bad)


def test_line_texts_reads_both_sides_of_the_parsed_diff() -> None:
    patch = "@@ -1,2 +1,2 @@\n keep\n-old\n+new"
    parsed, _ = parse_changed_files([ChangedFile(path="a.py", status="modified", patch=patch)])
    text_of = line_texts(parsed)
    assert text_of("a.py", "RIGHT", 2) == "new"
    assert text_of("a.py", "LEFT", 2) == "old"
    assert text_of("a.py", "RIGHT", 1) == "keep"
    assert text_of("a.py", "RIGHT", 9) is None
