"""The judge's settings (API_LLM_JUDGE_*) and the one-shot commands' log format."""

from __future__ import annotations

import io

import pytest

from app.cli import log_format
from worker.config import load_settings
from worker.envparse import SettingsError

KEY = "sk-test-0123456789abcdefghij"
JUDGE_KEY = "sk-judge-0123456789abcdefgh"


def test_an_unset_judge_is_the_main_model() -> None:
    settings = load_settings({"API_OPEN_AI_API_KEY": KEY})
    assert settings.judge is not None
    assert settings.llm.main is not None
    assert settings.judge.key_id == settings.llm.main.key_id
    assert settings.judge.model == "kimi-k2.6"


def test_a_judge_model_alone_reuses_the_main_url_and_key() -> None:
    settings = load_settings({"API_OPEN_AI_API_KEY": KEY, "API_LLM_JUDGE_MODEL": "kimi-k2-turbo"})
    assert settings.judge is not None
    assert (settings.judge.model, settings.judge.base_url) == (
        "kimi-k2-turbo",
        "https://api.moonshot.ai/v1",
    )
    assert settings.judge.api_key.reveal() == KEY


def test_the_main_key_is_never_lent_to_another_url() -> None:
    with pytest.raises(SettingsError, match="API_LLM_JUDGE_API_KEY"):
        load_settings(
            {"API_OPEN_AI_API_KEY": KEY, "API_LLM_JUDGE_BASE_URL": "https://judge.example/v1"}
        )
    settings = load_settings(
        {
            "API_OPEN_AI_API_KEY": KEY,
            "API_LLM_JUDGE_BASE_URL": "https://judge.example/v1",
            "API_LLM_JUDGE_API_KEY": JUDGE_KEY,
        }
    )
    assert settings.judge is not None
    assert settings.judge.api_key.reveal() == JUDGE_KEY
    assert JUDGE_KEY in settings.secret_values()  # scrubbed from logs like every key


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_one_shot_commands_log_to_a_terminal_in_console_format() -> None:
    settings = load_settings({"API_OPEN_AI_API_KEY": KEY})
    assert log_format(settings, {}, _Tty()) == "console"
    assert log_format(settings, {}, io.StringIO()) == "json"  # piped: what a tool reads
    json_settings = load_settings({"API_OPEN_AI_API_KEY": KEY, "LOG_FORMAT": "json"})
    assert log_format(json_settings, {"LOG_FORMAT": "json"}, _Tty()) == "json"


def test_eval_shows_a_progress_bar_on_a_terminal_only() -> None:
    from app.eval_cli import EvalProgress
    from worker.eval.report import Tokens

    tty, piped = _Tty(), io.StringIO()
    for stream in (tty, piped):
        progress = EvalProgress(stream)
        progress(1, 4, Tokens(prompt=1000, completion=234))
        progress.finish()
    assert "\reval [#####---------------] 1/4 cases · 1,234 tokens " in tty.getvalue()
    assert piped.getvalue() == ""
