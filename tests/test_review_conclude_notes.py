"""What the summary says about a chunk comes from typed fields, not from matching note text."""

from __future__ import annotations

from worker.diff.model import ChangedFile
from worker.llm.base import TokenUsage
from worker.review.chunk_review import ChunkResult
from worker.review.conclude import conclude_review
from worker.review.pipeline import ChunkOutcomes
from worker.review.prepare import PreparedReview, ReviewOptions, prepare_review

# A provider's reason, quoted in the fallback's note, may say anything.
FALLBACK_NOTE = "fallback served (k2-backup): main: the connection was dropped mid-answer"
DROP_NOTE = "chunk dropped: unparsable answer twice (expected an object)"


def _prepared_one_chunk() -> tuple[PreparedReview, ChunkOutcomes]:
    lines = ["def total(items):", "    return 0"]
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)
    prepared = prepare_review(
        [ChangedFile(path="src/a.py", status="added", patch=patch, additions=len(lines))],
        title="t",
        description="",
        repository="o/r",
        options=ReviewOptions(),
    )
    [chunk] = prepared.chunks
    result = ChunkResult(
        answer=None,
        usage=TokenUsage(),
        role="fallback",
        model="k2-backup",
        notes=(FALLBACK_NOTE, DROP_NOTE),
        thinking=False,
        fallback_note=FALLBACK_NOTE,
        drop_note=DROP_NOTE,
    )
    return prepared, ChunkOutcomes(results=[(chunk, result)])


def test_a_dropped_chunk_is_named_with_its_drop_reason_not_the_fallbacks() -> None:
    """Before: the drop reason was the first note containing "dropped", here the
    fallback's note (its quoted reason says "dropped"), so the summary misnamed it."""
    prepared, outcomes = _prepared_one_chunk()
    result = conclude_review(prepared, outcomes, cap=10)
    assert [d.reason for d in result.dropped] == [DROP_NOTE]
    assert result.fallback_reason == FALLBACK_NOTE
    assert result.fallback_model == "k2-backup"
