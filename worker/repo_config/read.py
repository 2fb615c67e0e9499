"""A repository's `.kimi-review.toml`: what it may set, read from the base commit.

The file is read at the pull request's BASE commit, never its head
(docs/ARCHITECTURE.md, Invariants): a pull request cannot loosen its own
review. An invalid file (bad TOML, a wrong type, an unknown key, an
out-of-range value) falls back to defaults WHOLE, with an `error` naming
every problem for the summary and `/help` (issue #7); half-applying it would
review with settings nobody wrote. The key-by-key checks are in
`worker.repo_config.schema`; what the file then changes for a review is
`worker.repo_config.plan`.
"""

from __future__ import annotations

from typing import Final, Protocol

import msgspec

from worker.config import Thinking
from worker.github.models import FileBlob, PullRequestInfo
from worker.model_answer import Severity
from worker.repo_config.schema import MAX_CONFIG_BYTES, check_config_text, too_large

CONFIG_PATH: Final = ".kimi-review.toml"


class RepoConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What a repository may choose; every default is the behaviour without a file."""

    enabled: bool = True  # automatic reviews on pull request events
    include: tuple[str, ...] = ()  # globs; empty = every file
    exclude: tuple[str, ...] = ()
    min_severity: Severity | None = None  # below it nothing is posted; None: REVIEW_MIN_SEVERITY
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
