"""Runs every chunk's review at once; a failure stops what has not started, never a paid call.

When one chunk fails (most often `ModelsUnavailable`: the review will be
deferred), the other chunks' model calls already sent are allowed to finish
and their answers are checkpointed by the caller: a thinking call is billed
whether or not its answer is read, so cancelling it would throw money away.
Chunks that have not sent a call yet (waiting at the gate, reserving budget)
are cancelled, and none starts a new one (`worker.ports.CallWatch`). Then the
first failure is raised. A cancellation from outside (the PR's lease lost:
another worker owns the review now) still cancels everything.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from worker.ports import CALL_WATCH, CallsStopped, CallWatch

T = TypeVar("T")


async def _watched(watch: CallWatch, work: Callable[[], Awaitable[None]]) -> None:
    CALL_WATCH.set(watch)  # the task's own context: seen by its model calls only
    await work()


async def run_each(items: Sequence[T], review: Callable[[T], Awaitable[None]]) -> None:
    """`review(item)` for every item concurrently; raises the first failure, once all ended."""
    running: dict[asyncio.Task[None], CallWatch] = {}
    for item in items:
        watch = CallWatch()
        task = asyncio.create_task(_watched(watch, functools.partial(review, item)))
        running[task] = watch
    first: BaseException | None = None
    pending = set(running)
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is None or isinstance(failure, CallsStopped) or first is not None:
                    continue
                first = failure
                for other in pending:
                    watch = running[other]
                    watch.stopping = True
                    if not watch.started:  # nothing paid yet: stop it now
                        other.cancel()
    finally:
        for task in pending:  # only when cancelled from outside
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    if first is not None:
        raise first
