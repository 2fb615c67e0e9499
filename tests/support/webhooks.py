"""Building signed GitHub deliveries from the official example payloads."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from app.signature import sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
SECRET = "test-webhook-secret"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def pr_comment(body: str, association: str = "MEMBER", **comment: Any) -> dict[str, Any]:
    """issue_comment.created on a pull request (the fixture's issue is a plain one)."""
    data = payload("issue_comment.created")
    number = data["issue"]["number"]
    url = f"https://api.github.com/repos/{data['repository']['full_name']}/pulls/{number}"
    data["issue"]["pull_request"] = {"url": url, "html_url": url, "diff_url": url, "patch_url": url}
    data["comment"].update(body=body, author_association=association, **comment)
    return data


def delivery(
    event: str,
    data: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    delivery_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) as GitHub sends them."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret=secret.encode()),
        "User-Agent": "GitHub-Hookshot/test",
        "Content-Type": "application/json",
    }
    return body, headers
