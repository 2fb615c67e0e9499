"""The messages sent to the model for one chunk (pure rendering).

Every chunk of a pull request gets the same system message and a user
message that STARTS with the same text: the PR's title, description, list of
changed files, the maintainers' instructions (`.kimi-review.toml`'s and the
instruction files of the base branch) and the comment language. Only the
chunk's own part, last, differs: the repository context that explains it
(code from the head revision, fenced as untrusted data, never part of the
diff), then its diff. Providers with prefix caching
(Moonshot's automatic context cache) then bill the shared part once per PR at
the full rate and at the cache rate after that.

The title, description, file list and diff come from whoever opened the PR,
so each is fenced as untrusted data. A fence's tag is a hash of the name and
the content it encloses: deterministic (same prompt, same cache prefix, same
golden files) yet impossible to forge from inside, since text that closed
its own fence would have to contain a hash of itself.

Templates live in the repository's `prompts/` directory (`system.md`,
`review.md`, placeholders `{{name}}`), read by `load_templates`, never at
import time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, TypedDict

import msgspec

from worker.diff.chunks import Chunk
from worker.diff.model import ChangedFile, FileStatus, SkippedFile
from worker.diff.render import display_path, render_diff

PROMPTS_DIR: Final = Path(__file__).resolve().parents[2] / "prompts"
DIFF_PLACEHOLDER: Final = "{{diff}}"
CONTEXT_PLACEHOLDER: Final = "{{context}}"
CONTEXT_INTRO: Final = (
    "Code from the head revision of the repository that explains this part of the diff "
    "(context only: NOT part of the diff, never a place for a finding):\n"
)
_PLACEHOLDER: Final = re.compile(r"\{\{(\w+)\}\}")


class PromptTemplateError(ValueError):
    """A template is missing, or its placeholders do not match what is rendered."""


class FileSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the PR's file list in the prompt."""

    path: str
    status: FileStatus
    additions: int
    deletions: int
    previous_path: str | None = None
    skipped: str | None = None  # why the model does not see this file


class InstructionFile(msgspec.Struct, frozen=True):
    """A repository instruction file (AGENTS.md and its kin) read at the base commit."""

    path: str
    text: str  # already cut to its budget and masked


class PullRequestContext(msgspec.Struct, frozen=True, kw_only=True):
    """What every chunk's prompt shares."""

    title: str
    description: str
    files: tuple[FileSummary, ...]
    repository: str = ""
    extra_instructions: str = ""
    language: str = "English"
    instruction_files: tuple[InstructionFile, ...] = ()


class PromptTemplates(msgspec.Struct, frozen=True):
    system: str
    review: str


class ChatMessage(TypedDict):
    role: Literal["system", "user"]
    content: str


def load_templates(directory: Path = PROMPTS_DIR) -> PromptTemplates:
    """Read `system.md` and `review.md`; `review.md` must end with {{context}}, a line, {{diff}}."""
    try:
        system = (directory / "system.md").read_text(encoding="utf-8")
        review = (directory / "review.md").read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptTemplateError(f"cannot read prompt templates in {directory}: {exc}") from exc
    if not review.rstrip().endswith(DIFF_PLACEHOLDER):
        # The diff must come last so everything before it is a shared, cacheable prefix.
        raise PromptTemplateError(f"{directory / 'review.md'} must end with {DIFF_PLACEHOLDER}")
    tail = review[review.rfind(CONTEXT_PLACEHOLDER) :]
    if CONTEXT_PLACEHOLDER not in review or set(_PLACEHOLDER.findall(tail)) != {"context", "diff"}:
        # Only the chunk's own context and diff may follow the shared prefix.
        raise PromptTemplateError(
            f"{directory / 'review.md'} must end with {CONTEXT_PLACEHOLDER}, "
            f"a line of text and {DIFF_PLACEHOLDER}"
        )
    return PromptTemplates(system=system.strip() + "\n", review=review.rstrip())


