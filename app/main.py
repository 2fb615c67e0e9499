"""The receiver application: `create_app(settings)` and `run_server`.

The lifespan owns one Redis client (short timeouts, so an outage answers 503
quickly instead of hanging GitHub's 10-second delivery window). redis-py
reconnects on the next command, so the receiver works again as soon as Redis
is back, without a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import uvicorn
from litestar import Litestar
from litestar.datastructures import State

from app.intake import Intake
from app.metrics import ReceiverMetrics
from app.routing import BotIdentity
from app.webhooks import healthz, metrics_endpoint, readyz, receive_webhook
from worker.config import Settings
from worker.redis_client import redis_client

log = structlog.get_logger("kimi_review.app")


def create_app(settings: Settings) -> Litestar:
    """Build the receiver; its Redis client is opened by the lifespan."""
    if settings.github.webhook_secret is None:
        raise ValueError("GITHUB_WEBHOOK_SECRET is required by the receiver")
    secret = settings.github.webhook_secret.reveal().encode()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = redis_client(settings.redis_url.reveal(), socket_timeout=5)
        app.state.intake = Intake(client)
        log.info("receiver_started", github_api=settings.github.api_url)
        try:
            yield
        finally:
            await client.aclose()
            log.info("receiver_stopped")

    state = State(
        {
            "webhook_secret": secret,
            "bot": BotIdentity(app_id=settings.github.app_id, slug=settings.github.app_slug),
            "metrics": ReceiverMetrics(),
        }
    )
    return Litestar(
        route_handlers=[receive_webhook, healthz, readyz, metrics_endpoint],
        lifespan=[lifespan],
        state=state,
        openapi_config=None,
        logging_config=None,
    )


def run_server(settings: Settings, *, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles the signals)."""
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )
