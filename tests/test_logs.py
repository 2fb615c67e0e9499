"""Log lines never carry a secret, whatever reaches the log call."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from worker.logs import configure_logging
from worker.secrets import Secret, redact_url, scrub

KEY = "sk-live-abcdefghijklmnopqrstuvwxyz"
HOOK = "webhook-secret-value-1234"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_structlog_events_are_scrubbed_of_configured_and_shaped_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", [KEY, HOOK])
    log = structlog.get_logger("t")
    log.info(
        "call_failed",
        error=f"401 for key {KEY}",
        nested={"header": f"Bearer {KEY}", "items": [HOOK]},
        token="ghs_0123456789abcdefghijABCDEFGHIJ",
        url="redis://:hunter2pass@redis:6379/0",
    )
    out = capsys.readouterr().err
    for secret in (KEY, HOOK, "ghs_0123456789abcdefghij", "hunter2pass"):
        assert secret not in out
    assert "call_failed" in out


def test_stdlib_loggers_go_through_the_same_scrubber(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console", [KEY])
    logging.getLogger("arq.worker").warning("job failed with %s", KEY)
    out = capsys.readouterr().err
    assert KEY not in out
    assert "job failed" in out


def test_http_libraries_debug_logs_are_held_at_warning() -> None:
    configure_logging("json", [], level=logging.DEBUG)
    for name in ("github", "urllib3", "httpx", "httpcore"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_secret_repr_and_helpers() -> None:
    assert KEY not in repr(Secret(KEY))
    assert KEY not in str(Secret(KEY))
    assert Secret(KEY).reveal() == KEY
    assert redact_url("rediss://user:pw@h:6380/1") == "rediss://user:***@h:6380/1"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----"
    assert "MIIEabc" not in scrub(f"key: {pem}")
