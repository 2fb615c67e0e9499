"""A worker process for the gate tests and bench: model calls through a RedisGate.

    python -m tests.support.gate_worker --redis-url URL --key K --cap 30 \
        --server http://127.0.0.1:PORT --calls 150 --sleep 0.5 --review R

Every call runs `async with gate.hold(review): POST <server>?sleep=S`, all
calls queued at once (as a review's chunks are). With `--aimd` a 429 is
reported to the gate and the call retried after a short pause; successes
are reported too. With `--hold` the process prints `holding` each time it
enters a slot and then calls with the given sleep (a test SIGKILLs it).
The last stdout line is a JSON summary: ok, rate_limited, started, finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

import httpx
import redis.asyncio as aioredis

from worker.gate.redis import GateTiming, RedisGate


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--cap", type=int, required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--sleep", type=float, default=0.1)
    parser.add_argument("--review", default="review")
    parser.add_argument("--lease-ttl", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--start-at", type=float, default=0.0, help="time.time() to begin at")
    parser.add_argument("--aimd", action="store_true")
    parser.add_argument("--hold", action="store_true")
    return parser.parse_args()


class Tally:
    def __init__(self) -> None:
        self.ok = 0
        self.rate_limited = 0
        self.events: list[tuple[float, int]] = []  # (start time, HTTP status)


async def _call(
    gate: RedisGate, http: httpx.AsyncClient, args: argparse.Namespace, tally: Tally
) -> None:
    while True:
        async with gate.hold(args.review):
            if args.hold:
                print("holding", flush=True)
            started = time.time()
            response = await http.post("/v1/chat/completions", params={"sleep": args.sleep})
            tally.events.append((started, response.status_code))
            if response.status_code != 429:
                tally.ok += 1
                if args.aimd:
                    await gate.report_success()
                return
            tally.rate_limited += 1
            if not args.aimd:
                return
            await gate.report_rate_limited()
        await asyncio.sleep(random.uniform(0.05, 0.15))


async def main() -> int:
    args = _arguments()
    redis = aioredis.Redis.from_url(args.redis_url)
    timing = GateTiming(
        lease_ttl=args.lease_ttl, poll_interval=args.poll, ticket_ttl=max(3.0, args.poll * 5)
    )
    gate = RedisGate(redis, args.key, cap=args.cap, timing=timing)
    limits = httpx.Limits(max_connections=args.cap + 10, max_keepalive_connections=args.cap + 10)
    async with httpx.AsyncClient(base_url=args.server, limits=limits, timeout=600) as http:
        await http.get("/stats")  # connect (and import everything) before the clock starts
        await redis.ping()
        delay = args.start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tally = Tally()
        started = time.time()
        await asyncio.gather(*(_call(gate, http, args, tally) for _ in range(args.calls)))
        finished = time.time()
    await gate.close()
    await redis.aclose()
    summary: dict[str, object] = {"ok": tally.ok, "rate_limited": tally.rate_limited}
    summary |= {"started": started, "finished": finished, "events": tally.events}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
