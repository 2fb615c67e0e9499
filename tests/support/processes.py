"""Starting the product's own processes (`kimi-review serve`, `worker`) in tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.redis_server import free_port

KIMI_REVIEW = Path(sys.executable).with_name("kimi-review")


class ProductProcess:
    """One `kimi-review` subcommand running with its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.log_path = Path(tempfile.mkstemp(prefix="kimi-review-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(KIMI_REVIEW), *args], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def start_serve(env: dict[str, str]) -> tuple[ProductProcess, str]:
    """`kimi-review serve` on a free port; returns the process and its base URL."""
    port = free_port()
    proc = ProductProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    proc.wait_for(healthy)
    return proc, base


def start_worker(env: dict[str, str], *args: str) -> ProductProcess:
    return ProductProcess(["worker", *args], {**env, "PYTHONUNBUFFERED": "1"})
