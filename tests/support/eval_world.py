"""What the eval tests share: the fixture dataset with its snapshot served over local HTTP,
and a fake Kimi that answers review calls and judge calls from the case's own text."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.model_replies import Reply, kimi_ok

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DATASET = FIXTURES / "eval"
ARCHIVES = FIXTURES / "eval_archives"
PLACEHOLDER_HOST = "http://snapshots.invalid"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def copy_dataset(target: Path, base_url: str) -> Path:
    """The fixture dataset under `target`, its snapshot URLs pointing at `base_url`."""
    shutil.copytree(DATASET, target)
    for case in target.glob("*/case.toml"):
        case.write_text(case.read_text().replace(PLACEHOLDER_HOST, base_url))
    return target


def finding(path: str, line: int, title: str, body: str = "b") -> dict[str, Any]:
    return {
        "path": path,
        "line": line,
        "severity": "high",
        "category": "bug",
        "title": title,
        "body": body,
    }


# What the fake reviewer answers, by the file each case changes.
REVIEWS: dict[str, list[dict[str, Any]]] = {
    "src/app.py": [
        finding("src/app.py", 3, "Off by one", "The last item is skipped."),
        finding("src/app.py", 2, "Name s is unclear"),
    ],
    "lib/net.py": [finding("lib/net.py", 2, "IPv6 breaks split")],
}
# What the fake judge answers, by the same file: (finding or None) per expected issue.
# (Findings are ranked before the judge sees them: "Off by one" on line 3 is F1.)
VERDICTS: dict[str, list[int | None]] = {"src/app.py": [1], "lib/net.py": [0, 0]}


def _content(body: Any, role: str) -> str:
    return "".join(m["content"] for m in body["messages"] if m["role"] == role)


def is_judge_call(body: Any) -> bool:
    return _content(body, "system").startswith("You judge a code review")


def eval_responder(judge: Callable[[Any], Reply] | None = None) -> Callable[[Any], Reply]:
    """Review calls get REVIEWS, judge calls VERDICTS (or `judge`'s answer)."""

    def answer(body: Any) -> Reply:
        user = _content(body, "user")
        path = next(p for p in REVIEWS if p in user)
        if is_judge_call(body):
            if judge is not None:
                return judge(body)
            matches = [
                {"expected": n, "finding": f, "reason": "same problem" if f is not None else "none"}
                for n, f in enumerate(VERDICTS[path])
            ]
            return kimi_ok(json.dumps({"matches": matches}), prompt=500, completion=50, cached=0)
        return kimi_ok(json.dumps({"summary": "s", "findings": REVIEWS[path]}))

    return answer
