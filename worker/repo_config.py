"""A repository's `.kimi-review.toml`: read from the base commit, and what it means for a review.

The file is read at the pull request's BASE commit, never its head
(DESIGN.md, Invariants): a pull request cannot loosen its own review. An
invalid file (bad TOML, a wrong type, an unknown key, an out-of-range value)
falls back to defaults WHOLE, with an `error` naming every problem for the
summary and `/help` (issue #7); half-applying it would review with settings
nobody wrote. The key-by-key checks are in `worker.repo_config_text`.

Settings come from three places, each winning over the one before: the
environment (REVIEW_MAX_COMMENTS, API_LLM_THINKING), the repository's file,
then a maintainer's command (`/review`, `/review full`). Limits are the
exception: the file may lower the operator's (comments, tokens, lines), never
raise them, since its author may be whoever can land a commit on the base. `decide` is that
rule; `describe_config` says the outcome in Markdown for `/help`.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol

import msgspec

from worker.answer import Severity
from worker.config import DEFAULT_MIN_SEVERITY, Thinking
from worker.github.models import FileBlob, PullRequestInfo
from worker.repo_config_text import MAX_CONFIG_BYTES, check_config_text, too_large
from worker.review.findings import comment_cap
from worker.review.sanitize import code_span, sanitize_line

CONFIG_PATH: Final = ".kimi-review.toml"

ReviewCommand = Literal["review", "review_full"]
SkipReason = Literal["disabled", "draft"]
INSTRUCTIONS_PREVIEW_CHARS: Final = 100


class RepoConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What a repository may choose; every default is the behaviour without a file."""

    enabled: bool = True  # automatic reviews on pull request events
    include: tuple[str, ...] = ()  # globs; empty = every file
    exclude: tuple[str, ...] = ()
    min_severity: Severity | None = (
        None  # findings below it are not posted; None = REVIEW_MIN_SEVERITY
    )
    max_comments: int | None = None  # lowers REVIEW_MAX_COMMENTS, never raises it
    extra_instructions: str = ""  # the owners' words, added to the prompt
    thinking: Thinking | None = None  # None = API_LLM_THINKING
    incremental: bool = True  # on a push, review only the new commits
    review_drafts: bool = False
    language: str = "English"  # language of the comments
    review_max_tokens: int | None = None  # lowers API_LLM_REVIEW_MAX_TOKENS, never raises it
    untrusted_max_lines: int | None = None  # lowers REVIEW_UNTRUSTED_MAX_LINES, never raises it


class LoadedConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The config a review uses, where it came from, and why defaults were used if so.

    `error` quotes the repository's own text: sanitise it before posting.
    """

    config: RepoConfig
    source: str
    error: str | None = None


def parse_repo_config(text: str, *, source: str = CONFIG_PATH) -> LoadedConfig:
    """The config in `text`, or defaults plus an error naming every problem. Pure."""
    checked = check_config_text(text)
    if checked.error is not None:
        return LoadedConfig(config=RepoConfig(), source=source, error=checked.error)
    return LoadedConfig(config=msgspec.convert(checked.values, RepoConfig), source=source)


class ConfigReader(Protocol):
    """The one read `read_repo_config` needs; `GitHubReader.file_at` fits it.

    `file_at` rather than `text_at`: a config that is a directory, too large or
    not UTF-8 is the repository's mistake, to be named in the summary, not a
    GitHub failure that would defer the job again and again.
    """

    async def file_at(self, path: str, ref: str, *, max_bytes: int = ...) -> FileBlob | None: ...


def _unreadable(blob: FileBlob) -> str | None:
    """Why a blob is not a usable config file, or None."""
    if blob.kind != "file":
        return f"{CONFIG_PATH} is a {blob.kind}, not a file"
    if blob.size > MAX_CONFIG_BYTES or blob.content is None:
        return too_large(blob.size)
    return None


async def read_repo_config(reader: ConfigReader, *, base_ref: str, base_label: str) -> LoadedConfig:
    """The config at `base_ref` (the PR's base SHA); defaults when there is none.

    `base_label` names the base branch for people (`main`). GitHub failures
    other than "not found" propagate: the caller defers the job.
    """
    where = base_label if base_ref == base_label else f"{base_label}@{base_ref[:7]}"
    blob = await reader.file_at(CONFIG_PATH, base_ref, max_bytes=MAX_CONFIG_BYTES)
    if blob is None:
        return LoadedConfig(
            config=RepoConfig(), source=f"defaults (no {CONFIG_PATH} on the base branch {where})"
        )
    source = f"{CONFIG_PATH} on {where}"
    why = _unreadable(blob)
    if why is None and blob.content is not None:
        try:
            return parse_repo_config(blob.content.decode("utf-8"), source=source)
        except UnicodeDecodeError:
            why = f"{CONFIG_PATH} is not UTF-8 text"
    return LoadedConfig(config=RepoConfig(), source=source, error=why)


async def read_pull_request_config(reader: ConfigReader, pr: PullRequestInfo) -> LoadedConfig:
    """The config a review of `pr` uses: read at its base SHA, never at its head."""
    return await read_repo_config(reader, base_ref=pr.base_sha, base_label=pr.base_ref)


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

    cap = comment_cap_for(max_comments, config)
    if config.max_comments is None:
        cap_origin = "`REVIEW_MAX_COMMENTS`"
    elif config.max_comments > max_comments:
        cap_origin = f"`REVIEW_MAX_COMMENTS` (the file's {config.max_comments} cannot raise it)"
    else:
        cap_origin = file
    rows = [
        ("enabled", _flag(config.enabled), origin("enabled")),
        ("include", _patterns(config.include, "every file"), origin("include")),
        ("exclude", _patterns(config.exclude, "none"), origin("exclude")),
        (
            "min_severity",
            f"`{min_severity_for(min_severity, config)}`",
            file if config.min_severity is not None else "`REVIEW_MIN_SEVERITY`",
        ),
        ("max_comments", str(cap), cap_origin),
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
