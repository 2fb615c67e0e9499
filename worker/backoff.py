"""The one exponential backoff: how long to wait before the Nth retry, with jitter.

Three places retry with a growing wait: a review deferred or failed
(worker.runner.retry, minutes), a model call rate-limited without a hint
(worker.llm.failover, seconds) and a gate script that could not reach Redis
(worker.gate.redis, tens of milliseconds). They differ only in base and cap,
so they share this formula instead of each writing its own.

The shape is "equal jitter": the wait is base·2^attempt capped at `cap`, of
which the lower half is fixed and the upper half random. The fixed half keeps
a retry from coming back at once; the random half spreads many workers that
failed together so they do not retry in lockstep.
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
"""

from __future__ import annotations

from typing import Final

# 2.0 ** 1024 overflows a float, and a long outage counts thousands of
# deferrals; any cap reached long before 2^32 times the base.
_MAX_EXPONENT: Final = 32


def jittered_backoff(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before retry number `attempt` (0 = the first), `jitter` drawn from [0, 1).

    A negative attempt counts as the first; the result lies in [ceiling/2, ceiling)
    where ceiling = min(cap, base·2^attempt).
    """
    exponent = min(max(0, attempt), _MAX_EXPONENT)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling / 2 + jitter * ceiling / 2
