"""One attempt at a review task, and what its ending means for the task.

Builds the flow with the worker's shared clients, runs it (or answers a
`/help`), and turns how it ended into the task's next step: finished,
retried later (a model outage, a GitHub rate limit, an error), abandoned
(with a comment on the PR), or left alone (another worker took it over).
The task keeps the last error's text (`last_error`) for the log; what the
pull request is told is the fixed sentence of its `Cause`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Literal

import httpx
import structlog
from msgspec.structs import replace

from worker.contract import ReviewRequest
from worker.github.auth import RepoRef
from worker.github.client import GitHubReader
from worker.github.errors import GitHubError, GitHubNotFound, GitHubRateLimited
from worker.metrics import ReviewOutcome
from worker.publish import messages
from worker.publish.check_run import check_external_id, check_gave_up
from worker.publish.messages import Cause
from worker.publish.poster import ReviewPoster
from worker.review.commands import answer_help, reply_to_command
from worker.review.flow import ReviewFlow
from worker.review.outcome import FlowOutcome, ReviewDeferred, ReviewTarget
from worker.runner.redis_hooks import LeaseLost, WorkerHooks
from worker.runner.retry import Kind, next_attempt
from worker.runner.services import WorkerServices
from worker.runner.tasks import Lease, ReviewTask, TaskStore
from worker.usage import finish_review

log = structlog.get_logger("kimi_review.attempt")
Ending = Literal["done", "retry", "left"]
_OUTCOMES: dict[str, ReviewOutcome] = {
    "posted": "posted",
    "already_posted": "already_posted",
    "skipped": "skipped",
    "superseded": "superseded",
    "dry_run": "skipped",
}


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    ending: Ending
    task: ReviewTask  # with this attempt counted
    outcome: ReviewOutcome  # for kimi_review_reviews_total
    retry: float | None = None  # seconds until the next attempt, for "retry"
    unreviewed: bool = False  # a pull_request job ended without reviewing its head


def target_of(request: ReviewRequest) -> ReviewTarget:
    """What a request asks for: `/review full` is a fresh full review with its own run."""
    full = request.command == "review_full"
    return ReviewTarget(
        pr_number=request.pr_number,
        head_sha=request.head_sha,
        run=f"full-{request.comment_id}" if full else None,
        full=full,
        asked=request.trigger == "command",
    )


async def run_attempt(
    services: WorkerServices, tasks: TaskStore, task: ReviewTask, *, lease: Lease
) -> AttemptEnded:
    request = task.request
    clients = _clients(services, tasks, task, lease)
    kind: Kind
    cause: Cause
    hint: float | None = None
    try:
        return await _attempt(services, clients, task)
    except LeaseLost:
        log.warning("review_taken_over")
        return AttemptEnded("left", task, "superseded")
    except ReviewDeferred as exc:
        kind, hint, error = "deferred", exc.retry_after, exc.reason
        cause = "quota_paused" if exc.paused else "models_unavailable"
        task = replace(task, deferrals=task.deferrals + 1, last_error=error)
    except GitHubRateLimited as exc:
        kind, cause, hint, error = "rate_limited", "github_rate_limited", exc.retry_after, str(exc)
        task = replace(task, deferrals=task.deferrals + 1, last_error=error)
    except GitHubNotFound as exc:
        log.warning("review_target_gone", error=str(exc))  # PR, repo or installation removed
        gone_unreviewed = request.trigger == "pull_request"
        return AttemptEnded("done", task, "skipped", unreviewed=gone_unreviewed)
    except (GitHubError, httpx.HTTPError) as exc:
        kind, cause, error = "failed", "github_failed", str(exc)
        task = replace(task, failures=task.failures + 1, last_error=error)
        log.warning("review_attempt_failed", error=error, failures=task.failures)
    except Exception as exc:  # a bug must not lose the review: retried, then abandoned
        kind, cause, error = "failed", "internal_error", f"{type(exc).__name__}: {exc}"
        task = replace(task, failures=task.failures + 1, last_error=error)
        log.exception("review_attempt_crashed", failures=task.failures)
    finally:
        await clients.reader.close()
    return await _retry_or_give_up(services, clients, task, kind, cause, hint)


@dataclass(frozen=True, slots=True)
class _Clients:
    """One attempt's GitHub clients, durable hooks and flow, made once per attempt."""

    reader: GitHubReader
    poster: ReviewPoster
    hooks: WorkerHooks
    flow: ReviewFlow


