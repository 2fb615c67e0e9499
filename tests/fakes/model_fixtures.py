"""pytest fixtures for the fake model servers, shared by the model-call tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.fakes.model_stack import FALLBACK_KEY, MAIN_KEY


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    """A fake Kimi (OpenAI-compatible) server accepting MAIN_KEY."""
    with FakeKimi(api_key=MAIN_KEY) as fake:
        yield fake


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    """A fake Anthropic Messages server accepting FALLBACK_KEY."""
    with FakeAnthropic(api_key=FALLBACK_KEY) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, connect=2)) as client:
        yield client
