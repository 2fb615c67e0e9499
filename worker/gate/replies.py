"""The gate scripts' replies, decoded into named values once.

Every script in worker/gate/scripts.py answers a Lua table:
`[epoch, now_ms, in_flight, waiting, effective_cap, ...]`, then what that
script adds (ENTER: the ticket and whether it holds a slot already; SYNC: the
held tickets found lost and one status per waiting ticket; PEEK: the
fractional AIMD cap). Reading those by position at each call site made every
change to a script a hunt for indexes; here each position is read once, and
the gate (worker/gate/redis.py) sees fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def text(value: Any) -> str:
    """A Redis reply item as text (bytes are decoded; a number is formatted)."""
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Stats:
    """What every script returns first: the gate's state right after it ran."""

    epoch: str  # changes when Redis lost the gate's state (a restart)
    now_ms: int  # Redis' clock
    in_flight: int
    waiting: int
    effective_cap: int


@dataclass(frozen=True, slots=True)
class Entered:
    """ENTER: the caller's new ticket, and whether it was granted a slot at once."""

    stats: Stats
    ticket: str
    holds: bool


@dataclass(frozen=True, slots=True)
class Synced:
    """SYNC: held tickets whose lease was lost, and each waiting ticket's status:
    a grant time in ms, `w` still waiting, or `x` lost (queue again)."""

    stats: Stats
    lost: list[str]
    statuses: list[str]


def stats(out: Sequence[Any]) -> Stats:
    return Stats(text(out[0]), int(out[1]), int(out[2]), int(out[3]), int(out[4]))


def entered(out: Sequence[Any]) -> Entered:
    return Entered(stats(out), text(out[5]), int(out[6]) == 1)


def synced(out: Sequence[Any]) -> Synced:
    return Synced(stats(out), [text(raw) for raw in out[5]], [text(raw) for raw in out[6]])


def peeked_cap(out: Sequence[Any]) -> float:
    """PEEK: the fractional AIMD cap behind the effective (whole) one."""
    return float(text(out[5]))
