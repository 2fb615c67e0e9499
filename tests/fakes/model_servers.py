"""Fake model servers: real HTTP on 127.0.0.1, answering like Kimi and Anthropic do.

`FakeKimi` speaks OpenAI-compatible chat completions (POST /v1/chat/completions,
Bearer key) and enforces Kimi's rules: a K2 model refuses any temperature but
1, `thinking` must be `{"type": "enabled" | "disabled"}`. `FakeAnthropic`
speaks the Messages API (POST /v1/messages, `x-api-key`, `anthropic-version`)
and, like the real one, refuses unknown top-level fields ("response_format:
Extra inputs are not permitted"), a system role inside `messages`, and a
thinking budget outside 1024 <= budget_tokens < max_tokens.

A test scripts the next answers with `script(...)` (tests/fakes/model_replies.py
builds them); once the script is empty, `responder(body)` answers (default: a
valid review answer). Rule violations are answered before the script is
consulted, as the real server would. Every request is recorded (`requests`),
with the server's monotonic arrival time, and `in_flight_max` counts the
highest concurrency seen server-side.

    with FakeKimi(api_key="sk-test-...") as kimi:
        kimi.script(kimi_rate_limited(2), kimi_ok())
        ... base_url = kimi.base_url  (http://127.0.0.1:<port>/v1)
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

from tests.fakes.model_replies import (
    DEFAULT_ANSWER,
    KEEP_ALL_VERDICTS,
    Reply,
    anthropic_error,
    anthropic_ok,
    is_verify_request,
    kimi_error,
    kimi_ok,
    kimi_unauthorized,
)

DRIBBLE_BYTES = 16  # bytes per piece of a dribbled answer
ANTHROPIC_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "thinking",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
        "tools",
        "tool_choice",
        "service_tier",
    }
)


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    body: Any  # parsed JSON, or None
    arrived: float  # time.monotonic() on the server
    peer: str = ""  # the client's address (which container, in deploy/smoke.sh)

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        # The client may drop the connection mid-answer (over its cap or its deadline).
        with contextlib.suppress(ConnectionResetError):
            super().handle()

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake._record(
            Recorded(self.path, headers, raw, body, time.monotonic(), self.client_address[0])
        )
        with fake._counting():
            reply = fake._answer(self.path, headers, body)
            if reply.delay:
                time.sleep(reply.delay)
        if reply.reset:
            # SO_LINGER 0 makes close() send RST: the client sees a reset, not an answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        payload = reply.encoded()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self._write_body(payload, reply)
        except OSError:
            self.close_connection = True  # the client gave up (timeout): nothing to answer

    def _write_body(self, payload: bytes, reply: Reply) -> None:
        step = DRIBBLE_BYTES if reply.dribble else max(len(payload), 1)
        for start in range(0, len(payload), step):
            piece = payload[start : start + step]
            if reply.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)
            if reply.dribble:
                self.wfile.flush()
                time.sleep(reply.dribble)
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def do_GET(self) -> None:
        fake = self.server.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake._record(Recorded(self.path, headers, b"", None, time.monotonic()))
        reply = fake.check_get(self.path, headers) or fake.models_reply()
        payload = reply.encoded()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeModelServer


class FakeModelServer:
    """Common machinery: thread, script, recording. Subclasses hold the provider's rules."""

    root_path: ClassVar[str] = ""

    def __init__(
        self,
        *,
        api_key: str,
        responder: Callable[[Any], Reply] | None = None,
        models: tuple[str, ...] = ("kimi-k2.6", "kimi-k2-turbo-preview", "claude-sonnet-4-5"),
        models_refusal: Reply | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.host = host  # another address only for a fake run outside tests (standalone.py)
        self.models = models
        self.models_refusal = models_refusal  # what GET /models answers instead, if set
        self.responder = responder or self.default_reply
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.in_flight_max = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- lifecycle ---
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.root_path}"

    # --- scripting ---
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    def default_reply(self, body: Any) -> Reply:
        raise NotImplementedError

    def models_reply(self) -> Reply:
        if self.models_refusal is not None:
            return self.models_refusal
        return Reply(body={"object": "list", "data": [{"id": m} for m in self.models]})

    def check_get(self, path: str, headers: dict[str, str]) -> Reply | None:
        """GET {root}/models with the provider's authentication rules."""
        raise NotImplementedError

    def check(self, path: str, headers: dict[str, str], body: Any) -> Reply | None:
        """The provider's own rules: an error Reply for a request it would refuse."""
        raise NotImplementedError

    # --- server side ---
    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> Reply:
        refused = self.check(path, headers, body)
        if refused is not None:
            return refused
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        return scripted if scripted is not None else self.responder(body)

    def _counting(self) -> _InFlight:
        return _InFlight(self)


