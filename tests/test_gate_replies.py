"""The gate scripts' Lua replies read into named fields (pure vectors, as Redis sends them)."""

from __future__ import annotations

from worker.gate import replies


def test_enter_names_the_ticket_and_whether_it_holds_a_slot() -> None:
    out = [b"e1", 1700000000123, 2, 1, 4, b"000000000007|p1|r:1", 1]
    reply = replies.entered(out)
    assert reply.stats == replies.Stats("e1", 1700000000123, 2, 1, 4)
    assert (reply.ticket, reply.holds) == ("000000000007|p1|r:1", True)
    assert replies.entered([*out[:6], 0]).holds is False


def test_sync_names_lost_leases_and_each_waiters_status() -> None:
    out = [b"e2", 5, 0, 2, 3, [b"t-lost"], [b"1700000000500", b"w", b"x"]]
    reply = replies.synced(out)
    assert reply.lost == ["t-lost"]
    assert reply.statuses == ["1700000000500", "w", "x"]
    assert reply.stats.epoch == "e2"


def test_peek_reads_the_fractional_cap() -> None:
    assert replies.peeked_cap([b"e", 0, 0, 0, 3, b"3.75"]) == 3.75
