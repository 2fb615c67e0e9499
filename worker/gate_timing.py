"""The Redis gate's settings and its gate-wide state, as plain values (worker/gate.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GateTiming:
    """Lease and polling periods. Defaults suit minutes-long thinking calls."""

    lease_ttl: float = 30.0  # a dead holder's slot is reclaimed after this
    poll_interval: float = 1.0  # fallback poll while this process has waiters
    ticket_ttl: float = 15.0  # a waiter silent this long (dead process) is dropped
    wake_block: float = 5.0  # BLPOP timeout of the wake listener
    grace: float = field(default=0.0)  # after a restart; 0 = half the lease TTL
    # A loop that has not run this long is wedged: its leases are let go.
    stall_limit: float = 600.0

    @property
    def renew_interval(self) -> float:
        return self.lease_ttl / 3

    @property
    def grace_seconds(self) -> float:
        return self.grace or self.lease_ttl / 2


@dataclass(frozen=True, slots=True)
class GateSnapshot:
    """The gate-wide state, as Redis holds it now."""

    in_flight: int
    waiting: int
    effective_cap: int
    aimd_cap: float
