"""A separate worker process for the breaker tests: reviews one chunk, prints JSON.

    python -m tests.fakes.model_worker REDIS_URL MAIN_BASE_URL FALLBACK_BASE_URL

Main is an OpenAI-compatible fake keyed with MAIN_KEY, the fallback another
keyed with FALLBACK_KEY; the breaker is the product's RedisBreaker, so what
one process learns is what the other sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx
import redis.asyncio as aioredis

from tests.fakes.model_stack import FALLBACK_KEY, MESSAGES, build_stack, endpoint, llm_settings
from worker.llm.breaker import RedisBreaker


async def review_once(redis_url: str, main_url: str, fallback_url: str) -> dict[str, object]:
    llm = llm_settings(
        endpoint("main", main_url), endpoint("fallback", fallback_url, key=FALLBACK_KEY)
    )
    redis = aioredis.Redis.from_url(redis_url)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            stack = build_stack(llm, http, breaker=RedisBreaker(redis))
            result = await stack.reviewer.review_chunk(
                MESSAGES, chunk_tokens=5000, review_key=f"worker:{os.getpid()}"
            )
    finally:
        await redis.aclose()
    return {"role": result.role, "notes": list(result.notes)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(review_once(*sys.argv[1:4]))))
