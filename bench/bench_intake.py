"""Webhook intake throughput and latency: `kimi-review serve` vs a bare endpoint.

Both servers run as separate processes with the same uvicorn settings; the
load comes from a small asyncio HTTP/1.1 keep-alive client (no client library
overhead) posting signed 25 KB pull_request payloads, each with its own
delivery id and head SHA, so every request takes the full path: signature,
decode, route, one Lua round trip to Redis. Prints req/s, p50 and p99 for
each and the throughput ratio (target >= 0.5).

    .venv/bin/python bench/bench_intake.py [--requests 4000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.signature import sign  # noqa: E402
from tests.support.env import product_env  # noqa: E402
from tests.support.processes import ProductProcess, start_serve  # noqa: E402
from tests.support.redis_server import free_port  # noqa: E402
from tests.support.webhooks import SECRET, payload  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/15"


def signed_requests(count: int, first: int = 0) -> list[bytes]:
    base = payload("pull_request.opened")
    base["pull_request"]["body"] = "x" * (25_000 - len(json.dumps(base)))
    out = []
    for i in range(first, first + count):
        base["pull_request"]["head"]["sha"] = f"{i:040x}"
        body = json.dumps(base).encode()
        head = (
            "POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nX-GitHub-Event: pull_request\r\n"
            f"X-GitHub-Delivery: {uuid.uuid4()}\r\n"
            f"X-Hub-Signature-256: {sign(body, secret=SECRET.encode())}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _connection(port: int, queue: asyncio.Queue[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                request = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status not in (200, 202):
                raise RuntimeError(f"unexpected status {status}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(port: int, requests: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, queue, latencies) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def report(name: str, elapsed: float, latencies: list[float]) -> float:
    rate = len(latencies) / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(f"{name:<22} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    warmup = signed_requests(200, first=10**9)
    requests = signed_requests(args.requests)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()

    port = free_port()
    bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)])
    time.sleep(1.5)
    try:
        asyncio.run(load(port, warmup, args.concurrency))
        bare_rate = report("bare Litestar", *asyncio.run(load(port, requests, args.concurrency)))
    finally:
        bare.terminate()
        bare.wait()

    serve, base = start_serve(product_env(REDIS_URL, LOG_FORMAT="json"))
    assert isinstance(serve, ProductProcess)
    try:
        port = int(base.rsplit(":", 1)[1])
        asyncio.run(load(port, warmup, args.concurrency))
        queued_before = int(client.zcard("kimi-review:queue"))  # type: ignore[arg-type]
        ours = report("kimi-review serve", *asyncio.run(load(port, requests, args.concurrency)))
        queued = int(client.zcard("kimi-review:queue")) - queued_before  # type: ignore[arg-type]
    finally:
        serve.stop()
        client.flushdb()
    print(f"jobs persisted: {queued}/{len(requests)}")
    print(f"throughput ratio kimi-review / bare: {ours / bare_rate:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
