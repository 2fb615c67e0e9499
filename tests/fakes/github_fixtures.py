"""pytest fixtures for the fake GitHub: the App's key pair and a running fake server.

Test modules of this area load them with `pytest_plugins = ["tests.fakes.github_fixtures"]`;
to offer them to every test, put that line in tests/conftest.py instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fakes.github_helpers import (
    TEST_APP_ID,
    AppKeys,
    app_tokens,
    generate_app_keys,
    reader_for,
)
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.client import GitHubReader


@pytest.fixture(scope="session")
def github_app_keys() -> AppKeys:
    """One RSA key pair per session (generating one takes ~50 ms)."""
    return generate_app_keys()


@pytest.fixture
def fake_github(github_app_keys: AppKeys) -> Iterator[FakeGitHub]:
    """A fresh fake GitHub REST API on 127.0.0.1 (its `url` is the GITHUB_API_URL)."""
    fake = FakeGitHub(app_id=TEST_APP_ID, public_key_pem=github_app_keys.public_pem).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
async def github_http() -> AsyncIterator[httpx.AsyncClient]:
    """The httpx client the App token exchange uses (one per worker in production)."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def reader(
    fake_github: FakeGitHub,
    repo: FakeRepo,
    github_app_keys: AppKeys,
    github_http: httpx.AsyncClient,
) -> GitHubReader:
    """A GitHubReader on the test module's `repo` fixture, authenticated as the App."""
    return reader_for(fake_github, repo, app_tokens(fake_github, github_app_keys, github_http))
