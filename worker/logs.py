"""structlog set-up shared by the receiver and the workers.

JSON lines by default (`LOG_FORMAT=json`), a readable console renderer on
request. A processor scrubs every string in every event of the settings'
secret values and of credential-shaped tokens, so a secret that reaches a log
call by accident (an HTTP error body, a URL with a password) is still not
written. PyGithub, urllib3, httpx and httpcore log request headers at DEBUG
(tokens included): their loggers are held at WARNING whatever the root level.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from worker.secrets import scrub

_CHATTY_LOGGERS = ("github", "urllib3", "httpx", "httpcore", "hpack", "asyncio")


class SecretScrubber:
    """structlog processor: removes secrets from every string value."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = sorted({k for k in known if k}, key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value, self.known)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        if isinstance(value, BaseException):
            return scrub(repr(value), self.known)
        return value

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {key: self._clean(value) for key, value in event.items()}


def configure_logging(fmt: str, secrets: Iterable[str], level: int = logging.INFO) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    scrubber = SecretScrubber(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        scrubber,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # stdlib loggers (arq, uvicorn) go through the same scrubbing renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
