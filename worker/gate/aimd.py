"""AIMD for the gate's effective cap, and the fair-queue score: pure, no I/O.

A provider's real concurrency limit may sit below the configured cap (a plan
shared with other tools, a limit lowered under load). Like TCP congestion
control, the gate halves-ish its effective cap when the provider answers 429
rate-limit (multiplicative decrease) and adds about one slot per "round" of
successful calls (additive increase), so it settles just under the real limit.

Two refinements keep the 429 share low once settled:

- One decrease per congestion event: a 429 from a call that was granted
  *before* the last decrease says nothing new (the cap was already lowered
  for it), so it is ignored. Without this, 10 calls over the limit failing
  together would cut the cap ten times.
- Careful growth near the level of the last 429 (`ceiling`): growth slows
  fourfold from 90% of it, and sixteenfold within one slot of it, so the cap
  dwells just under the known limit and probes it rarely (few 429s); past
  ceiling + 1 the limit has evidently risen and growth is normal again.

`worker/gate/scripts.py` runs the same arithmetic inside Redis; a test checks the
two agree step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

DECREASE_FACTOR: Final = 0.75
# When the caller cannot say when its lease was granted, two 429s less than
# this apart count as one event.
DECREASE_GUARD_MS: Final = 1000
CAREFUL_LOW: Final = 0.9
CAREFUL_SLOWDOWN: Final = 4.0
PROBE_MARGIN: Final = 1.0
PROBE_SLOWDOWN: Final = 16.0
# The AIMD state of an idle gate is forgotten after this long: the next burst
# starts from the configured cap again (a limit lowered hours ago may be gone).
IDLE_RESET_MS: Final = 3600 * 1000


@dataclass(frozen=True, slots=True)
class AimdState:
    """Effective cap (fractional; the gate uses its floor) and 429 history."""

    cap: float
    last_decrease_ms: int = 0  # 0 = never decreased
    ceiling: float = 0.0  # effective cap at the last 429; 0 = none seen


def initial_state(configured: int) -> AimdState:
    return AimdState(cap=float(configured))


def effective_cap(state: AimdState, configured: int) -> int:
    """Whole slots the gate may grant now: at least 1, at most the configured cap."""
    return max(1, math.floor(min(state.cap, float(configured))))


def after_rate_limited(
    state: AimdState, configured: int, *, now_ms: int, granted_ms: int | None
) -> AimdState:
    """The provider answered 429 rate-limit to a call granted at `granted_ms`."""
    if state.last_decrease_ms:
        if granted_ms is not None and granted_ms < state.last_decrease_ms:
            return state
        if granted_ms is None and now_ms - state.last_decrease_ms < DECREASE_GUARD_MS:
            return state
    level = float(effective_cap(state, configured))
    return AimdState(cap=max(1.0, level * DECREASE_FACTOR), last_decrease_ms=now_ms, ceiling=level)


def after_success(state: AimdState, configured: int) -> AimdState:
    """A call succeeded: grow by about one slot per effective-cap successes."""
    cap = min(state.cap, float(configured))
    if cap >= configured:
        return replace(state, cap=float(configured))
    step = 1.0 / max(cap, 1.0)
    ceiling = state.ceiling
    if ceiling and ceiling - PROBE_MARGIN <= cap <= ceiling + PROBE_MARGIN:
        step /= PROBE_SLOWDOWN
    elif ceiling and CAREFUL_LOW * ceiling <= cap <= ceiling:
        step /= CAREFUL_SLOWDOWN
    return replace(state, cap=min(float(configured), cap + step))


def fair_score(virtual_time: int, review_last_score: int) -> int:
    """Queue score of a new ticket: round-robin between reviews.

    Each review's tickets take consecutive rounds starting at the current
    virtual time (the score of the last grant); ties are served in arrival
    order. A review that queued 3,000 tickets holds rounds vt+1..vt+3000; a
    review arriving later gets vt+1, vt+2, ... and so alternates with it
    instead of waiting behind all 3,000.
    """
    return max(virtual_time, review_last_score) + 1
