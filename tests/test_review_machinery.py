"""One assembly of the model path: with Redis for workers, in-process for the commands."""

from __future__ import annotations

from dataclasses import replace

import httpx
import redis.asyncio as aioredis

from tests.fakes.model_stack import MAIN_KEY, endpoint, llm_settings
from worker.config import ModelEndpoint
from worker.gate.local import LocalGate
from worker.gate.redis import RedisGate
from worker.llm.breaker import LocalBreaker, RedisBreaker
from worker.review.machinery import build_model_path

FALLBACK_KEY = "sk-fallback-" + "f" * 24


def _capped(role: str, key: str = MAIN_KEY) -> ModelEndpoint:
    return replace(endpoint(role, "http://127.0.0.1:9/v1", key=key), max_concurrent=4)


async def test_without_redis_the_gates_and_breaker_live_in_the_process() -> None:
    llm = llm_settings(_capped("main"), _capped("fallback", FALLBACK_KEY))
    async with httpx.AsyncClient() as http:
        path = build_model_path(llm, http, redis=None)
    assert isinstance(path.main_gate, LocalGate)
    assert isinstance(path.fallback_gate, LocalGate)
    assert isinstance(path.breaker, LocalBreaker)
    assert path.gates == [path.main_gate, path.fallback_gate]


async def test_with_redis_every_worker_shares_the_gate_and_the_breaker(
    redis: aioredis.Redis,
) -> None:
    llm = llm_settings(_capped("main"))
    async with httpx.AsyncClient() as http:
        path = build_model_path(llm, http, redis=redis)
    try:
        assert isinstance(path.main_gate, RedisGate)
        assert path.fallback_gate is None
        assert isinstance(path.breaker, RedisBreaker)
    finally:
        for gate in path.gates:
            if isinstance(gate, RedisGate):
                await gate.close()