@lru_cache(maxsize=1)
def default_templates() -> PromptTemplates:
    """The templates shipped in the repository's prompts/ (read once, on first use)."""
    return load_templates()


def fence(name: str, content: str) -> str:
    """`content` in an untrusted-data block whose tag it cannot contain."""
    body = content if content.endswith("\n") else content + "\n"
    tag = hashlib.sha256(f"{name}\0{body}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"<<<UNTRUSTED {name} {tag}\n{body}UNTRUSTED {name} {tag}>>>"


def summarize_files(
    files: Iterable[ChangedFile], skipped: Iterable[SkippedFile] = ()
) -> tuple[FileSummary, ...]:
    """The PR's file list for the prompt, each skipped file marked with its reason."""
    reasons = {skip.path: skip.reason for skip in skipped}
    return tuple(
        FileSummary(
            path=changed.path,
            status=changed.status,
            additions=changed.additions,
            deletions=changed.deletions,
            previous_path=changed.previous_path,
            skipped=reasons.get(changed.path),
        )
        for changed in files
    )


def render_file_list(files: Iterable[FileSummary]) -> str:
    lines = []
    for item in files:
        line = f"+{item.additions} -{item.deletions} {display_path(item.path)}"
        if item.previous_path and item.previous_path != item.path:
            line += f" (renamed from {display_path(item.previous_path)})"
        elif item.status in ("added", "removed"):
            line += " (new file)" if item.status == "added" else " (deleted)"
        if item.skipped:
            line += f" [not reviewed: {item.skipped}]"
        lines.append(line)
    return "\n".join(lines) if lines else "(none)"


def render_instructions(context: PullRequestContext) -> str:
    """The maintainers' instructions: `.kimi-review.toml`'s, then each instruction file's."""
    own = context.extra_instructions.strip()
    if not context.instruction_files:
        return own or "(none)"
    parts = [f"From `.kimi-review.toml` (extra_instructions):\n{own}"] if own else []
    parts += [
        f"From `{display_path(item.path)}`:\n{item.text.strip()}"
        for item in context.instruction_files
    ]
    return "\n\n".join(parts)


def render_prefix(context: PullRequestContext, templates: PromptTemplates) -> str:
    """The user message up to the chunk's context: identical for every chunk of the PR."""
    head = templates.review[: templates.review.rindex(CONTEXT_PLACEHOLDER)]
    return _fill(
        head,
        {
            "repository": context.repository or "(unnamed repository)",
            "language": context.language,
            "title": fence("title", context.title),
            "description": fence("description", context.description or "(no description)"),
            "files": fence("files", render_file_list(context.files)),
            "instructions": render_instructions(context),
        },
    )


def render_messages(
    context: PullRequestContext,
    chunk: Chunk,
    templates: PromptTemplates | None = None,
    *,
    repo_context: str = "",
) -> list[ChatMessage]:
    """[system, user] for one chunk: the shared prefix, the chunk's context, its diff last.

    `repo_context` is the rendered context block (worker.context), "" for none.
    """
    chosen = templates if templates is not None else default_templates()
    review = chosen.review
    start = review.rindex(CONTEXT_PLACEHOLDER)
    between = review[start + len(CONTEXT_PLACEHOLDER) : review.rindex(DIFF_PLACEHOLDER)]
    block = CONTEXT_INTRO + fence("context", repo_context) + "\n\n" if repo_context else ""
    diff = fence("diff", render_diff(chunk.files))
    user = render_prefix(context, chosen) + block + between + diff
    return [
        ChatMessage(role="system", content=chosen.system),
        ChatMessage(role="user", content=user),
    ]


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Replace {{name}} placeholders in one pass (values are never re-scanned)."""
    missing = set(_PLACEHOLDER.findall(template)) - values.keys()
    if missing:
        raise PromptTemplateError(f"unknown placeholders in review.md: {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
