"""What a repository's `.kimi-review.toml` means for one review, and `/help`'s account of it.

Settings come from three places, each winning over the one before: the
environment (REVIEW_MAX_COMMENTS, API_LLM_THINKING), the repository's file
(read at the base commit by `worker.repo_config.read`), then a maintainer's
command (`/review`, `/review full`). Limits are the exception: the file may
lower the operator's (comments, tokens, lines), never raise them, since its
author may be whoever can land a commit on the base. `decide` is that rule;
`describe_config` says the outcome in Markdown for `/help`.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from worker.config import DEFAULT_MIN_SEVERITY, Thinking
from worker.model_answer import Severity
from worker.publish.findings import comment_cap
from worker.publish.sanitize import code_span, sanitize_line
from worker.repo_config.read import LoadedConfig, RepoConfig

ReviewCommand = Literal["review", "review_full"]
SkipReason = Literal["disabled", "draft"]
INSTRUCTIONS_PREVIEW_CHARS: Final = 100


class ReviewPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The settings one review runs with, after environment < repo config < command.

    `skip` says why an automatic review does not run (the job then posts the
    matching notice, e.g. `messages.DRAFT_SKIPPED`); None means review.
    """

    skip: SkipReason | None
    incremental: bool
    thinking: Thinking
    max_comments: int
    min_severity: Severity
    review_max_tokens: int | None = None  # None: no ceiling
    untrusted_max_lines: int = 0  # 0: no limit


def lowered_limit(env: int | None, repo: int | None) -> int | None:
    """The stricter of the operator's limit and the repository's (None: no limit)."""
    limits = [limit for limit in (env, repo) if limit is not None]
    return min(limits) if limits else None


def thinking_for(env: Thinking, config: RepoConfig) -> Thinking:
    """API_LLM_THINKING unless the repository chose a mode."""
    return env if config.thinking is None else config.thinking


def comment_cap_for(env_max_comments: int, config: RepoConfig) -> int:
    """REVIEW_MAX_COMMENTS, lowered (never raised) by the repository's `max_comments`."""
    return comment_cap(env_max_comments, config.max_comments)


def min_severity_for(env: Severity, config: RepoConfig) -> Severity:
    """REVIEW_MIN_SEVERITY unless the repository chose its own (either way)."""
    return env if config.min_severity is None else config.min_severity


def decide(
    config: RepoConfig,
    *,
    command: ReviewCommand | None,
    draft: bool,
    env_thinking: Thinking,
    env_max_comments: int,
    env_review_max_tokens: int | None = None,
    env_untrusted_max_lines: int = 0,
    env_min_severity: Severity = DEFAULT_MIN_SEVERITY,
) -> ReviewPlan:
    """How (and whether) to review, for a pull request event (`command` None) or a command.

    A command is a maintainer asking explicitly, so it wins over the file:
    `/review` reviews a draft and a repository with `enabled = false`;
    `/review full` reviews everything even when `incremental = true`. `/help`
    never gets here (it is answered, not reviewed).
    """
    skip: SkipReason | None = None
    if command is None and not config.enabled:
        skip = "disabled"
    elif command is None and draft and not config.review_drafts:
        skip = "draft"
    return ReviewPlan(
        skip=skip,
        incremental=config.incremental and command != "review_full",
        thinking=thinking_for(env_thinking, config),
        max_comments=comment_cap_for(env_max_comments, config),
        min_severity=min_severity_for(env_min_severity, config),
        review_max_tokens=lowered_limit(env_review_max_tokens, config.review_max_tokens),
        untrusted_max_lines=lowered_limit(
            env_untrusted_max_lines or None, config.untrusted_max_lines
        )
        or 0,
    )


def _cell(text: str) -> str:
    # A `|` ends a table cell even inside a code span unless escaped (GFM tables).
    return text.replace("|", "\\|")


def _patterns(patterns: tuple[str, ...], empty: str) -> str:
    return ", ".join(code_span(p) for p in patterns) if patterns else empty


def _instructions(text: str) -> str:
    if not text:
        return "none"
    if len(text) <= INSTRUCTIONS_PREVIEW_CHARS:
        return sanitize_line(text)
    preview = sanitize_line(text[:INSTRUCTIONS_PREVIEW_CHARS])
    return f"{preview}… ({len(text):,} characters)"


