"""The messages of the verifying pass for one chunk (pure rendering).

The verifier sees what the finder saw: its user message is the chunk's finder
user message as it was sent (PR context, repository context once the prompt
carries it, the fenced diff), followed by the candidate findings, numbered,
in an untrusted block of their own (model output steered by PR content is
data, never instructions). The system message is `prompts/verify.md`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Final

import msgspec

from worker.model_answer import Finding
from worker.review.prompt import PROMPTS_DIR, PromptTemplateError, fence

FINDINGS_HEADING: Final = (
    "\n\nThe findings to check (numbered; one JSON object per line, written by a reviewer "
    "model from the text above):\n"
)


def load_verify_template(directory: Path = PROMPTS_DIR) -> str:
    """Read `verify.md`, the verifier's system message."""
    try:
        return (directory / "verify.md").read_text(encoding="utf-8").strip() + "\n"
    except OSError as exc:
        raise PromptTemplateError(f"cannot read {directory / 'verify.md'}: {exc}") from exc


@lru_cache(maxsize=1)
def default_verify_template() -> str:
    """The shipped `prompts/verify.md` (read once, on first use)."""
    return load_verify_template()


def render_findings(findings: Sequence[Finding]) -> str:
    """One numbered JSON object per finding (ids from 1), the fields a verdict needs."""
    lines = []
    for number, finding in enumerate(findings, start=1):
        fields = msgspec.to_builtins(finding).items()
        entry = {"id": number, **{k: v for k, v in fields if v is not None}}
        lines.append(msgspec.json.encode(entry).decode())
    return "\n".join(lines)


def verify_messages(
    finder_messages: Sequence[Mapping[str, str]],
    findings: Sequence[Finding],
    system: str | None = None,
) -> list[dict[str, str]]:
    """[system, user]: the finder's user message, then the findings to check."""
    user = next(m["content"] for m in reversed(finder_messages) if m["role"] == "user")
    content = user + FINDINGS_HEADING + fence("findings", render_findings(findings))
    return [
        {"role": "system", "content": system if system is not None else default_verify_template()},
        {"role": "user", "content": content},
    ]