def _clients(
    services: WorkerServices, tasks: TaskStore, task: ReviewTask, lease: Lease
) -> _Clients:
    """The attempt's clients, its logs bound to the task, the repository and the PR."""
    request = task.request
    repo = RepoRef.parse(
        request.repo_full_name,
        repo_id=request.repo_id,
        installation_id=request.installation_id,
    )
    structlog.contextvars.bind_contextvars(
        task=task.task_id, repo=repo.full_name, pr=request.pr_number, trigger=request.trigger
    )
    reader = services.reader(repo)
    poster = services.poster(repo)
    hooks = WorkerHooks(
        services.redis,
        request,
        tasks=tasks,
        lease=lease,
        quota=services.main_quota,
        lease_ttl=float(services.settings.review_lease),
    )
    flow = ReviewFlow(
        settings=services.settings,
        reader=reader,
        poster=poster,
        reviewer=services.reviewer,
        hooks=hooks,
        repository=repo.full_name,
        ceiling=services.ceiling,
    )
    return _Clients(reader, poster, hooks, flow)


async def _attempt(services: WorkerServices, clients: _Clients, task: ReviewTask) -> AttemptEnded:
    """The attempt proper: a command's permission and answer, or the review; raises to retry."""
    request, poster = task.request, clients.poster
    if request.command is not None and request.comment_id is not None:
        if not await _may_command(poster, request):
            return AttemptEnded("done", task, "skipped")
        if task.failures == 0 and task.deferrals == 0:
            await poster.react(request.comment_id, "eyes")  # seen; the answer follows
    if request.command == "help":
        await answer_help(clients.flow, poster, request)
        return AttemptEnded("done", task, "skipped")
    outcome = await clients.flow.run(target_of(request))
    await _after(services, poster, request, outcome)
    unreviewed = outcome.unreviewed and request.trigger == "pull_request"
    return AttemptEnded("done", task, _OUTCOMES[outcome.status], unreviewed=unreviewed)


async def _retry_or_give_up(
    services: WorkerServices,
    clients: _Clients,
    task: ReviewTask,
    kind: Kind,
    cause: Cause,
    hint: float | None,
) -> AttemptEnded:
    """After a failed or deferred attempt: when to try again, or give up and say so."""
    decision = next_attempt(
        kind,
        reason=messages.GIVE_UP_REASON[cause],
        hint=hint,
        failures=task.failures,
        deferrals=task.deferrals,
        age=time.time() - task.first_seen,
        give_up_after=services.settings.give_up_after,
        jitter=random.random(),  # noqa: S311 (jitter, not a secret),
    )
    if decision.give_up:
        await _give_up(clients.poster, task, decision.reason, clients.hooks)
        return AttemptEnded("done", task, "gave_up")
    return AttemptEnded("retry", task, "failed" if kind == "failed" else "deferred", decision.wait)


async def _may_command(poster: ReviewPoster, request: ReviewRequest) -> bool:
    """Write access, checked on every attempt; a check that cannot be made says no.

    Failing closed: a retry must never skip the check, and a GitHub outage
    must not turn a read-only user's `/review full` into a paid review. The
    user can comment again once GitHub answers.
    """
    try:
        allowed = await poster.may_command(request.sender or "")
    except (GitHubError, httpx.HTTPError) as exc:
        log.warning("command_ignored_permission_unknown", sender=request.sender, error=str(exc))
        return False
    if not allowed:
        log.info("command_ignored_without_write_access", sender=request.sender)
    return allowed


async def _after(
    services: WorkerServices, poster: ReviewPoster, request: ReviewRequest, outcome: FlowOutcome
) -> None:
    log.info("review_finished", status=outcome.status, reason=outcome.reason)
    llm = services.settings.llm
    if outcome.status == "posted" and outcome.review_key and llm.main is not None:
        await finish_review(
            services.redis,
            outcome.review_key,
            pr=f"{request.repo_full_name}#{request.pr_number}",
            main_key_id=llm.main.key_id,
            fallback_key_id=llm.fallback.key_id if llm.fallback else None,
            started_at=outcome.started_at or time.time(),
        )
    if request.trigger == "command" and request.comment_id is not None:
        await reply_to_command(poster, request, outcome)


async def _give_up(poster: ReviewPoster, task: ReviewTask, reason: str, hooks: WorkerHooks) -> None:
    request = task.request
    head = request.head_sha or "the head"
    attempts = task.failures + task.deferrals
    log.error("review_abandoned", reason=reason, attempts=attempts, error=task.last_error)
    try:
        await poster.comment(request.pr_number, messages.gave_up_comment(head, attempts, reason))
        if request.head_sha is not None:
            run = target_of(request).run
            check_id = await hooks.checkpoint(request.head_sha, run).check_run_id()
            update = check_gave_up(request.head_sha, attempts, reason)
            tag = check_external_id(request.head_sha, run)
            if check_id is None:
                check_id = await poster.find_open_check(request.head_sha, tag)
            if check_id is not None:
                await poster.update_check(check_id, update)
            else:
                await poster.start_check(request.head_sha, update, external_id=tag)
    except GitHubError as exc:
        log.warning("gave_up_notice_not_posted", error=str(exc))
