"""The verifying pass (API_LLM_VERIFY): one more call per chunk keeps or drops each finding.

The verifier drops only what the shown code refutes (wrong, already handled,
not about a changed line, a duplicate, pure taste) and keeps what is merely
unproven: a strict "keep only what is proven" verifier was measured trading
recall for precision one for one. It may correct a kept finding's line and
severity; it never adds findings (ids it invents are ignored).

It fails open: a finding without a verdict is kept, and an answer still
unusable after one repair keeps every finding, with a note for the summary.
The verifier must never lose a review. What it drops is returned as
`RefutedFinding`s, which the check run and the local reports list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Final, Literal

import msgspec
import structlog
from msgspec.structs import replace

from worker.config import Thinking
from worker.llm.base import ModelReply
from worker.model_answer import ChunkAnswer, Finding, RefutedFinding, Severity
from worker.review.chunk_review import EMPTY_ANSWER, ChunkResult, ChunkReviewer, strip_code_fence
from worker.review.verify_prompt import verify_messages

log = structlog.get_logger(__name__)

VERIFY_REPAIR_PROMPT: Final = (
    "Your previous answer could not be used: {error}. Answer again with only the JSON object "
    'described above ("verdicts", one per finding by its id), with no text before or after it.'
)
NO_VERDICTS: Final = "it held no verdicts"


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    verdict: Literal["keep", "drop"]
    reason: str = ""
    line: int | None = None
    severity: Severity | None = None


class VerifyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    verdicts: list[Verdict] = msgspec.field(default_factory=list)


# A bare list of verdicts is accepted too: some models drop the wrapper.
_decoder: Final = msgspec.json.Decoder(VerifyAnswer | list[Verdict])


def parse_verdicts(reply: ModelReply) -> tuple[list[Verdict] | None, str]:
    """(verdicts, "") or (None, why the answer cannot be used)."""
    text = strip_code_fence(reply.text)
    if not text:
        return None, EMPTY_ANSWER
    try:
        decoded = _decoder.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        why = str(exc)
        if reply.finish_reason == "length":
            why += " (the answer was cut off at max_completion_tokens)"
        return None, why
    verdicts = decoded if isinstance(decoded, list) else decoded.verdicts
    return (verdicts, "") if verdicts else (None, NO_VERDICTS)


def _corrected(finding: Finding, verdict: Verdict) -> Finding:
    """The finding with the verifier's line and severity, when it gave valid ones."""
    if verdict.severity is not None and verdict.severity != finding.severity:
        finding = replace(finding, severity=verdict.severity)
    if verdict.line is not None and verdict.line > 0 and verdict.line != finding.line:
        # The suggestion and range were written for the old line: they no longer apply.
        finding = replace(finding, line=verdict.line, start_line=None, suggestion=None)
    return finding


def apply_verdicts(
    findings: Sequence[Finding], verdicts: Sequence[Verdict]
) -> tuple[list[Finding], list[RefutedFinding]]:
    """(kept, dropped): a finding is dropped only by a `drop` verdict naming its id."""
    by_id: dict[int, Verdict] = {}
    for verdict in verdicts:
        by_id.setdefault(verdict.id, verdict)  # the first verdict for an id counts
    kept: list[Finding] = []
    dropped: list[RefutedFinding] = []
    for number, finding in enumerate(findings, start=1):
        said = by_id.get(number)
        if said is None:
            kept.append(finding)
        elif said.verdict == "drop":
            dropped.append(RefutedFinding(finding=finding, reason=said.reason))
        else:
            kept.append(_corrected(finding, said))
    return kept, dropped


async def verify_chunk(
    reviewer: ChunkReviewer,
    finder_messages: Sequence[Mapping[str, str]],
    findings: Sequence[Finding],
    *,
    chunk_tokens: int,
    review_key: str,
    thinking: Thinking | None = None,
) -> ChunkResult:
    """The verifying call's result: `answer.findings` kept, `refuted` dropped.

    Raises what a finder call raises (ModelsUnavailable, QuotaPaused,
    ContextTooLong) for the caller to handle.
    """
    asked = await reviewer.ask(
        verify_messages(finder_messages, findings),
        parse=parse_verdicts,
        repair=VERIFY_REPAIR_PROMPT,
        chunk_tokens=chunk_tokens,
        review_key=review_key,
        thinking=thinking,
    )
    if asked.value is None:
        log.warning("verify_unparsable", error=asked.error, review=review_key)
        note = f"verification skipped: unparsable answer twice ({asked.error}); all findings kept"
        return reviewer.result(
            ChunkAnswer(findings=list(findings)), asked.calls, asked.thinking, note
        )
    kept, dropped = apply_verdicts(findings, asked.value)
    log.info("chunk_verified", kept=len(kept), dropped=len(dropped), review=review_key)
    result = reviewer.result(ChunkAnswer(findings=kept), asked.calls, asked.thinking)
    return dataclasses.replace(result, refuted=tuple(dropped))
