"""The clients a worker process shares between all its reviews, opened once.

One httpx client for the models (long read timeout: thinking calls take
minutes) and one for GitHub (short), one Redis client for review state, the
breaker, the concurrency gates (Redis-wide: the cap holds across every
worker), the quota guards and ceiling, the installation token cache and the
write pacer. They live outside arq's worker, so they survive the supervisor
restarting it after a Redis outage, and are closed once at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx
import structlog
from redis.asyncio import Redis

from worker.config import Settings
from worker.gate import open_gate
from worker.github.auth import AppTokenSource, RepoRef, TokenSource, token_source
from worker.github.client import GitHubReader
from worker.github.identity import BotIdentity
from worker.github.pacing import WritePacer
from worker.github.posting import ReviewPoster
from worker.github.rest import GitHubRest
from worker.llm.breaker import RedisBreaker
from worker.llm.build import build_chunk_reviewer
from worker.llm.chunk_review import ChunkReviewer
from worker.llm.transport import open_http_client
from worker.ports import ConcurrencyGate
from worker.quota import RedisQuota, ReviewCeiling, open_quota_guards
from worker.redis_client import redis_client
from worker.version import user_agent

log = structlog.get_logger("kimi_review.services")
GITHUB_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


def github_http_client() -> httpx.AsyncClient:
    """The client for GitHub's REST API: short timeouts, our own User-Agent."""
    return httpx.AsyncClient(
        timeout=GITHUB_TIMEOUT,
        headers={"User-Agent": user_agent()},
        follow_redirects=False,
    )


@dataclass(slots=True)
class WorkerServices:
    settings: Settings
    redis: Redis
    model_http: httpx.AsyncClient
    github_http: httpx.AsyncClient
    tokens: TokenSource
    pacer: WritePacer
    reviewer: ChunkReviewer
    gates: list[ConcurrencyGate]
    main_quota: RedisQuota | None
    ceiling: ReviewCeiling | None
    identity: BotIdentity  # the bot's login, shared by every poster (learned when unset)

    @classmethod
    def open(cls, settings: Settings) -> WorkerServices:
        """Build every shared client (no I/O yet: connections open on first use)."""
        llm = settings.llm
        if llm.main is None:  # Settings.require("worker") guarantees it
            raise ValueError("API_OPEN_AI_API_KEY: required: the key for the main model")
        redis = redis_client(settings.redis_url.reveal())
        model_http = open_http_client(llm)
        github_http = github_http_client()
        main_gate = open_gate(llm.main, redis)
        fallback_gate = open_gate(llm.fallback, redis) if llm.fallback else None
        main_quota, fallback_quota = open_quota_guards(redis, settings)
        reviewer = build_chunk_reviewer(
            llm,
            http=model_http,
            breaker=RedisBreaker(redis),
            main_gate=main_gate,
            fallback_gate=fallback_gate,
            main_quota=main_quota,
            fallback_quota=fallback_quota,
        )
        key_ids = [llm.main.key_id] + ([llm.fallback.key_id] if llm.fallback else [])
        # Even with API_LLM_REVIEW_MAX_TOKENS=0 (no ceiling; reserve() then admits
        # without a Redis call): a repository's `review_max_tokens` may still set one.
        ceiling = ReviewCeiling(redis, llm.review_max_tokens, key_ids)
        tokens = token_source(settings.github, github_http)
        app = tokens if isinstance(tokens, AppTokenSource) else None
        return cls(
            settings=settings,
            redis=redis,
            model_http=model_http,
            github_http=github_http,
            tokens=tokens,
            pacer=WritePacer(),
            reviewer=reviewer,
            gates=[g for g in (main_gate, fallback_gate) if g is not None],
            main_quota=main_quota,
            ceiling=ceiling,
            identity=BotIdentity(settings.github.app_slug, app),
        )

    @property
    def app_tokens(self) -> AppTokenSource | None:
        return self.tokens if isinstance(self.tokens, AppTokenSource) else None

    def reader(self, repo: RepoRef) -> GitHubReader:
        """A reader for one repository (close it when the review is done)."""
        return GitHubReader(repo, self.tokens, api_url=self.settings.github.api_url)

    def poster(self, repo: RepoRef) -> ReviewPoster:
        rest = GitHubRest(
            repo,
            self.tokens,
            self.github_http,
            api_url=self.settings.github.api_url,
            pacer=self.pacer,
        )
        return ReviewPoster(rest, identity=self.identity)

    async def close(self) -> None:
        for gate in self.gates:
            close = getattr(gate, "close", None)
            if close is not None:
                await close()
        await self.model_http.aclose()
        await self.github_http.aclose()
        await self.redis.aclose()
