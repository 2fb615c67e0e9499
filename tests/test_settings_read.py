"""Reading through the declarations: defaults, bounds and messages come from them."""

from __future__ import annotations

from typing import get_args

import pytest

from worker.config import (
    DEFAULT_MIN_SEVERITY,
    GitHubSettings,
    LLMSettings,
    QuotaSettings,
    Settings,
    Severity,
    load_settings,
)
from worker.envparse import EnvReader
from worker.settings.read import DECLARED, DeclaredEnv, secret_names

KEY = "sk-test-0123456789abcdefghij"


def test_an_undeclared_variable_cannot_be_read() -> None:
    """Reading a name with no declaration fails loudly, so none escapes the catalog."""
    env = DeclaredEnv(EnvReader({"KIMI_REVIEW_UNDECLARED": "1"}))
    with pytest.raises(KeyError):
        env.raw("KIMI_REVIEW_UNDECLARED")


def test_a_variable_is_read_as_the_kind_it_is_declared() -> None:
    env = DeclaredEnv(EnvReader({}))
    with pytest.raises(TypeError, match="API_LLM_TIMEOUT is declared int"):
        env.choice("API_LLM_TIMEOUT")


def test_bounds_and_default_come_from_the_declaration() -> None:
    timeout = DECLARED["API_LLM_TIMEOUT"]
    reader = EnvReader({"API_LLM_TIMEOUT": "4"})
    value = DeclaredEnv(reader).count("API_LLM_TIMEOUT")
    assert value == int(timeout.default or 0)
    assert reader.problems == [
        f"API_LLM_TIMEOUT: must be between {timeout.int_low} and {timeout.int_high}, got 4"
    ]


def test_the_typed_defaults_are_what_loading_an_empty_environment_gives() -> None:
    """The dataclasses' field defaults (used by callers building Settings by hand) and the
    declarations cannot drift apart: unset, every field is its dataclass default."""
    settings = load_settings({"API_OPEN_AI_API_KEY": KEY})
    expected = Settings(
        llm=LLMSettings(main=settings.llm.main, fallback=None),
        github=GitHubSettings(),
        quota=QuotaSettings(),
        judge=settings.judge,
    )
    assert settings == expected


def test_the_secret_variables_are_the_declared_secrets() -> None:
    assert set(secret_names()) == {
        "API_OPEN_AI_API_KEY",
        "API_LLM_FALLBACK_API_KEY",
        "API_LLM_JUDGE_API_KEY",
        "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_TOKEN",
    }


def test_the_severity_threshold_offers_exactly_the_answers_severities() -> None:
    """The declaration's choices and the typed vocabulary are two spellings: keep them one."""
    declared = DECLARED["REVIEW_MIN_SEVERITY"]
    assert declared.choices == get_args(Severity)
    assert declared.default == DEFAULT_MIN_SEVERITY
