"""Helpers for tests against the fake GitHub: the App's keys, token sources, readers.

Plain functions (not fixtures) so test modules can import them without
importing the fixture plugin, tests/fakes/github_fixtures.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import FakeRepo
from worker.github.auth import AppTokenSource, RepoRef, TokenSource
from worker.github.client import GitHubReader
from worker.secrets import Secret

TEST_APP_ID = 424242


@dataclass(frozen=True)
class AppKeys:
    """The test App's RSA key pair (PEM); the fake checks JWTs with `public_pem`."""

    private_pem: Secret
    public_pem: str


def generate_app_keys() -> AppKeys:
    """A fresh RSA key pair, as GitHub generates for an App (PKCS#1 PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return AppKeys(Secret(private), public)


def app_tokens(
    fake: FakeGitHub, keys: AppKeys, http: httpx.AsyncClient, **options: Any
) -> AppTokenSource:
    """An AppTokenSource for the fake's App, signing with the test key."""
    return AppTokenSource(
        api_url=fake.url, app_id=fake.app_id, private_key=keys.private_pem, http=http, **options
    )


def reader_for(
    fake: FakeGitHub, repo: FakeRepo, tokens: TokenSource, **options: Any
) -> GitHubReader:
    """A GitHubReader on `repo` as the worker builds it from a job (ids known)."""
    ref = RepoRef(repo.owner, repo.name, repo.id, repo.installation_id)
    return GitHubReader(ref, tokens, api_url=fake.url, **options)
