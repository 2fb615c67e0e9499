"""Asks GitHub to redeliver webhooks our receiver missed; GitHub never does it on its own.

A delivery fails when the receiver was down, slow (status code 0) or answered
5xx because Redis was away. GitHub keeps deliveries 3 days and redelivers only
when asked, so this sweep (an arq cron) lists the App's recent deliveries,
newest first, and asks once for each failure nothing has recovered since.

A redelivery shares the `guid` of the original, so deliveries are judged per
guid: any 2xx means the event got in. The "asked" mark is keyed on the
original delivery's id (one per guid) and set with `SET NX` *before* the POST,
so two workers sweeping at once never both ask; a POST that fails for
GitHub's reasons (5xx, network) drops the mark so the next run asks again.

https://docs.github.com/rest/apps/webhooks#list-deliveries-for-an-app-webhook
https://docs.github.com/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook
https://docs.github.com/webhooks/using-webhooks/automatically-redelivering-failed-deliveries-for-a-github-app-webhook
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import msgspec
import redis.asyncio as aioredis
import structlog

from worker import keys
from worker.config import Settings
from worker.github.auth import AppTokenSource, app_headers
from worker.github.errors import (
    GitHubError,
    GitHubRateLimited,
    GitHubRequestFailed,
    GitHubUnavailable,
    error_for_status,
)
from worker.github.sansio import error_message

log = structlog.get_logger("kimi_review.sweeper")

LOOKBACK_SECONDS: Final = 3 * 86400  # GitHub keeps deliveries for 3 days
PER_PAGE: Final = 100  # GitHub's maximum for this endpoint
SKIPPED_EVENTS: Final = frozenset({"ping"})  # sent once at App creation; nothing to recover


class SweepReport(msgspec.Struct, kw_only=True):
    """What one sweep did. Every failed guid lands in exactly one outcome count."""

    pages: int = 0
    listed: int = 0  # deliveries read
    failed_seen: int = 0  # guids with a failed delivery (ping excluded), split as follows:
    recovered: int = 0  # a later delivery of the same guid succeeded
    pending: int = 0  # a delivery of the guid is still in flight
    skipped_old: int = 0  # the original delivery is older than the lookback (or was not read)
    already_asked: int = 0  # asked before: by an earlier run, or another worker sweeping now
    redelivered: int = 0  # GitHub accepted the request (202)
    refused: int = 0  # GitHub said no (4xx, e.g. 422 too old): not asked again
    errors: int = 0  # 5xx or network failure: asked again next run
    deferred: int = 0  # left for the next run (bound reached, or the run stopped)
    stopped: str | None = None  # why the run ended early: rate_limited, github_unavailable
    retry_after: float | None = None  # GitHub's hint when rate limited


class _Delivery(msgspec.Struct):
    """One entry of `GET /app/hook/deliveries` (only the fields the sweep uses or logs)."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool = False
    status: str = ""
    status_code: int | None = None  # none yet: GitHub has not finished the attempt
    event: str = ""
    action: str | None = None
    repository_id: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def in_flight(self) -> bool:
        return self.status_code is None or self.status.lower() == "pending"


_page_decoder: Final = msgspec.json.Decoder(list[_Delivery])


