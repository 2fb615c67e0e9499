"""The check run's live count (worker.publish.live_check): coalesced, paced, never fatal."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from structlog.testing import capture_logs

from worker.github.errors import GitHubError
from worker.llm.base import TokenUsage
from worker.publish.check_run import CheckRunUpdate
from worker.publish.live_check import LiveCheck

INTERVAL = 0.05
CHECK_RUN = 4242
USAGE = TokenUsage(prompt=100, completion=20)


class RecordingCheckWriter:
    """Stands in for GitHub's check-runs API: records each PATCH, fails the ones asked to."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.calls: list[tuple[int, CheckRunUpdate, float]] = []
        self.fail_first = fail_first
        self.attempts = 0

    async def update_check(self, check_run_id: int, update: CheckRunUpdate) -> None:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            raise GitHubError("updating check run: 502 Bad Gateway", status=502)
        self.calls.append((check_run_id, update, time.monotonic()))

    @property
    def titles(self) -> list[str]:
        return [update.output.title for _, update, _ in self.calls]


async def settle() -> None:
    """Long enough for the sender to wake, send and finish its pause several times."""
    await asyncio.sleep(INTERVAL * 4)


@pytest.fixture
async def writer() -> RecordingCheckWriter:
    return RecordingCheckWriter()


def test_the_first_update_shows_zero_of_the_total() -> None:
    live = LiveCheck(RecordingCheckWriter(), 40, interval=INTERVAL)
    first = live.first_update()
    assert first.status == "in_progress"
    assert first.output.title == "0/40 chunks reviewed"


async def test_one_progress_report_becomes_one_update_on_the_started_check_run(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 10, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        live.progress(1, 10, USAGE)
        await settle()
    finally:
        await live.stop()
    assert [(run_id, update.status) for run_id, update, _ in writer.calls] == [
        (CHECK_RUN, "in_progress")
    ]
    assert writer.titles == ["1/10 chunks reviewed"]
    assert live.check_run_id == CHECK_RUN


async def test_a_burst_of_progress_reports_is_coalesced_into_few_updates(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 60, interval=INTERVAL)
    live.start(CHECK_RUN)
    started = time.monotonic()
    try:
        for done in range(1, 61):
            live.progress(done, 60, USAGE)
            await asyncio.sleep(0.002)
        burst = time.monotonic() - started
        await settle()
    finally:
        await live.stop()
    # At most one update per interval during the burst, plus the first and the last.
    assert 1 <= len(writer.calls) <= burst / INTERVAL + 2
    assert len(writer.calls) < 60
    assert writer.titles[-1] == "60/60 chunks reviewed"


async def test_progress_reported_without_yielding_sends_only_the_newest_count(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 100, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        for done in range(1, 101):
            live.progress(done, 100, USAGE)
        await settle()
    finally:
        await live.stop()
    assert writer.titles == ["100/100 chunks reviewed"]


async def test_the_last_update_carries_the_newest_count_and_total(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 5, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        live.progress(1, 5, USAGE)
        await asyncio.sleep(0.005)  # the first is being sent; the next ones arrive meanwhile
        live.progress(2, 5, USAGE)
        live.progress(3, 6, USAGE)  # re-chunking grew the total
        await settle()
    finally:
        await live.stop()
    assert writer.titles == ["1/5 chunks reviewed", "3/6 chunks reviewed"]


async def test_updates_are_spaced_at_least_one_interval_apart(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 30, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        for done in range(1, 31):
            live.progress(done, 30, USAGE)
            await asyncio.sleep(0.01)
        await settle()
    finally:
        await live.stop()
    sent_at = [at for _, _, at in writer.calls]
    assert len(sent_at) >= 2
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) >= INTERVAL * 0.9


async def test_counts_sent_only_grow(writer: RecordingCheckWriter) -> None:
    live = LiveCheck(writer, 50, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        for done in range(1, 51):
            live.progress(done, 50, USAGE)
            await asyncio.sleep(0.003)
        await settle()
    finally:
        await live.stop()
    counts = [int(title.split("/")[0]) for title in writer.titles]
    assert counts == sorted(set(counts))


async def test_no_progress_means_no_update(writer: RecordingCheckWriter) -> None:
    live = LiveCheck(writer, 10, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        await settle()
    finally:
        await live.stop()
    assert writer.calls == []


async def test_a_repeated_count_is_not_sent_twice(writer: RecordingCheckWriter) -> None:
    live = LiveCheck(writer, 10, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        live.progress(4, 10, USAGE)
        await settle()
        live.progress(4, 10, USAGE)
        await settle()
    finally:
        await live.stop()
    assert writer.titles == ["4/10 chunks reviewed"]


async def test_a_failed_update_is_logged_and_later_updates_still_go() -> None:
    writer = RecordingCheckWriter(fail_first=1)
    live = LiveCheck(writer, 10, interval=INTERVAL)
    live.start(CHECK_RUN)
    try:
        with capture_logs() as logs:
            live.progress(1, 10, USAGE)
            await settle()
            live.progress(2, 10, USAGE)
            await settle()
    finally:
        await live.stop()
    assert writer.attempts == 2
    assert writer.titles == ["2/10 chunks reviewed"]
    failures = [entry for entry in logs if entry["event"] == "live_count_not_updated"]
    assert len(failures) == 1
    assert "502 Bad Gateway" in failures[0]["error"]


async def test_every_update_failing_never_fails_the_review() -> None:
    writer = RecordingCheckWriter(fail_first=1000)
    live = LiveCheck(writer, 10, interval=INTERVAL)
    live.start(CHECK_RUN)
    with capture_logs():
        for done in range(1, 4):
            live.progress(done, 10, USAGE)
            await settle()
        await live.stop()  # does not raise
    assert writer.attempts == 3
    assert writer.calls == []


async def test_stop_ends_the_sender_and_later_progress_sends_nothing(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 10, interval=INTERVAL)
    before = asyncio.all_tasks()
    live.start(CHECK_RUN)
    senders = asyncio.all_tasks() - before
    assert len(senders) == 1
    live.progress(1, 10, USAGE)
    await settle()
    await live.stop()
    assert all(t.done() for t in senders)
    live.progress(2, 10, USAGE)
    await settle()
    assert writer.titles == ["1/10 chunks reviewed"]


async def test_stop_during_the_pause_after_an_update_returns_promptly() -> None:
    writer = RecordingCheckWriter()
    live = LiveCheck(writer, 10, interval=60.0)
    live.start(CHECK_RUN)
    live.progress(1, 10, USAGE)
    await asyncio.sleep(0.02)  # sent; now pausing a minute
    started = time.monotonic()
    await live.stop()
    assert time.monotonic() - started < 1.0
    assert writer.titles == ["1/10 chunks reviewed"]


async def test_stop_before_start_and_stop_twice_are_harmless(
    writer: RecordingCheckWriter,
) -> None:
    live = LiveCheck(writer, 10, interval=INTERVAL)
    await live.stop()
    live.start(CHECK_RUN)
    await live.stop()
    await live.stop()
    assert writer.calls == []
