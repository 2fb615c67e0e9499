"""The model's answer for one chunk (docs/ARCHITECTURE.md, "The model's answer").

Decoded with msgspec from the JSON object the prompt asks for. Unknown fields
are ignored and optional fields have defaults, so a model that adds or omits
an optional field still decodes; a wrong type is a decode error that the
client turns into one repair round-trip.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from worker.config import Severity as Severity  # re-exported: the answer's vocabulary

Category = Literal["bug", "security", "performance", "correctness", "maintainability", "style"]
SEVERITY_RANK: Final[dict[str, int]] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    line: int
    title: str
    body: str
    severity: Severity = "medium"
    category: Category = "correctness"
    side: Literal["LEFT", "RIGHT"] = "RIGHT"
    start_line: int | None = None
    suggestion: str | None = None


class ChunkAnswer(msgspec.Struct, frozen=True, kw_only=True):
    summary: str = ""
    findings: list[Finding] = msgspec.field(default_factory=list)


class RefutedFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A finding the verifying pass dropped, and why: never posted inline, always listed."""

    finding: Finding
    reason: str = ""


_decoder: Final = msgspec.json.Decoder(ChunkAnswer)


def decode_answer(text: str | bytes) -> ChunkAnswer:
    """Decode a model's JSON answer; raises msgspec.ValidationError/DecodeError."""
    return _decoder.decode(text)
