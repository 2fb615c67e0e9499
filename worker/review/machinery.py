"""The one place that builds the review machinery: the model path, the poster, the reader.

Three callers run reviews: the worker (worker.runner.services, with Redis:
gates and the breaker shared by every worker, the quota window), and the two
one-shot commands, `review --diff`/`eval` (worker.review.local) and
`review <PR URL>` (app/cli/review_pr.py), without Redis: an in-process gate
with the same cap and a breaker in memory. Each used to assemble gates,
breaker, failover and reviewer (and two of them the poster) itself; now they
say only whether they have Redis and which quota guards count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx
from redis.asyncio import Redis

from worker.call_guards import ConcurrencyGate, QuotaGuard
from worker.config import GitHubSettings, LLMSettings
from worker.gate.redis import open_gate
from worker.github.auth import AppTokenSource, RepoRef, TokenSource
from worker.github.client import GitHubReader
from worker.github.identity import BotIdentity
from worker.github.pacing import WritePacer
from worker.github.rest import GitHubRest
from worker.llm.breaker import Breaker, LocalBreaker, RedisBreaker
from worker.llm.build import build_failover
from worker.publish.poster import ReviewPoster
from worker.review.chunk_review import ChunkReviewer
from worker.version import user_agent

GITHUB_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True, slots=True)
class ModelPath:
    """Everything between a chunk's prompt and its answer, and the parts others share
    (the eval judge calls through the same gates and breaker)."""

    reviewer: ChunkReviewer
    breaker: Breaker
    main_gate: ConcurrencyGate
    fallback_gate: ConcurrencyGate | None

    @property
    def gates(self) -> list[ConcurrencyGate]:
        return [g for g in (self.main_gate, self.fallback_gate) if g is not None]


def build_model_path(
    llm: LLMSettings,
    http: httpx.AsyncClient,
    *,
    redis: Redis | None,
    main_quota: QuotaGuard | None = None,
    fallback_quota: QuotaGuard | None = None,
) -> ModelPath:
    """Gates per endpoint (Redis-wide with `redis`, else in-process), the breaker
    (in Redis, else in memory), the failover and the chunk reviewer."""
    if llm.main is None:  # Settings.require() guarantees it for every command that reviews
        raise ValueError("API_OPEN_AI_API_KEY: required: the key for the main model")
    main_gate = open_gate(llm.main, redis)
    fallback_gate = open_gate(llm.fallback, redis) if llm.fallback else None
    breaker: Breaker = RedisBreaker(redis) if redis is not None else LocalBreaker()
    failover = build_failover(
        llm,
        http=http,
        breaker=breaker,
        main_gate=main_gate,
        fallback_gate=fallback_gate,
        main_quota=main_quota,
        fallback_quota=fallback_quota,
    )
    return ModelPath(ChunkReviewer(failover, llm), breaker, main_gate, fallback_gate)


def github_http_client() -> httpx.AsyncClient:
    """The client for GitHub's REST API: short timeouts, our own User-Agent."""
    return httpx.AsyncClient(
        timeout=GITHUB_TIMEOUT,
        headers={"User-Agent": user_agent()},
        follow_redirects=False,
    )


def bot_identity(github: GitHubSettings, tokens: TokenSource) -> BotIdentity:
    """The bot's login (learned from the App when GITHUB_APP_SLUG is unset)."""
    app = tokens if isinstance(tokens, AppTokenSource) else None
    return BotIdentity(github.app_slug, app)


def build_reader(github: GitHubSettings, repo: RepoRef, tokens: TokenSource) -> GitHubReader:
    """A reader for one repository (close it when the review is done)."""
    return GitHubReader(repo, tokens, api_url=github.api_url)


def build_poster(
    github: GitHubSettings,
    repo: RepoRef,
    tokens: TokenSource,
    http: httpx.AsyncClient,
    *,
    pacer: WritePacer,
    identity: BotIdentity,
) -> ReviewPoster:
    """The poster for one repository: REST writes paced by `pacer`, as `identity`."""
    rest = GitHubRest(repo, tokens, http, api_url=github.api_url, pacer=pacer)
    return ReviewPoster(rest, identity=identity)