class _InFlight:
    def __init__(self, fake: FakeModelServer) -> None:
        self.fake = fake

    def __enter__(self) -> None:
        with self.fake._lock:
            self.fake.in_flight += 1
            self.fake.in_flight_max = max(self.fake.in_flight_max, self.fake.in_flight)

    def __exit__(self, *exc: object) -> None:
        with self.fake._lock:
            self.fake.in_flight -= 1


class FakeKimi(FakeModelServer):
    """OpenAI-compatible chat completions with Kimi's rules."""

    root_path = "/v1"

    def default_reply(self, body: Any) -> Reply:
        """A finding for a finder call; every finding kept for a verifying call."""
        content = KEEP_ALL_VERDICTS if is_verify_request(body) else DEFAULT_ANSWER
        return kimi_ok(content, model=str(body.get("model", "kimi-k2.6")))

    def check_get(self, path: str, headers: dict[str, str]) -> Reply | None:
        if path != "/v1/models":
            return kimi_error(404, "resource_not_found_error", f"method not found: {path}")
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return kimi_unauthorized()
        return None

    def check(self, path: str, headers: dict[str, str], body: Any) -> Reply | None:
        if path != "/v1/chat/completions":
            return kimi_error(404, "resource_not_found_error", f"method not found: {path}")
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return kimi_unauthorized()
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            return kimi_error(400, "invalid_request_error", "Invalid request: missing model")
        model = str(body["model"])
        temperature = body.get("temperature")
        if model.startswith("kimi-k2") and temperature is not None and temperature != 1:
            return kimi_error(
                400,
                "invalid_request_error",
                f"invalid temperature: only 1 is allowed for this model, got {temperature}",
            )
        thinking = body.get("thinking")
        if thinking is not None and (
            not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled")
        ):
            return kimi_error(400, "invalid_request_error", "Invalid request: invalid thinking")
        return None


class FakeAnthropic(FakeModelServer):
    """Anthropic Messages API with its strict request validation."""

    root_path = ""

    def default_reply(self, body: Any) -> Reply:
        """A finding for a finder call; every finding kept for a verifying call."""
        content = KEEP_ALL_VERDICTS if is_verify_request(body) else DEFAULT_ANSWER
        return anthropic_ok(content, model=str(body.get("model", "claude")))

    def check_get(self, path: str, headers: dict[str, str]) -> Reply | None:
        if path != "/v1/models":
            return anthropic_error(404, "not_found_error", "Not found")
        if headers.get("x-api-key") != self.api_key:
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        return None

    def check(self, path: str, headers: dict[str, str], body: Any) -> Reply | None:
        if path != "/v1/messages":
            return anthropic_error(404, "not_found_error", "Not found")
        if headers.get("x-api-key") != self.api_key:
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return anthropic_error(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        if not isinstance(body, dict):
            return anthropic_error(400, "invalid_request_error", "body: invalid JSON")
        for name in body:
            if name not in ANTHROPIC_FIELDS:
                return anthropic_error(
                    400, "invalid_request_error", f"{name}: Extra inputs are not permitted"
                )
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int):
            return anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
        for index, message in enumerate(body.get("messages") or []):
            if message.get("role") not in ("user", "assistant"):
                return anthropic_error(
                    400,
                    "invalid_request_error",
                    f"messages.{index}.role: Input should be 'user' or 'assistant'",
                )
            if not message.get("content"):
                return anthropic_error(
                    400,
                    "invalid_request_error",
                    f"messages.{index}: all messages must have non-empty content",
                )
        thinking = body.get("thinking")
        if thinking is not None and thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < 1024:
                return anthropic_error(
                    400,
                    "invalid_request_error",
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                )
            if budget >= max_tokens:
                message = "`max_tokens` must be greater than `thinking.budget_tokens`"
                return anthropic_error(400, "invalid_request_error", message)
            if body.get("temperature") not in (None, 1):
                return anthropic_error(
                    400,
                    "invalid_request_error",
                    "`temperature` may only be set to 1 when thinking is enabled",
                )
        return None
