"""Prometheus metrics of the concurrency gate (in flight, waiting, wait, cap).

Gauges carry the gate-wide values (read from Redis by the last script a
process ran), not one process's share: any worker's `/metrics` shows the
whole fleet's state for that key. `gate` is the endpoint role (`main`,
`fallback`), never the key.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

IN_FLIGHT = Gauge(
    "kimi_review_gate_in_flight", "Model calls holding a gate slot, across all workers", ["gate"]
)
WAITING = Gauge(
    "kimi_review_gate_waiting", "Model calls waiting for a gate slot, across all workers", ["gate"]
)
EFFECTIVE_CAP = Gauge(
    "kimi_review_gate_effective_cap",
    "Slots the gate grants now: the configured cap lowered by AIMD after 429s",
    ["gate"],
)
CONFIGURED_CAP = Gauge(
    "kimi_review_gate_configured_cap", "API_LLM_[FALLBACK_]MAX_CONCURRENT_REQUESTS", ["gate"]
)
WAIT_SECONDS = Histogram(
    "kimi_review_gate_wait_seconds",
    "Time a model call waited for its slot",
    ["gate"],
    buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 15, 60, 300, 900),
)
RATE_LIMITED = Counter(
    "kimi_review_gate_rate_limited_total", "429 rate-limit answers reported to the gate", ["gate"]
)
LEASES_LOST = Counter(
    "kimi_review_gate_leases_lost_total",
    "Leases found expired while their call still ran (a stalled worker or a Redis restart)",
    ["gate"],
)


def observe_state(gate: str, *, in_flight: int, waiting: int, effective_cap: int) -> None:
    IN_FLIGHT.labels(gate).set(in_flight)
    WAITING.labels(gate).set(waiting)
    EFFECTIVE_CAP.labels(gate).set(effective_cap)