def _flag(value: bool) -> str:
    return "`true`" if value else "`false`"


def describe_config(
    loaded: LoadedConfig,
    *,
    max_comments: int,
    thinking: Thinking,
    review_max_tokens: int | None = None,
    untrusted_max_lines: int = 0,
    min_severity: Severity = DEFAULT_MIN_SEVERITY,
) -> str:
    """Markdown for `/help`: every setting, its effective value and where it came from.

    The keyword arguments are the environment's values (REVIEW_MAX_COMMENTS,
    API_LLM_THINKING, API_LLM_REVIEW_MAX_TOKENS, REVIEW_UNTRUSTED_MAX_LINES);
    the repository's text is sanitised (it is not ours).
    """
    config = loaded.config
    default = RepoConfig()
    file = "`.kimi-review.toml`"

    def origin(key: str) -> str:
        return file if getattr(config, key) != getattr(default, key) else "default"

    rows = [
        ("enabled", _flag(config.enabled), origin("enabled")),
        ("include", _patterns(config.include, "every file"), origin("include")),
        ("exclude", _patterns(config.exclude, "none"), origin("exclude")),
        (
            "min_severity",
            f"`{min_severity_for(min_severity, config)}`",
            file if config.min_severity is not None else "`REVIEW_MIN_SEVERITY`",
        ),
        _cap_row(max_comments, config),
        (
            "extra_instructions",
            _instructions(config.extra_instructions),
            origin("extra_instructions"),
        ),
        (
            "thinking",
            f"`{thinking_for(thinking, config)}`",
            file if config.thinking is not None else "`API_LLM_THINKING`",
        ),
        ("incremental", _flag(config.incremental), origin("incremental")),
        ("review_drafts", _flag(config.review_drafts), origin("review_drafts")),
        ("language", sanitize_line(config.language), origin("language")),
        _limit_row("review_max_tokens", review_max_tokens, config.review_max_tokens),
        _limit_row("untrusted_max_lines", untrusted_max_lines or None, config.untrusted_max_lines),
    ]
    lines = ["| setting | value | from |", "|---|---|---|"]
    lines += [f"| `{key}` | {_cell(value)} | {_cell(where)} |" for key, value, where in rows]
    lines += ["", f"Settings read from {sanitize_line(loaded.source)}."]
    note = config_error_note(loaded)
    if note is not None:
        lines.append(note)
    return "\n".join(lines)


def _cap_row(max_comments: int, config: RepoConfig) -> tuple[str, str, str]:
    """The comment cap's row: the file may lower REVIEW_MAX_COMMENTS, never raise it."""
    cap = comment_cap_for(max_comments, config)
    if config.max_comments is None:
        origin = "`REVIEW_MAX_COMMENTS`"
    elif config.max_comments > max_comments:
        origin = f"`REVIEW_MAX_COMMENTS` (the file's {config.max_comments} cannot raise it)"
    else:
        origin = "`.kimi-review.toml`"
    return ("max_comments", str(cap), origin)


_LIMIT_ENV: Final = {
    "review_max_tokens": "API_LLM_REVIEW_MAX_TOKENS",
    "untrusted_max_lines": "REVIEW_UNTRUSTED_MAX_LINES",
}


def _limit_row(key: str, env: int | None, repo: int | None) -> tuple[str, str, str]:
    """A spend limit's row: the stricter value, and whose it is."""
    value = lowered_limit(env, repo)
    shown = "no limit" if value is None else f"{value:,}"
    if repo is None or (env is not None and repo > env):
        raising = f" (the file's {repo:,} cannot raise it)" if repo is not None else ""
        return (key, shown, f"`{_LIMIT_ENV[key]}`{raising}")
    return (key, shown, "`.kimi-review.toml`")


def config_error_note(loaded: LoadedConfig) -> str | None:
    """The summary's line for an unusable config file (sanitised), or None."""
    if loaded.error is None:
        return None
    return f"⚠️ `.kimi-review.toml` was not used, defaults apply: {sanitize_line(loaded.error)}"
