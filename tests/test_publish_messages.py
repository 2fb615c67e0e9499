"""The bot's fixed messages: complete, and safe with values filled in from outside."""

from __future__ import annotations

from worker.publish import messages


def test_help_names_every_command() -> None:
    text = messages.help_text()
    for command in ("`/review`", "`/review full`", "`/help`", ".kimi-review.toml"):
        assert command in text


def test_skip_reasons_read_as_words_whatever_the_filter_sent() -> None:
    assert messages.describe_skip("binary") == "binary file"
    assert messages.describe_skip("excluded: matches vendor/**") == (
        "excluded by the repository's .kimi-review.toml (matches vendor/**)"
    )
    assert messages.describe_skip("lockfile") == "lock file"
    prose = "credentials file (never sent to the model)"
    assert messages.describe_skip(prose) == prose


def test_filled_in_reasons_cannot_ping_or_command() -> None:
    notice = messages.deferred_notice("upstream said @here /merge <img src=x>")
    assert "`@here`" in notice
    assert "<img" not in notice
    gave_up = messages.gave_up_comment("0123456789abcdef", 9, "\n/approve")
    assert "\n/approve" not in gave_up
    assert "`0123456`" in gave_up
    assert "62%" in messages.quota_paused_notice("62% of this week's budget used")


def test_every_severity_and_category_has_a_label() -> None:
    assert set(messages.SEVERITY_BADGE) == {"critical", "high", "medium", "low"}
    assert set(messages.CATEGORY_LABEL) == {
        "bug",
        "security",
        "performance",
        "correctness",
        "maintainability",
        "style",
    }
