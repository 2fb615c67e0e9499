"""Every fixed piece of text the bot writes on GitHub, in one place.

Reviewers see these words; keeping them here lets them be read, reworded and
translated together (bedevere keeps its messages in module constants too).
Nothing here is model text; a value filled in from outside (a reason taken
from an error body, a quota line) is passed through `sanitize_line` here, so
callers cannot forget to.
"""

from __future__ import annotations

from typing import Final, Literal

from worker.publish.sanitize import sanitize_line

PRODUCT: Final = "Kimi review"
TRUNCATED: Final = "_… {hidden:,} characters not shown: GitHub limits a comment to {limit:,}._"

SEVERITY_BADGE: Final[dict[str, str]] = {
    "critical": "🔴 Critical",
    "high": "🟠 High",
    "medium": "🟡 Medium",
    "low": "🔵 Low",
}
CATEGORY_LABEL: Final[dict[str, str]] = {
    "bug": "Bug",
    "security": "Security",
    "performance": "Performance",
    "correctness": "Correctness",
    "maintainability": "Maintainability",
    "style": "Style",
}

# Why a finding is in the summary rather than on the diff.
NOT_INLINE_REASON: Final[dict[str, str]] = {
    "off_diff": "not on a line of this diff",
    "over_cap": "over the cap of inline comments",
    "rejected": "GitHub refused its position",
}
MOVED_NOTE: Final = "_Placed on line {line}: line {original} is not part of this diff._"

# Why a file was not reviewed, by the reason codes of the diff filters
# (`SkippedFile.reason` is `code` or `code: detail`).
SKIP_REASON: Final[dict[str, str]] = {
    "binary": "binary file",
    "too_large": "too large to review",
    "credentials": "holds credentials: never sent to the model",
    "generated": "generated file",
    "lockfile": "lock file",
    "vendored": "vendored code",
    "excluded": "excluded by the repository's .kimi-review.toml",
    "removed": "file deleted",
    "no_patch": "GitHub sent no diff for it",
    "renamed_only": "renamed without changes",
    "unchanged_since_last_review": "unchanged since the last review",
}

HELP: Final = """\
**{product}** reviews this pull request with Kimi K2.6 when it is opened, \
reopened, marked ready for review or pushed to.

| command | what it does |
|---|---|
| `/review` | review the changes pushed since the last review |
| `/review full` | review the whole pull request again |
| `/help` | show this message |

Commands are taken from the repository's owners, members and collaborators. \
Settings live in `.kimi-review.toml` on the base branch."""

DRAFT_SKIPPED: Final = (
    "This pull request is a draft, so it was not reviewed. Mark it ready for review, "
    "or comment `/review`."
)
UNTRUSTED_WAITING_TITLE: Final = "Waiting for a maintainer's /review"
UNTRUSTED_WAITING: Final = (
    "**{product}** did not review this automatically: it would send {lines:,} changed lines "
    "to the model, over the limit of {limit:,} for pull requests whose author is not an "
    "owner, member or collaborator of the repository (`REVIEW_UNTRUSTED_MAX_LINES`, or "
    "`untrusted_max_lines` in `.kimi-review.toml`). A maintainer can start the review by "
    "commenting `/review` on the pull request."
)
CEILING_REACHED: Final = "the review's token ceiling was reached"
# Heading of the check run's list of findings the verifying pass dropped.
DROPPED_BY_VERIFICATION: Final = "Dropped by verification"
CEILING_CUT_SHORT: Final = (
    "**This review was cut short** by its token ceiling of {ceiling} "
    "(`API_LLM_REVIEW_MAX_TOKENS`, or `review_max_tokens` in `.kimi-review.toml`): "
    "{count} chunk{s} listed below were not reviewed."
)
DEFERRED: Final = (
    "**{product}** could not reach a model ({reason}). The review is queued and will run "
    "as soon as one answers; nothing needs to be done."
)
QUOTA_PAUSED: Final = (
    "**{product}** paused: this installation's model budget is spent ({quota}). "
    "The review runs when the budget refreshes."
)
# Why attempts failed (worker.runner.retry), as the pull request is told if the review is
# abandoned.
Cause = Literal[
    "models_unavailable", "quota_paused", "github_rate_limited", "github_failed", "internal_error"
]
# Why a review was abandoned, as said on the pull request: fixed words per cause, never
# an exception's text (it may quote a provider, GitHub or a stack; the log has it).
GIVE_UP_REASON: Final[dict[Cause, str]] = {
    "models_unavailable": "no model could answer",
    "quota_paused": "the model budget stayed spent",
    "github_rate_limited": "GitHub kept rate-limiting the bot",
    "github_failed": "GitHub kept failing to answer",
    "internal_error": "an internal error (the worker's log has the details)",
}
GAVE_UP: Final = (
    "**{product}** gave up on reviewing `{head}` after {attempts} attempts: {reason}. "
    "Comment `/review` to try again."
)