class _Stop(Exception):
    """Ends the run early (rate limit, GitHub down); the report says why."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


async def sweep_redeliveries(
    redis: aioredis.Redis,
    *,
    http: httpx.AsyncClient,
    tokens: AppTokenSource,
    api_url: str,
    now: float,
    lookback_seconds: float = LOOKBACK_SECONDS,
    max_redeliveries: int = 20,
    max_pages: int = 10,
) -> SweepReport:
    """List recent deliveries and ask GitHub to redeliver each unrecovered failure, once.

    At most `max_redeliveries` POSTs per run; a rate limit ends the run at
    once (never a long sleep inside a cron). Raises `GitHubAuthError` or
    `GitHubRequestFailed` when GitHub refuses the listing: an operator must act.
    """
    report = SweepReport()
    root, cutoff = api_url.rstrip("/"), now - lookback_seconds
    candidates: list[_Delivery] = []
    handled = 0
    try:
        deliveries = await _list_recent(http, tokens, root, cutoff, max_pages, report)
        candidates = _failed_originals(deliveries, cutoff, report)
        for original in candidates:
            if report.redelivered + report.refused + report.errors >= max_redeliveries:
                break
            await _ask_once(redis, http, tokens, root, original, report)
            handled += 1
    except _Stop as stop:
        report.stopped, report.retry_after = stop.reason, stop.retry_after
    report.deferred = len(candidates) - handled
    return report


async def _list_recent(
    http: httpx.AsyncClient,
    tokens: AppTokenSource,
    root: str,
    cutoff: float,
    max_pages: int,
    report: SweepReport,
) -> list[_Delivery]:
    """Pages of deliveries, newest first, until one reaches past the cutoff."""
    found: list[_Delivery] = []
    query = {"per_page": str(PER_PAGE)}
    while report.pages < max_pages:
        url = f"{root}/app/hook/deliveries?{urlencode(query)}"
        response = await _request(http, tokens, "GET", url, "listing webhook deliveries", report)
        try:
            page = _page_decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise GitHubRequestFailed(f"unexpected deliveries answer: {exc}", url=url) from None
        report.pages += 1
        report.listed += len(page)
        found.extend(page)
        cursor = _next_cursor(response)
        if not page or cursor is None or page[-1].delivered_at.timestamp() < cutoff:
            break
        # Only the cursor is taken from the Link header: every URL is built from GITHUB_API_URL.
        query["cursor"] = cursor
    return found


def _next_cursor(response: httpx.Response) -> str | None:
    url = response.links.get("next", {}).get("url")
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("cursor")
    return values[-1] if values else None


def _failed_originals(
    deliveries: Iterable[_Delivery], cutoff: float, report: SweepReport
) -> list[_Delivery]:
    """The original delivery of each failed, unrecovered guid, newest first."""
    by_guid: dict[str, list[_Delivery]] = {}
    for delivery in deliveries:  # newest first, so guids come in order of their latest attempt
        by_guid.setdefault(delivery.guid, []).append(delivery)
    candidates: list[_Delivery] = []
    for attempts in by_guid.values():
        if any(d.event in SKIPPED_EVENTS for d in attempts):
            continue
        if not any(not d.succeeded and not d.in_flight for d in attempts):
            continue
        report.failed_seen += 1
        original = next((d for d in attempts if not d.redelivery), None)
        if any(d.succeeded for d in attempts):
            report.recovered += 1
        elif any(d.in_flight for d in attempts):
            report.pending += 1
        elif original is None or original.delivered_at.timestamp() < cutoff:
            report.skipped_old += 1
        else:
            candidates.append(original)
    return candidates


async def _ask_once(
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    tokens: AppTokenSource,
    root: str,
    original: _Delivery,
    report: SweepReport,
) -> None:
    """Mark, then POST; the mark stays unless GitHub failed for its own reasons."""
    mark = keys.redelivered(original.id)
    if not await redis.set(mark, original.guid, nx=True, ex=keys.DELIVERY_TTL_SECONDS):
        report.already_asked += 1
        return
    url = f"{root}/app/hook/deliveries/{original.id}/attempts"
    context = msgspec.structs.asdict(original) | {"delivery_id": original.id}
    context["github_event"] = context.pop("event")  # `event` is structlog's own field
    del context["id"], context["delivered_at"], context["redelivery"]
    try:
        await _request(http, tokens, "POST", url, f"redelivering delivery {original.id}", report)
    except GitHubRequestFailed as exc:  # e.g. 422 too old: asking again would be refused again
        report.refused += 1
        log.warning("webhook_redelivery_refused", error=str(exc), **context)
        return
    except GitHubUnavailable as exc:
        await redis.delete(mark)  # not asked after all: the next run tries again
        report.errors += 1
        log.warning("webhook_redelivery_failed", error=str(exc), **context)
        return
    except (_Stop, GitHubError):
        await redis.delete(mark)  # rate limit or auth: nothing was asked, a later run asks
        raise
    report.redelivered += 1
    log.info("webhook_redelivery_requested", **context)


async def _request(
    http: httpx.AsyncClient,
    tokens: AppTokenSource,
    method: str,
    url: str,
    what: str,
    report: SweepReport,
) -> httpx.Response:
    """One JWT-authenticated call; rate limits and a down GitHub on listing become `_Stop`."""
    try:
        response = await http.request(method, url, headers=app_headers(tokens.app_jwt()))
    except httpx.TransportError as exc:
        error: GitHubError = GitHubUnavailable(f"{what}: {type(exc).__name__}", url=url)
    else:
        if response.status_code < 300:
            return response
        error = error_for_status(
            response.status_code,
            _message_of(response),
            response.headers,
            url=url,
            what=what,
            now=time.time(),
        )
    if isinstance(error, GitHubRateLimited):
        log.warning(
            "redelivery_sweep_rate_limited", error=str(error), retry_after=error.retry_after
        )
        raise _Stop("rate_limited", error.retry_after)
    if isinstance(error, GitHubUnavailable) and method == "GET":
        report.errors += 1
        log.warning("redelivery_sweep_github_unavailable", error=str(error))
        raise _Stop("github_unavailable")
    raise error


def _message_of(response: httpx.Response) -> str:
    return error_message(response.content) or response.reason_phrase


async def redelivery_sweep_job(ctx: dict[str, Any]) -> str:
    """arq cron adapter: one sweep with the worker's shared clients, one log line."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=ctx.get("job_id"))
    tokens: AppTokenSource | None = ctx.get("app_tokens")
    if tokens is None:
        log.info("redelivery_sweep_skipped", reason="GitHub App not configured")
        return "skipped: no GitHub App"
    settings: Settings = ctx["settings"]
    try:
        report = await sweep_redeliveries(
            ctx["redis"],
            http=ctx["http"],
            tokens=tokens,
            api_url=settings.github.api_url,
            now=time.time(),
        )
    except GitHubError as exc:
        log.error("redelivery_sweep_failed", error=str(exc))  # noqa: TRY400 (typed, no trace)
        return f"failed: {exc}"
    log.info("redelivery_sweep", **msgspec.structs.asdict(report))
    stopped = f" (stopped: {report.stopped})" if report.stopped else ""
    return f"redelivered {report.redelivered} of {report.failed_seen} failed guids{stopped}"
