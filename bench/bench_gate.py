"""Benchmark of the Redis concurrency gate: overhead, utilisation, AIMD.

    .venv/bin/python -m bench.bench_gate [--redis-url redis://127.0.0.1:6379/14]

1. Overhead: acquire + release of a free slot, sequential, against local
   Redis (target: p50 < 1 ms).
2. Utilisation: 300 calls of 0.5 s, cap 30, two worker processes, against a
   fake model server; ratio of the theoretical time (300 x 0.5 / 30 = 5 s) to
   the measured one (target >= 0.9).
3. AIMD: cap 30 against a fake that answers 429 above a hidden limit of 20;
   the share of calls answered 429 once AIMD has settled (target < 2%).

Uses keys under a random gate id and deletes them afterwards; never flushes.
Prints figures; asserts nothing (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from tests.fakes.counting_server import CountingServer
from worker import keys
from worker.gate.redis import RedisGate

ROOT = Path(__file__).resolve().parent.parent


async def overhead(redis_url: str, rounds: int) -> dict[str, float]:
    redis = aioredis.Redis.from_url(redis_url)
    key = f"bench-{secrets.token_hex(4)}"
    gate = RedisGate(redis, key, cap=30)
    try:
        for _ in range(200):  # warm up: scripts loaded, connections open
            async with gate.hold("warm"):
                pass
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            async with gate.hold("bench"):
                pass
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await gate.close()
        await _clean(redis, key)
        await redis.aclose()
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[int(len(samples) * 0.95)],
        "p99_ms": samples[int(len(samples) * 0.99)],
    }


def run_workers(
    redis_url: str, server: CountingServer, *, calls: int, sleep: float, aimd: bool
) -> list[dict[str, Any]]:
    key = f"bench-{secrets.token_hex(4)}"
    start_at = time.time() + 3.0  # both processes imported and connected by then
    command = [sys.executable, "-m", "tests.support.gate_worker", "--redis-url", redis_url]
    command += ["--key", key, "--cap", "30", "--server", server.url, "--calls", str(calls)]
    command += ["--sleep", str(sleep), "--start-at", str(start_at)]
    if aimd:
        command.append("--aimd")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [*command, "--review", f"review-{i}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    asyncio.run(_clean_url(redis_url, key))
    return results


def utilisation(redis_url: str) -> dict[str, float]:
    server = CountingServer().start()
    try:
        results = run_workers(redis_url, server, calls=150, sleep=0.5, aimd=False)
        peak = server.snapshot().peak
    finally:
        server.stop()
    started = min(r["started"] for r in results)
    elapsed = max(r["finished"] for r in results) - started
    theoretical = 300 * 0.5 / 30
    return {
        "elapsed_s": elapsed,
        "theoretical_s": theoretical,
        "ratio": theoretical / elapsed,
        "peak_in_flight": peak,
    }


def aimd(redis_url: str, calls_per_worker: int, sleep: float) -> dict[str, float]:
    server = CountingServer(hidden_limit=20).start()
    try:
        results = run_workers(redis_url, server, calls=calls_per_worker, sleep=sleep, aimd=True)
        counters = server.snapshot()
    finally:
        server.stop()
    events = sorted(event for r in results for event in r["events"])
    started = events[0][0]
    finished = max(r["finished"] for r in results)
    settle = started + (finished - started) * 0.25  # the first quarter is the descent
    settled = [status for at, status in events if at >= settle]
    total_429 = sum(1 for _, status in events if status == 429)
    return {
        "attempts": len(events),
        "rate_limited_total": total_429,
        "share_429_overall": total_429 / len(events),
        "share_429_settled": settled.count(429) / len(settled),
        "peak_in_flight": counters.peak,
        "throughput_vs_limit": (2 * calls_per_worker * sleep / 20) / (finished - started),
    }


async def _clean(redis: aioredis.Redis, key: str) -> None:
    async for name in redis.scan_iter(match=f"{keys.gate(key)}:*"):
        await redis.delete(name)


async def _clean_url(redis_url: str, key: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    await _clean(redis, key)
    await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--aimd-calls", type=int, default=600, help="per worker process")
    parser.add_argument("--aimd-sleep", type=float, default=0.2)
    args = parser.parse_args()
    figures = {"overhead": asyncio.run(overhead(args.redis_url, args.rounds))}
    print(json.dumps(figures["overhead"]), flush=True)
    figures["utilisation"] = utilisation(args.redis_url)
    print(json.dumps(figures["utilisation"]), flush=True)
    figures["aimd"] = aimd(args.redis_url, args.aimd_calls, args.aimd_sleep)
    print(json.dumps(figures["aimd"]), flush=True)
    o, u, a = figures["overhead"], figures["utilisation"], figures["aimd"]
    lines = [
        "",
        f"gate acquire+release: p50 {o['p50_ms']:.3f} ms, p95 {o['p95_ms']:.3f} ms, "
        f"p99 {o['p99_ms']:.3f} ms (target p50 < 1 ms)",
        f"utilisation, 300 x 0.5 s, cap 30, 2 processes: {u['elapsed_s']:.2f} s "
        f"vs {u['theoretical_s']:.2f} s = {u['ratio']:.3f} (target >= 0.9), "
        f"peak in flight {u['peak_in_flight']}",
        f"AIMD, hidden limit 20, cap 30: 429 share once settled {a['share_429_settled']:.2%} "
        f"(overall {a['share_429_overall']:.2%}, {a['rate_limited_total']} of "
        f"{a['attempts']}; target < 2%), peak in flight {a['peak_in_flight']}, "
        f"throughput {a['throughput_vs_limit']:.2f} of the limit's",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