ALREADY_REVIEWED: Final = (
    "**{product}** already reviewed `{head}`: {reason}. Comment `/review full` for a fresh "
    "review of the whole pull request."
)
NOT_REVIEWED: Final = "**{product}** did not review `{head}`: {reason}."
HELP_CONFIG: Final = "#### Settings in effect for this pull request\n\n{config}"


def already_reviewed_reply(head_sha: str, reason: str) -> str:
    """The answer to `/review` when that head has nothing new for a review."""
    return ALREADY_REVIEWED.format(product=PRODUCT, head=head_sha[:7], reason=sanitize_line(reason))


def not_reviewed_reply(head_sha: str | None, reason: str) -> str:
    """The answer to a command whose review was skipped (closed, disabled…)."""
    head = (head_sha or "the head")[:7]
    return NOT_REVIEWED.format(product=PRODUCT, head=head, reason=sanitize_line(reason))


def help_with_config(config_markdown: str) -> str:
    """`/help`: the commands and the settings in effect (already rendered and sanitised)."""
    return help_text() + "\n\n" + HELP_CONFIG.format(config=config_markdown)


def help_text() -> str:
    return HELP.format(product=PRODUCT)


def untrusted_waiting_notice(lines: int, limit: int) -> str:
    """Said by the check run of a large PR from outside that waits for a maintainer."""
    return UNTRUSTED_WAITING.format(product=PRODUCT, lines=lines, limit=limit)


def ceiling_cut_short_note(count: int, ceiling: int | None) -> str:
    """The summary's line when the token ceiling left `count` chunks unreviewed."""
    shown = f"{ceiling:,} tokens" if ceiling is not None else "tokens"
    return CEILING_CUT_SHORT.format(ceiling=shown, count=count, s="s" if count != 1 else "")


def deferred_notice(reason: str) -> str:
    """Said (check run, summary) while both models are unavailable and the job waits."""
    return DEFERRED.format(product=PRODUCT, reason=sanitize_line(reason))


def quota_paused_notice(quota_line: str) -> str:
    """Said while the main key's budget for the window is spent."""
    return QUOTA_PAUSED.format(product=PRODUCT, quota=sanitize_line(quota_line))


def gave_up_comment(head_sha: str, attempts: int, reason: str) -> str:
    """The one comment posted when a review is finally abandoned."""
    return GAVE_UP.format(
        product=PRODUCT, head=head_sha[:7], attempts=attempts, reason=sanitize_line(reason)
    )


def describe_skip(reason: str) -> str:
    """Wording for a `SkippedFile.reason`: a known code, `code: detail`, or free text."""
    code, _, detail = reason.partition(":")
    wording = SKIP_REASON.get(code.strip())
    if wording is None:
        return reason.strip()
    return f"{wording} ({detail.strip()})" if detail.strip() else wording


def truncated_note(hidden: int, limit: int) -> str:
    return TRUNCATED.format(hidden=hidden, limit=limit)
