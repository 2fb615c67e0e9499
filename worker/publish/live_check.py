"""The check run's live count (`12/40 chunks reviewed`) while chunks are answered.

Chunk answers can arrive dozens a second; GitHub wants content writes at
least a second apart (and the pacer enforces it). So progress only records
the latest count, and one background task sends it at most every `interval`
seconds, always ending on the newest count. A failed update is logged and
forgotten: the live count is a courtesy, never a reason to fail a review.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import httpx
import structlog

from worker.github.errors import GitHubError
from worker.llm.base import TokenUsage
from worker.publish.check_run import CheckRunUpdate, check_in_progress

log = structlog.get_logger("kimi_review.live_check")


class CheckWriter(Protocol):
    async def update_check(self, check_run_id: int, update: CheckRunUpdate) -> None: ...


class LiveCheck:
    """Coalesces progress reports into paced check-run updates."""

    def __init__(self, writer: CheckWriter, total: int, *, interval: float = 3.0) -> None:
        self._writer = writer
        self.total = total
        self.done = 0
        self._sent = 0
        self._interval = interval
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.check_run_id: int | None = None

    def first_update(self) -> CheckRunUpdate:
        return check_in_progress(0, self.total)

    def start(self, check_run_id: int) -> None:
        self.check_run_id = check_run_id
        self._task = asyncio.create_task(self._send_updates(check_run_id))

    def progress(self, done: int, total: int, usage: TokenUsage) -> None:
        """The pipeline's progress callback: remember the newest count, wake the sender."""
        self.done, self.total = done, total
        self._changed.set()

    async def stop(self) -> None:
        """Stop sending (the caller writes the final state itself)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _send_updates(self, check_run_id: int) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self.done == self._sent:
                continue
            done = self.done
            try:
                await self._writer.update_check(check_run_id, check_in_progress(done, self.total))
                self._sent = done
            except (GitHubError, httpx.HTTPError) as exc:
                log.info("live_count_not_updated", error=str(exc))
            await asyncio.sleep(self._interval)
