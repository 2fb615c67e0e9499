"""The messages of the verifying pass for one chunk (pure rendering).

The verify request opens with the chunk's finder messages exactly as pass 1
sent them (system message, then the user message with the PR context, the
repository context and the fenced diff), so the provider's prefix cache
(Moonshot's context cache, Anthropic's and OpenAI's prefix caching) serves
them a second time instead of billing the chunk twice. Then comes an
`assistant` turn holding the candidate findings, numbered, in an untrusted
block of their own (model output steered by PR content is data, never
instructions), and last a `user` turn with the verifier's instructions,
`prompts/verify.md`. The roles alternate user/assistant/user after the
system message, as the Anthropic Messages API requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import msgspec

from worker.model_answer import Finding
from worker.review.prompt import PROMPTS_DIR, PromptTemplateError, fence


def load_verify_template(directory: Path = PROMPTS_DIR) -> str:
    """Read `verify.md`, the verifier's instructions (the request's last user message)."""
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
    instructions: str | None = None,
) -> list[dict[str, str]]:
    """[*finder messages, assistant: the numbered findings, user: the verifier's instructions]."""
    chosen = instructions if instructions is not None else default_verify_template()
    return [
        *({"role": m["role"], "content": m["content"]} for m in finder_messages),
        {"role": "assistant", "content": fence("findings", render_findings(findings))},
        {"role": "user", "content": chosen},
    ]
