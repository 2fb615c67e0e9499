"""A tiny real-HTTP model server that counts concurrent requests server-side.

`POST /v1/chat/completions?sleep=0.5` answers after 0.5 s with a minimal
OpenAI-shaped body. While the request runs it is *in flight*; the server
records the peak and every change of the in-flight level with its time, so
a test can check the gate's invariant where it matters: at the provider. A
client that disconnects (a SIGKILLed worker) stops counting at once.

With `hidden_limit`, a request arriving while that many are in flight is
answered at once with Moonshot's 429 `rate_limit_reached_error`, the way a
provider with a lower real limit than the configured cap behaves.

`GET /stats` returns the counters as JSON (for processes other than the one
running the server). Run in a thread of the test process: `start()`/`stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

RATE_LIMITED_BODY = {
    "error": {
        "type": "rate_limit_reached_error",
        "message": "max concurrency reached, please try again after 1 seconds",
    }
}


@dataclass
class Counters:
    in_flight: int = 0
    peak: int = 0
    served: int = 0
    rate_limited: int = 0
    abandoned: int = 0
    # (time.time(), in-flight level after the change), in order.
    levels: list[tuple[float, int]] = field(default_factory=list)


class CountingServer:
    def __init__(self, *, hidden_limit: int | None = None) -> None:
        self.hidden_limit = hidden_limit
        self.counters = Counters()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CountingServer:
        self._thread = threading.Thread(target=self._run, name="counting-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("counting server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def snapshot(self) -> Counters:
        """A copy of the counters, safe to read from another thread."""
        done: threading.Event = threading.Event()
        copy: list[Counters] = []

        def take() -> None:
            c = self.counters
            copy.append(
                Counters(c.in_flight, c.peak, c.served, c.rate_limited, c.abandoned, [*c.levels])
            )
            done.set()

        assert self._loop is not None
        self._loop.call_soon_threadsafe(take)
        done.wait(10)
        return copy[0]

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=512)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        self._server.close()
        loop.close()

    def _level(self, delta: int) -> None:
        c = self.counters
        c.in_flight += delta
        c.peak = max(c.peak, c.in_flight)
        c.levels.append((time.time(), c.in_flight))

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length:
            await reader.readexactly(length)
        parts = urlsplit(target)
        if method == "GET" and parts.path == "/stats":
            c = self.counters
            stats = {"in_flight": c.in_flight, "peak": c.peak, "served": c.served}
            stats |= {"rate_limited": c.rate_limited, "abandoned": c.abandoned}
            return await _answer(writer, 200, stats)
        sleep = float(parse_qs(parts.query).get("sleep", ["0"])[0])
        if self.hidden_limit is not None and self.counters.in_flight >= self.hidden_limit:
            self.counters.rate_limited += 1
            return await _answer(writer, 429, RATE_LIMITED_BODY)
        self._level(+1)
        finished = asyncio.ensure_future(asyncio.sleep(sleep))
        hung_up = asyncio.ensure_future(reader.read(1))  # b"" once the client is gone
        await asyncio.wait({finished, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        self._level(-1)
        if not finished.done():
            finished.cancel()
            self.counters.abandoned += 1
            return False
        hung_up.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hung_up  # the reader is free again only once the read has unwound
        self.counters.served += 1
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        return await _answer(writer, 200, {"choices": [], "usage": usage})


async def _answer(writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> bool:
    data = json.dumps(body).encode()
    reason = {200: "OK", 429: "Too Many Requests"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    return True
