"""A review's progress hash (worker.review.checkpoints): in Redis and in memory alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, cast

import msgspec
import pytest
import redis.asyncio as aioredis

from worker import keys
from worker.diff.tokens import TokenEstimator
from worker.llm.base import TokenUsage
from worker.model_answer import ChunkAnswer, Finding
from worker.review.checkpoints import STATE_TTL_SECONDS, MemoryCheckpoint, ReviewCheckpoint
from worker.review.chunk_review import ChunkResult

KEY = keys.review_state(42, 7, "a" * 40)


class Checkpoint(Protocol):
    async def get(self, chunk_id: str) -> ChunkResult | None: ...
    async def put(self, chunk_id: str, result: ChunkResult) -> None: ...
    async def check_run_id(self) -> int | None: ...
    async def set_check_run_id(self, check_run_id: int) -> None: ...
    async def estimator(self, default: TokenEstimator) -> TokenEstimator: ...
    async def started_at(self, now: float) -> float: ...


def chunk_result() -> ChunkResult:
    finding = Finding(
        path="src/app.py",
        line=12,
        start_line=10,
        title="Off-by-one in the page loop",
        body="The last page is never read: `range(1, pages)` stops one short.",
        severity="high",
        category="bug",
        side="RIGHT",
        suggestion="for page in range(1, pages + 1):",
    )
    return ChunkResult(
        answer=ChunkAnswer(summary="Pagination stops early.", findings=[finding]),
        usage=TokenUsage(prompt=1234, completion=321, cached=1000),
        role="fallback",
        model="claude-sonnet-4-5",
        notes=("main model rate limited: answered by the fallback", "answer repaired once"),
        thinking=True,
        reasoning_chars=4096,
        repaired=True,
    )


async def raw_hset(redis: aioredis.Redis, field: str, value: bytes) -> None:
    """Write a field as another (or a broken) version of the worker would have."""
    await cast("Any", redis).hset(KEY, field, value)


@pytest.fixture(params=["redis", "memory"])
async def checkpoint(
    request: pytest.FixtureRequest, redis: aioredis.Redis
) -> AsyncIterator[Checkpoint]:
    if request.param == "redis":
        yield ReviewCheckpoint(redis, KEY)
    else:
        yield MemoryCheckpoint()


# --- both implementations -------------------------------------------------------------


async def test_a_chunk_result_round_trips_exactly(checkpoint: Checkpoint) -> None:
    result = chunk_result()
    await checkpoint.put("chunk-1", result)
    assert await checkpoint.get("chunk-1") == result


async def test_a_dropped_chunk_with_no_answer_round_trips(checkpoint: Checkpoint) -> None:
    dropped = ChunkResult(
        answer=None,
        usage=TokenUsage(prompt=10),
        role="main",
        model="kimi-k2.6",
        notes=("unparsable twice: dropped",),
        thinking=False,
    )
    await checkpoint.put("chunk-2", dropped)
    assert await checkpoint.get("chunk-2") == dropped


async def test_a_chunk_never_answered_is_none(checkpoint: Checkpoint) -> None:
    await checkpoint.put("chunk-1", chunk_result())
    assert await checkpoint.get("chunk-2") is None


async def test_a_later_answer_for_the_same_chunk_replaces_the_first(
    checkpoint: Checkpoint,
) -> None:
    await checkpoint.put("chunk-1", chunk_result())
    second = ChunkResult(
        answer=ChunkAnswer(summary="fine"),
        usage=TokenUsage(),
        role="main",
        model="kimi-k2.6",
        notes=(),
        thinking=False,
    )
    await checkpoint.put("chunk-1", second)
    assert await checkpoint.get("chunk-1") == second


async def test_no_check_run_until_one_is_set(checkpoint: Checkpoint) -> None:
    assert await checkpoint.check_run_id() is None
    await checkpoint.set_check_run_id(987654321012)
    assert await checkpoint.check_run_id() == 987654321012


async def test_the_first_estimator_is_kept_whatever_default_comes_later(
    checkpoint: Checkpoint,
) -> None:
    first = TokenEstimator(chars_per_token=3.1, observations=4)
    assert await checkpoint.estimator(first) == first
    assert await checkpoint.estimator(TokenEstimator()) == first
    assert await checkpoint.estimator(TokenEstimator(chars_per_token=5.0)) == first


async def test_started_at_keeps_the_first_time(checkpoint: Checkpoint) -> None:
    assert await checkpoint.started_at(1_700_000_000.25) == 1_700_000_000.25
    assert await checkpoint.started_at(1_700_000_900.5) == 1_700_000_000.25


async def test_chunks_check_run_estimator_and_start_do_not_overwrite_each_other(
    checkpoint: Checkpoint,
) -> None:
    estimator = TokenEstimator(chars_per_token=2.5, observations=1)
    await checkpoint.started_at(100.0)
    await checkpoint.estimator(estimator)
    await checkpoint.set_check_run_id(5)
    await checkpoint.put("check_run", chunk_result())  # a chunk id that looks like a field
    await checkpoint.put("estimator", chunk_result())
    assert await checkpoint.check_run_id() == 5
    assert await checkpoint.estimator(TokenEstimator()) == estimator
    assert await checkpoint.started_at(200.0) == 100.0
    assert await checkpoint.get("check_run") == chunk_result()


# --- Redis only ---------------------------------------------------------------------------


async def test_a_checkpoint_read_by_another_client_finds_what_the_first_wrote(
    redis: aioredis.Redis, redis_url: str
) -> None:
    """A review resumed by another worker reads the same hash."""
    writer = ReviewCheckpoint(redis, KEY)
    await writer.put("chunk-1", chunk_result())
    await writer.set_check_run_id(77)
    await writer.started_at(123.5)
    other = aioredis.Redis.from_url(redis_url)
    try:
        reader = ReviewCheckpoint(other, KEY)
        assert await reader.get("chunk-1") == chunk_result()
        assert await reader.check_run_id() == 77
        assert await reader.started_at(999.0) == 123.5
        assert await reader.answered() == 1
    finally:
        await other.aclose()


async def test_answered_counts_only_chunk_answers(redis: aioredis.Redis) -> None:
    checkpoint = ReviewCheckpoint(redis, KEY)
    assert await checkpoint.answered() == 0
    await checkpoint.put("c1", chunk_result())
    await checkpoint.put("c2", chunk_result())
    await checkpoint.set_check_run_id(1)
    await checkpoint.estimator(TokenEstimator())
    await checkpoint.started_at(1.0)
    assert await checkpoint.answered() == 2


@pytest.mark.parametrize(
    "stored",
    [
        b"\xc1 not msgpack",
        b"",
        msgspec.msgpack.encode({"answer": "not an answer", "role": "nobody"}),
        msgspec.msgpack.encode(chunk_result())[:-3],  # truncated
        msgspec.json.encode(chunk_result()),  # another encoding
    ],
    ids=["garbage", "empty", "wrong-shape", "truncated", "json"],
)
async def test_a_corrupt_chunk_answer_reads_as_none_not_an_error(
    redis: aioredis.Redis, stored: bytes
) -> None:
    await raw_hset(redis, "chunk:c1", stored)
    assert await ReviewCheckpoint(redis, KEY).get("c1") is None


async def test_a_corrupt_estimator_is_replaced_by_the_default(redis: aioredis.Redis) -> None:
    await raw_hset(redis, "estimator", b"\xc1garbage")
    checkpoint = ReviewCheckpoint(redis, KEY)
    default = TokenEstimator(chars_per_token=3.3)
    assert await checkpoint.estimator(default) == default
    assert await checkpoint.estimator(TokenEstimator()) == default


async def test_checkpoints_of_different_runs_are_separate(redis: aioredis.Redis) -> None:
    plain = ReviewCheckpoint(redis, keys.review_state(42, 7, "a" * 40))
    full = ReviewCheckpoint(redis, keys.review_state(42, 7, "a" * 40, "full-1"))
    await plain.put("c1", chunk_result())
    await plain.set_check_run_id(1)
    assert await full.get("c1") is None
    assert await full.check_run_id() is None


WRITES: dict[str, Callable[[ReviewCheckpoint], Awaitable[object]]] = {
    "put": lambda c: c.put("c1", chunk_result()),
    "set_check_run_id": lambda c: c.set_check_run_id(3),
    "estimator": lambda c: c.estimator(TokenEstimator()),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_every_write_gives_the_hash_the_state_ttl(redis: aioredis.Redis, write: str) -> None:
    await WRITES[write](ReviewCheckpoint(redis, KEY))
    ttl = await redis.ttl(KEY)
    assert STATE_TTL_SECONDS - 5 <= ttl <= STATE_TTL_SECONDS


async def test_a_write_refreshes_a_shortened_ttl(redis: aioredis.Redis) -> None:
    checkpoint = ReviewCheckpoint(redis, KEY)
    await checkpoint.put("c1", chunk_result())
    await redis.expire(KEY, 60)
    await checkpoint.put("c2", chunk_result())
    assert await redis.ttl(KEY) > STATE_TTL_SECONDS - 5


async def test_started_at_on_a_new_review_gives_the_hash_the_state_ttl(
    redis: aioredis.Redis,
) -> None:
    """The flow calls started_at first; a worker that dies before the next write left a
    progress hash with no TTL, kept in Redis forever."""
    await ReviewCheckpoint(redis, KEY).started_at(100.0)
    assert await redis.ttl(KEY) > 0
