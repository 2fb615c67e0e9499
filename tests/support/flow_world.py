"""The review flow a worker builds, in-process: the fake GitHub, a fake model, no Redis.

Tests of what one review does (spend limits, context, verification) need
the worker's `ReviewFlow` with the App's credentials, built the way the
product builds it (worker.review.machinery), without a worker process.
Writes are unpaced: the 1 s spacing GitHub asks for is not what they test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.cli.review_pr import OneShotHooks
from tests.fakes.github_helpers import TEST_APP_ID, AppKeys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeKimi
from tests.support.env import product_env
from worker.config import load_settings
from worker.github.auth import RepoRef, token_source
from worker.github.pacing import WritePacer
from worker.llm.transport import open_http_client
from worker.review.flow import ReviewFlow
from worker.review.machinery import (
    bot_identity,
    build_model_path,
    build_poster,
    build_reader,
    github_http_client,
)

REPO = RepoRef("octo", "widgets")


@asynccontextmanager
async def in_process_flow(
    fake: FakeGitHub, kimi: FakeKimi, keys: AppKeys, **env: str
) -> AsyncIterator[ReviewFlow]:
    """A `ReviewFlow` for octo/widgets against `fake` and `kimi`; `env` overrides settings."""
    settings = load_settings(
        product_env(
            "redis://127.0.0.1:9/0",
            GITHUB_API_URL=fake.url,
            GITHUB_APP_ID=str(TEST_APP_ID),
            GITHUB_APP_PRIVATE_KEY=keys.private_pem.reveal(),
            API_OPENAI_FORCE_BASE_URL=kimi.base_url,
            **env,
        )
    )
    async with open_http_client(settings.llm) as model_http, github_http_client() as http:
        tokens = token_source(settings.github, http)
        reader = build_reader(settings.github, REPO, tokens)
        poster = build_poster(
            settings.github,
            REPO,
            tokens,
            http,
            pacer=WritePacer(min_interval=0.0),
            identity=bot_identity(settings.github, tokens),
        )
        path = build_model_path(settings.llm, model_http, redis=None)
        try:
            yield ReviewFlow(
                settings, reader, poster, path.reviewer, OneShotHooks(), REPO.full_name
            )
        finally:
            await reader.close()
