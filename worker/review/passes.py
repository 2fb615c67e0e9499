"""Several finder passes over one chunk, merged into one answer (API_LLM_REVIEW_PASSES).

Each pass sends the chunk's finder prompt again as an independent sample.
Pass 1 is the prompt unchanged; pass k > 1 ends its user message with a
one-line note ("pass k of N"), after the diff, so a provider that caches or
memoises identical requests still samples anew while the long shared prefix
(system message, PR context, diff) stays cacheable.

Merging keeps one finding per problem: two findings on the same path and
side, lines within `NEAR_LINES` of each other and with similar titles (or the
very same normalised title and body) are one problem, and the more severe,
then the more detailed, is kept. The chunk summary is pass 1's (the first
usable one): summaries of the same diff say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Final

from worker.llm.base import TokenUsage
from worker.model_answer import SEVERITY_RANK, ChunkAnswer, Finding
from worker.publish.fingerprint import normalise_text
from worker.review.chunk_review import ChunkResult

NEAR_LINES: Final = 3
TITLE_SIMILARITY: Final = 0.6  # difflib ratio of normalised titles; rewordings score ~0.7+
SAMPLE_NOTE: Final = "\n\n(Independent review pass {k} of {n}: review the diff afresh.)"


def pass_messages(messages: Sequence[Mapping[str, str]], k: int, n: int) -> list[dict[str, str]]:
    """The finder messages for pass `k` of `n`; pass 1's are the messages unchanged."""
    copied = [{"role": m["role"], "content": m["content"]} for m in messages]
    if k > 1 and copied:
        copied[-1]["content"] += SAMPLE_NOTE.format(k=k, n=n)
    return copied


def same_problem(a: Finding, b: Finding) -> bool:
    """Whether two findings name one problem (see the module docstring)."""
    if a.path != b.path or a.side != b.side or abs(a.line - b.line) > NEAR_LINES:
        return False
    title_a, title_b = normalise_text(a.title), normalise_text(b.title)
    if title_a == title_b:
        return True
    return SequenceMatcher(None, title_a, title_b).ratio() >= TITLE_SIMILARITY


def _preference(finding: Finding) -> tuple[int, int, int]:
    """Lower is better: more severe, then with a suggestion, then the longer body."""
    return (
        SEVERITY_RANK[finding.severity],
        0 if finding.suggestion else 1,
        -len(finding.body),
    )


def merge_findings(passes: Sequence[Sequence[Finding]]) -> list[Finding]:
    """Every pass's findings, one per problem, in first-seen order."""
    kept: list[Finding] = []
    for findings in passes:
        for finding in findings:
            for i, other in enumerate(kept):
                if same_problem(finding, other):
                    if _preference(finding) < _preference(other):
                        kept[i] = finding
                    break
            else:
                kept.append(finding)
    return kept


def merge_results(results: Sequence[ChunkResult]) -> ChunkResult:
    """One result for a chunk's passes: findings merged, usage and notes summed.

    The chunk is dropped (answer None) only when no pass gave a usable answer.
    """
    first = results[0]
    if len(results) == 1:
        return first
    answers = [r.answer for r in results if r.answer is not None]
    usage = TokenUsage()
    for result in results:
        usage += result.usage
    notes = [n for r in results for n in r.notes]
    if answers and first.answer is None:
        notes = [n for n in notes if not n.startswith("chunk dropped")]
    merged = (
        ChunkAnswer(
            summary=next((a.summary for a in answers if a.summary.strip()), ""),
            findings=merge_findings([a.findings for a in answers]),
        )
        if answers
        else None
    )
    return ChunkResult(
        answer=merged,
        usage=usage,
        role=first.role,
        model=first.model,
        notes=tuple(dict.fromkeys(notes)),
        thinking=first.thinking,
        reasoning_chars=sum(r.reasoning_chars for r in results),
        repaired=any(r.repaired for r in results),
    )
