"""pytest fixtures for the fake GitHub: an App key pair and a running fake server.

Register them in tests/conftest.py with:

    pytest_plugins = ["tests.fakes.github_fixtures"]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_server import FakeGitHub
from worker.secrets import Secret

TEST_APP_ID = 424242


@dataclass(frozen=True)
class AppKeys:
    """The test App's RSA key pair (PEM); the fake checks JWTs with `public_pem`."""

    private_pem: Secret
    public_pem: str


@pytest.fixture(scope="session")
def github_app_keys() -> AppKeys:
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


@pytest.fixture
def fake_github(github_app_keys: AppKeys) -> Iterator[FakeGitHub]:
    """A fresh fake GitHub REST API on 127.0.0.1 (its `url` is the GITHUB_API_URL)."""
    fake = FakeGitHub(app_id=TEST_APP_ID, public_key_pem=github_app_keys.public_pem).start()
    try:
        yield fake
    finally:
        fake.stop()
