"""Answers to PR comment commands: `/help`, and what `/review` did when it did not review.

The 👀 reaction that acknowledges a command is sent by the attempt before
anything else; a posted review is its own answer. These are the other
answers: `/help` (the commands and the settings in effect for this PR, its
repo config read from the base branch like a review's), and a short reply
when a `/review` ended without a new review, so the person who asked is not
left guessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.contract import ReviewRequest
from worker.publish import messages
from worker.publish.poster import ReviewPoster
from worker.repo_config.plan import describe_config
from worker.repo_config.read import read_repo_config

if TYPE_CHECKING:
    from worker.review.flow import ReviewFlow
    from worker.review.outcome import FlowOutcome


async def answer_help(flow: ReviewFlow, poster: ReviewPoster, request: ReviewRequest) -> None:
    pr = await flow.reader.pull_request(request.pr_number)
    loaded = await read_repo_config(flow.reader, base_ref=pr.base_sha, base_label=pr.base_ref)
    settings = flow.settings
    config_text = describe_config(
        loaded,
        max_comments=settings.review_max_comments,
        thinking=settings.llm.thinking,
        review_max_tokens=settings.llm.review_max_tokens,
        untrusted_max_lines=settings.review_untrusted_max_lines,
        min_severity=settings.review_min_severity,
    )
    await poster.comment(request.pr_number, messages.help_with_config(config_text))


async def reply_to_command(
    poster: ReviewPoster, request: ReviewRequest, outcome: FlowOutcome
) -> None:
    """Say why a `/review` posted nothing new; a posted review needs no reply."""
    if outcome.status in ("posted", "dry_run"):
        return
    if outcome.status == "already_posted" or outcome.head_reviewed:
        head = outcome.head_sha or ""
        body = messages.already_reviewed_reply(head, outcome.reason)
    else:
        body = messages.not_reviewed_reply(outcome.head_sha, outcome.reason)
    await poster.comment(request.pr_number, body)
