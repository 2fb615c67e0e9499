"""Environment for product processes started by tests (serve, worker)."""

from __future__ import annotations

import functools
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.webhooks import SECRET

MODEL_KEY = "sk-test-model-key-0123456789"


@functools.cache
def app_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def app_private_key_pem() -> str:
    return (
        app_private_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )


def product_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """A complete environment for `kimi-review serve` and `worker` in tests."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("API_", "GITHUB_", "REDIS_", "REVIEW_", "WORKER_"))
    }
    env.update(
        {
            "REDIS_URL": redis_url,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_APP_ID": "4242",
            "GITHUB_APP_PRIVATE_KEY": app_private_key_pem(),
            "API_OPEN_AI_API_KEY": MODEL_KEY,
            "LOG_FORMAT": "json",
            # Never the real GitHub or Moonshot: port 9 (discard) refuses connections.
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "API_OPENAI_FORCE_BASE_URL": "http://127.0.0.1:9/v1",
            # One model call per chunk, as the end-to-end tests count them; the
            # verifying pass has its own tests (test_review_verify.py).
            "API_LLM_VERIFY": "off",
            # Every severity posted: the fakes' findings are of all kinds, and
            # the threshold has its own tests (test_cli_review_diff.py).
            "REVIEW_MIN_SEVERITY": "low",
        }
    )
    env.update(overrides)
    return env
