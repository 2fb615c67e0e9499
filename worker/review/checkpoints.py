"""A review's progress in Redis: every chunk's answer as it arrives, and what it posted.

One hash per (PR, head, run) (`keys.review_state`). A resumed review, on any
worker, reads its answered chunks back instead of paying for them again
(`RedisChunkStore` is the pipeline's `ChunkStore`), finds the check run it
already created (so a resume does not start a second one), and re-chunks with
the token estimator it first used (chunk ids hash chunk content, and a
different ratio would cut different chunks).

The hash outlives the review by a while (`STATE_TTL_SECONDS`), so a job that
arrives late for a head already reviewed finds the state and the review's
marker rather than starting over.
"""

from __future__ import annotations

from typing import Any, Final, cast

import msgspec
from redis.asyncio import Redis

from worker.diff.tokens import TokenEstimator
from worker.review.chunk_review import ChunkResult

# Long enough for a review deferred until a quota window refreshes (7 days)
# plus the time it then takes; refreshed on every write.
STATE_TTL_SECONDS: Final = 10 * 86400

_CHUNK: Final = "chunk:"
_CHECK_RUN: Final = "check_run"
_ESTIMATOR: Final = "estimator"
_STARTED: Final = "started_at"

_chunk_encoder: Final = msgspec.msgpack.Encoder()
_chunk_decoder: Final = msgspec.msgpack.Decoder(ChunkResult)
_estimator_decoder: Final = msgspec.msgpack.Decoder(TokenEstimator)


class ReviewCheckpoint:
    """Read and write one review's progress hash."""

    def __init__(self, redis: Redis, key: str) -> None:
        self._redis = redis
        self.key = key

    async def _set(self, field: str, value: bytes | str | int | float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, field, value)  # type: ignore[arg-type]
            pipe.expire(self.key, STATE_TTL_SECONDS)
            await pipe.execute()

    async def _get(self, field: str) -> bytes | None:
        value = await cast("Any", self._redis.hget(self.key, field))
        return value if isinstance(value, bytes) else None

    # --- chunk answers (the pipeline's ChunkStore) -------------------------
    async def get(self, chunk_id: str) -> ChunkResult | None:
        raw = await self._get(_CHUNK + chunk_id)
        if raw is None:
            return None
        try:
            return _chunk_decoder.decode(raw)
        except msgspec.DecodeError:
            return None  # written by an incompatible version: pay for the chunk again

    async def put(self, chunk_id: str, result: ChunkResult) -> None:
        await self._set(_CHUNK + chunk_id, _chunk_encoder.encode(result))

    async def answered(self) -> int:
        """How many chunk answers are stored (for logs and tests)."""
        fields = await cast("Any", self._redis.hkeys(self.key))
        return sum(1 for f in fields if bytes(f).startswith(_CHUNK.encode()))

    # --- what the review created or chose ------------------------------------
    async def check_run_id(self) -> int | None:
        raw = await self._get(_CHECK_RUN)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None  # unreadable: a new check run is started

    async def set_check_run_id(self, check_run_id: int) -> None:
        await self._set(_CHECK_RUN, check_run_id)

    async def _set_once(self, field: str, value: bytes | str) -> bytes | None:
        """Store `value` unless the field is set; the stored value either way."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self.key, field, value)  # type: ignore[arg-type]
            pipe.expire(self.key, STATE_TTL_SECONDS)
            pipe.hget(self.key, field)
            _, _, stored = await pipe.execute()
        return stored if isinstance(stored, bytes) else None

    async def estimator(self, default: TokenEstimator) -> TokenEstimator:
        """The estimator this review chunks with: the first one it stored, else `default`."""
        raw = await self._set_once(_ESTIMATOR, _chunk_encoder.encode(default))
        if raw is not None:
            try:
                return _estimator_decoder.decode(raw)
            except msgspec.DecodeError:
                await self._set(_ESTIMATOR, _chunk_encoder.encode(default))
        return default

    async def started_at(self, now: float) -> float:
        """When the review first started (kept across resumes, for its duration)."""
        raw = await self._set_once(_STARTED, repr(now))
        try:
            return float(raw) if raw is not None else now
        except ValueError:
            return now


class MemoryCheckpoint:
    """The same interface in memory, for the one-shot `review <PR URL>`."""

    def __init__(self) -> None:
        self.results: dict[str, ChunkResult] = {}
        self._check_run: int | None = None
        self._estimator: TokenEstimator | None = None
        self._started: float | None = None

    async def get(self, chunk_id: str) -> ChunkResult | None:
        return self.results.get(chunk_id)

    async def put(self, chunk_id: str, result: ChunkResult) -> None:
        self.results[chunk_id] = result

    async def check_run_id(self) -> int | None:
        return self._check_run

    async def set_check_run_id(self, check_run_id: int) -> None:
        self._check_run = check_run_id

    async def estimator(self, default: TokenEstimator) -> TokenEstimator:
        if self._estimator is None:
            self._estimator = default
        return self._estimator

    async def started_at(self, now: float) -> float:
        if self._started is None:
            self._started = now
        return self._started
