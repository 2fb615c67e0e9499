"""Settings: defaults, validation naming the variable, plan detection, redaction."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from worker.config import detect_plan, load_settings
from worker.envparse import SettingsError, parse_duration

KEY = "sk-test-0123456789abcdefghij"


def _pem(fmt: serialization.PrivateFormat) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def test_defaults_follow_the_design() -> None:
    settings = load_settings({"API_OPEN_AI_API_KEY": KEY})
    main = settings.llm.main
    assert main is not None
    assert (main.model, main.base_url, main.provider) == (
        "kimi-k2.6",
        "https://api.moonshot.ai/v1",
        "openai_compatible",
    )
    assert main.max_concurrent == 50
    assert main.plan == "moonshot"
    assert settings.llm.fallback is None
    assert settings.llm.thinking == "enabled"
    assert settings.llm.temperature_override is None
    assert settings.quota.window_seconds == 7 * 86400
    assert settings.review_max_comments == 25
    assert settings.llm.review_max_tokens == 2_000_000
    assert settings.review_untrusted_max_lines == 2000
    assert settings.log_format == "json"
    assert settings.redis_url.reveal() == "redis://localhost:6379/0"


def test_spend_limits_can_be_set_or_turned_off() -> None:
    """No spend limit by default exposed the operator's key to any stranger's PR."""
    env = {"API_OPEN_AI_API_KEY": KEY}
    off = load_settings(
        {**env, "API_LLM_REVIEW_MAX_TOKENS": "0", "REVIEW_UNTRUSTED_MAX_LINES": "0"}
    )
    assert (off.llm.review_max_tokens, off.review_untrusted_max_lines) == (None, 0)
    on = load_settings({**env, "API_LLM_REVIEW_MAX_TOKENS": "50000"})
    assert on.llm.review_max_tokens == 50_000
    with pytest.raises(SettingsError, match="API_LLM_REVIEW_MAX_TOKENS"):
        load_settings({**env, "API_LLM_REVIEW_MAX_TOKENS": "500"})
    with pytest.raises(SettingsError, match="REVIEW_UNTRUSTED_MAX_LINES"):
        load_settings({**env, "REVIEW_UNTRUSTED_MAX_LINES": "-1"})


def test_kimi_code_plan_defaults_to_a_cap_of_30() -> None:
    settings = load_settings(
        {"API_OPEN_AI_API_KEY": KEY, "API_OPENAI_FORCE_BASE_URL": "https://api.kimi.com/coding/v1"}
    )
    assert settings.llm.main is not None
    assert settings.llm.main.plan == "kimi_code"
    assert settings.llm.main.max_concurrent == 30


@pytest.mark.parametrize(
    ("url", "plan"),
    [
        ("https://api.kimi.com/coding/v1", "kimi_code"),
        ("https://api.moonshot.cn/v1", "moonshot_cn"),
        ("https://api.moonshot.ai/v1", "moonshot"),
        ("http://127.0.0.1:9999/v1", "custom"),
    ],
)
def test_plan_is_detected_from_the_base_url(url: str, plan: str) -> None:
    assert detect_plan(url, "openai_compatible") == plan


def test_every_bad_value_is_reported_naming_its_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "API_OPEN_AI_API_KEY": KEY,
                "API_LLM_PROVIDER": "openai",
                "API_LLM_THINKING": "maybe",
                "API_LLM_MAX_CONCURRENT_REQUESTS": "-1",
                "API_LLM_REASONING_OVERRIDE": "[1]",
                "API_LLM_QUOTA_WINDOW": "7 days",
                "GITHUB_API_URL": "ftp://example.com",
                "METRICS_PORT": "http",
                "GITHUB_APP_PRIVATE_KEY": "not a key",
            }
        )
    text = str(caught.value)
    for name in (
        "API_LLM_PROVIDER",
        "API_LLM_THINKING",
        "API_LLM_MAX_CONCURRENT_REQUESTS",
        "API_LLM_REASONING_OVERRIDE",
        "API_LLM_QUOTA_WINDOW",
        "GITHUB_API_URL",
        "METRICS_PORT",
        "GITHUB_APP_PRIVATE_KEY",
    ):
        assert name in text


def test_fallback_needs_its_key_and_url() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"API_OPEN_AI_API_KEY": KEY, "API_LLM_FALLBACK_MODEL": "gpt-5"})
    assert "API_LLM_FALLBACK_BASE_URL" in str(caught.value)
    settings = load_settings(
        {
            "API_OPEN_AI_API_KEY": KEY,
            "API_LLM_FALLBACK_PROVIDER": "anthropic",
            "API_LLM_FALLBACK_MODEL": "claude-sonnet-4-5",
            "API_LLM_FALLBACK_API_KEY": "sk-ant-0123456789abcdef",
        }
    )
    assert settings.llm.fallback is not None
    assert settings.llm.fallback.base_url == "https://api.anthropic.com"
    assert settings.llm.fallback.max_concurrent == 50


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8]
)
def test_private_key_accepts_pkcs1_and_pkcs8_with_escaped_newlines(
    fmt: serialization.PrivateFormat,
) -> None:
    escaped = _pem(fmt).replace("\n", "\\n")
    settings = load_settings({"GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY": escaped})
    assert settings.github.private_key is not None
    assert settings.github.private_key.reveal().startswith("-----BEGIN")


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings(
        {
            "API_OPEN_AI_API_KEY": KEY,
            "GITHUB_WEBHOOK_SECRET": "hook-secret-value",
            "REDIS_URL": "redis://:hunter2pass@redis:6379/0",
        }
    )
    text = repr(settings)
    assert KEY not in text
    assert "hook-secret-value" not in text
    assert "hunter2pass" not in text


def test_serve_refuses_to_start_without_the_webhook_secret() -> None:
    settings = load_settings({"API_OPEN_AI_API_KEY": KEY})
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET"):
        settings.require("serve")


def test_durations() -> None:
    assert parse_duration("5h") == 18000
    assert parse_duration("7d") == 604800
    with pytest.raises(ValueError, match="positive duration"):
        parse_duration("0d")
