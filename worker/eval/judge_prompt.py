"""The judge's messages for one case, and the decoding of its answer. Pure.

The template is `prompts/judge.md`: the instructions, then a line
`<!-- user -->`, then the user message with `{{expected}}` and
`{{findings}}`. Expected issues come from the dataset (trusted); findings
come from the reviewed model, which the PR's content can steer, so they are
fenced as untrusted data like every PR text in the review prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from worker.eval.dataset import ExpectedIssue
from worker.review.prompt import PROMPTS_DIR, PromptTemplateError, fence

USER_MARK: Final = "<!-- user -->"
_INDEX: Final = re.compile(r"[A-Za-z]?(\d+)")


@dataclass(frozen=True, slots=True)
class JudgedFinding:
    """What the judge is shown of one finding."""

    path: str
    line: int
    severity: str
    category: str
    title: str
    body: str


class JudgeAnswerError(ValueError):
    """The judge's answer is not the JSON asked for; the message says what is wrong."""


class _Match(msgspec.Struct):
    expected: int | str
    finding: int | str | None = None
    reason: str = ""


class _Answer(msgspec.Struct):
    matches: list[_Match]


_decoder: Final = msgspec.json.Decoder(_Answer)


def load_judge_template(directory: Path = PROMPTS_DIR) -> tuple[str, str]:
    """(system, user template) from judge.md."""
    try:
        text = (directory / "judge.md").read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptTemplateError(f"cannot read {directory / 'judge.md'}: {exc}") from exc
    if USER_MARK not in text:
        raise PromptTemplateError(f"{directory / 'judge.md'} lacks the line {USER_MARK}")
    system, user = text.split(USER_MARK, 1)
    return system.strip() + "\n", user.strip() + "\n"


def render_expected(issues: Sequence[ExpectedIssue]) -> str:
    blocks = []
    for n, issue in enumerate(issues):
        where = ""
        if issue.path:
            where = f" {issue.path}" + (f":{issue.line}" if issue.line else "")
        blocks.append(f"[E{n}] ({issue.severity}){where}\n{issue.text.strip()}")
    return "\n\n".join(blocks)


def render_findings(findings: Sequence[JudgedFinding]) -> str:
    if not findings:
        return fence("findings", "(the reviewer reported no findings)")
    blocks = [
        f"[F{n}] {f.path}:{f.line} ({f.severity}, {f.category}) {f.title.strip()}\n{f.body.strip()}"
        for n, f in enumerate(findings)
    ]
    return fence("findings", "\n\n".join(blocks))


def judge_messages(
    expected: Sequence[ExpectedIssue],
    findings: Sequence[JudgedFinding],
    template: tuple[str, str],
) -> list[dict[str, str]]:
    system, user = template
    values = {"expected": render_expected(expected), "findings": render_findings(findings)}
    filled = re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m.group(1), m.group(0)), user)
    return [{"role": "system", "content": system}, {"role": "user", "content": filled}]


def _index(value: int | str | None, prefix: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    match = _INDEX.fullmatch(value.strip())
    if match is None or (value.strip()[0].isalpha() and value.strip()[0].upper() != prefix):
        raise JudgeAnswerError(f"{value!r} is not a {prefix}-number")
    return int(match.group(1))


def parse_judge_answer(
    text: str, expected: int, findings: int
) -> tuple[list[int | None], list[str]]:
    """(matched finding per expected issue, reason per expected issue), or JudgeAnswerError."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        answer = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise JudgeAnswerError(f"not the JSON object asked for: {exc}") from None
    matches: list[int | None] = [None] * expected
    reasons = [""] * expected
    seen: set[int] = set()
    for entry in answer.matches:
        which = _index(entry.expected, "E")
        if which is None or not 0 <= which < expected:
            raise JudgeAnswerError(f"expected {entry.expected!r} is not E0..E{expected - 1}")
        if which in seen:
            raise JudgeAnswerError(f"expected issue E{which} is answered twice")
        seen.add(which)
        finding = _index(entry.finding, "F")
        if finding is not None and not 0 <= finding < findings:
            raise JudgeAnswerError(
                f"finding {entry.finding!r} does not exist (F0..F{findings - 1})"
            )
        matches[which] = finding
        reasons[which] = " ".join(entry.reason.split())[:300]
    missing = [f"E{n}" for n in range(expected) if n not in seen]
    if missing:
        raise JudgeAnswerError(f"no entry for {', '.join(missing)}")
    return matches, reasons
