"""POST /webhooks/github: verify, decode, route, persist; never calls GitHub.

Order matters: a delivery with no well-formed signature header is refused
before its body is read (nobody unauthenticated gets us to buffer 25 MiB),
the signature is checked on the raw bytes before anything is decoded, and a
202 is only ever sent after the job is in Redis. Status codes
follow the README's table ("The receiver"): 202 queued, 200 ignored or duplicate, 401 bad signature,
400 malformed, 413 over 25 MiB (Litestar's body limit, raised for this
route), 503 when Redis could not persist the job.
"""

from __future__ import annotations

import time
from typing import Any, Final

import structlog
from litestar import Request, Response, get, post
from litestar.datastructures import State
from redis.exceptions import RedisError

from app.events import MalformedPayload, decode_event
from app.intake import Intake, Outcome
from app.metrics import CONTENT_TYPE_LATEST, ReceiverMetrics
from app.routing import Enqueue, Ignore, Pong, RecordInstallation, route
from app.signature import SignatureError, signature_digest, verify_signature

MAX_BODY_BYTES: Final = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
log = structlog.get_logger("kimi_review.webhooks")


def _json(status: int, content: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(content, status_code=status)


@post("/webhooks/github", request_max_body_size=MAX_BODY_BYTES, status_code=202)
async def receive_webhook(request: Request[Any, Any, State], state: State) -> Response[Any]:
    """Accept one GitHub delivery."""
    intake: Intake = state.intake
    metrics: ReceiverMetrics = state.metrics
    event = request.headers.get("x-github-event", "")
    delivery = request.headers.get("x-github-delivery", "")
    header = request.headers.get("x-hub-signature-256")
    try:
        signature_digest(header)  # the header alone, before a byte of the body is read
        verify_signature(await request.body(), header=header, secret=state.webhook_secret)
    except SignatureError as exc:
        metrics.count(event, "unauthorized")
        log.warning("webhook_rejected", reason=str(exc), delivery=delivery)
        return _json(401, {"error": str(exc)})
    if not event or not delivery:
        metrics.count(event, "malformed")
        return _json(400, {"error": "X-GitHub-Event and X-GitHub-Delivery headers are required"})
    try:
        decision = route(event, decode_event(event, await request.body()), delivery, state.bot)
    except MalformedPayload as exc:
        metrics.count(event, "malformed")
        log.warning("webhook_malformed", delivery=delivery, gh_event=event, error=str(exc))
        return _json(400, {"error": str(exc)})
    bound = log.bind(delivery=delivery, gh_event=event)
    match decision:
        case Ignore(reason):
            metrics.count(event, "ignored")
            bound.info("webhook_ignored", reason=reason)
            return _json(200, {"ignored": reason})
        case Pong(zen):
            metrics.count(event, "pong")
            return _json(200, {"pong": zen})
        case RecordInstallation(installation_id, account, action):
            try:
                await intake.record_installation(installation_id, account, action)
            except (RedisError, OSError) as exc:
                metrics.count(event, "unavailable")
                bound.error("redis_unavailable", error=str(exc))
                return _json(503, {"error": "could not record the installation; retry"})
            metrics.count(event, "recorded")
            bound.info("installation_recorded", installation_id=installation_id, action=action)
            return _json(200, {"recorded": f"installation.{action}"})
        case Enqueue(job_id, review_request):
            started = time.perf_counter()
            try:
                outcome = await intake.enqueue(job_id, review_request)
            except (RedisError, OSError) as exc:
                metrics.count(event, "unavailable")
                bound.error("redis_unavailable", job_id=job_id, error=str(exc))
                return _json(503, {"error": "the job could not be persisted; GitHub may redeliver"})
            metrics.enqueue_seconds.observe(time.perf_counter() - started)
            label = "queued" if outcome == Outcome.QUEUED else f"duplicate_{outcome.value}"
            metrics.count(event, label)
            bound.info("webhook_accepted", job_id=job_id, outcome=outcome.value)
            if outcome == Outcome.QUEUED:
                return _json(202, {"job_id": job_id})
            return _json(200, {"job_id": job_id, "duplicate": outcome.value})
    raise AssertionError(f"unhandled decision {decision!r}")


@get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, str]]:
    """Ready when Redis answers: without it no delivery can be accepted."""
    intake: Intake = state.intake
    try:
        await intake.ready()
    except (RedisError, OSError) as exc:
        return Response({"status": "unavailable", "redis": type(exc).__name__}, status_code=503)
    return Response({"status": "ok"})


@get("/metrics")
async def metrics_endpoint(state: State) -> Response[bytes]:
    """Prometheus text format."""
    metrics: ReceiverMetrics = state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
