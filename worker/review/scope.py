"""Full or incremental: what to send to the model when a pull request moves.

After a first review, a push only needs its new changes reviewed: the diff
from the last reviewed head to the new head (`compare/{last}...{head}`). That
holds only while the last reviewed commit is still an ancestor of the head.
After a force-push (compare status `diverged` or `behind`, or 404 when the
old commit is gone) the review falls back to the whole PR, and says why.

Comments must anchor on the PR's own diff, not on the increment's, so the
scope always carries the full PR files (`pr_files`) beside what is reviewed
(`files`). Increment files the PR's diff does not touch (a merge of the base
branch brings them) are left out: they are not the author's change.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from worker.diff.model import ChangedFile, SkippedFile
from worker.github.errors import GitHubNotFound
from worker.github.files import (
    DEFAULT_LIMITS,
    ContentReader,
    FetchedFiles,
    FetchLimits,
    changed_files,
    fetch_pull_request_files,
)
from worker.github.models import PullRequestInfo

ReviewMode = Literal["full", "incremental", "nothing_new"]

# compare lists at most 300 files; an increment that big is reviewed in full.
COMPARE_FILE_CAP: Final = 300


class ReviewScope(msgspec.Struct, frozen=True, kw_only=True):
    """What this review sends to the model, and why."""

    mode: ReviewMode
    reason: str
    files: list[ChangedFile]  # to review
    skipped: list[SkippedFile]  # for the summary
    pr_files: FetchedFiles  # the whole PR diff: where comments may anchor
    since_sha: str | None = None  # the last reviewed head, when incremental


def _full(reason: str, pr_files: FetchedFiles) -> ReviewScope:
    return ReviewScope(
        mode="full",
        reason=reason,
        files=pr_files.files,
        skipped=pr_files.skipped,
        pr_files=pr_files,
    )


async def review_scope(
    reader: ContentReader,
    pr: PullRequestInfo,
    *,
    last_reviewed_sha: str | None,
    full: bool = False,
    limits: FetchLimits = DEFAULT_LIMITS,
) -> ReviewScope:
    """Decide full vs incremental and fetch the files; never raises for a force-push."""
    pr_files = await fetch_pull_request_files(reader, pr, limits=limits)
    short = (last_reviewed_sha or "")[:12]
    if full:
        return _full("a full review was asked for", pr_files)
    if last_reviewed_sha is None:
        return _full("first review of this pull request", pr_files)
    if last_reviewed_sha == pr.head_sha:
        return ReviewScope(
            mode="nothing_new",
            reason=f"head {short} was already reviewed",
            files=[],
            skipped=[],
            pr_files=pr_files,
            since_sha=last_reviewed_sha,
        )
    try:
        comparison = await reader.compare(last_reviewed_sha, pr.head_sha)
    except GitHubNotFound:
        return _full(f"the last reviewed commit {short} no longer exists (force-push)", pr_files)
    if comparison.status in ("diverged", "behind"):
        return _full(
            f"force-push: the last reviewed commit {short} is no longer an ancestor of the "
            f"head ({comparison.status})",
            pr_files,
        )
    if len(comparison.files) >= COMPARE_FILE_CAP:
        return _full(
            f"the new commits touch {COMPARE_FILE_CAP}+ files, more than compare lists", pr_files
        )
    in_pr = {f.path for f in pr_files.files}
    entries = [entry for entry in comparison.files if entry.path in in_pr]
    if comparison.status == "identical" or not entries:
        return ReviewScope(
            mode="nothing_new",
            reason=f"no change to the pull request's own diff since {short}",
            files=[],
            skipped=[],
            pr_files=pr_files,
            since_sha=last_reviewed_sha,
        )
    fetched = await changed_files(
        reader, entries, base_ref=last_reviewed_sha, head_ref=pr.head_sha, limits=limits
    )
    return ReviewScope(
        mode="incremental",
        reason=f"{comparison.ahead_by} new commit(s) since {short}",
        files=fetched.files,
        skipped=fetched.skipped,
        pr_files=pr_files,
        since_sha=last_reviewed_sha,
    )
