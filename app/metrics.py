"""The receiver's Prometheus metrics, on a registry of its own per app.

A registry per `create_app()` keeps tests (and several apps in one process)
from colliding on prometheus_client's global registry.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ReceiverMetrics"]

# Label values come from a header: keep them to a known set so a flood of
# made-up event names cannot grow the metric without bound.
_EVENTS: Final = frozenset(
    {"pull_request", "issue_comment", "installation", "installation_repositories", "ping"}
)


class ReceiverMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "kimi_review_webhook_deliveries",
            "Webhook deliveries by event and outcome",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.enqueue_seconds = Histogram(
            "kimi_review_webhook_enqueue_seconds",
            "Time to persist a delivery's job in Redis",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5),
            registry=self.registry,
        )

    def count(self, event: str, outcome: str) -> None:
        label = event if event in _EVENTS else "other"
        self.deliveries.labels(event=label, outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
