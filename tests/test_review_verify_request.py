"""The verifying request's shape: the finder's messages first, so the provider's cache covers them.

The verify call used to open with its own system message, so no provider
prefix cache could serve the chunk's diff and context a second time. It now
repeats the finder's messages byte for byte, then the findings as the
assistant's turn, then the verifier's instructions as the last user turn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.fakes.model_replies import VERIFIER_OPENING, is_verify_request, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY
from worker.config import load_settings
from worker.diff.local import changed_files_from_diff
from worker.llm.base import ChatRequest
from worker.llm.requests import anthropic_body, openai_body
from worker.model_answer import Finding
from worker.review.local import LocalChange, open_local_models, review_local
from worker.review.prompt import PromptTemplateError
from worker.review.verify_prompt import load_verify_template, verify_messages

DIFF = """\
diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -1,2 +1,3 @@
 def total(xs):
-    return sum(xs)
+    xs = list(xs)
+    return sum(xs[1:])
"""
FINDING = {"path": "src/app.py", "line": 3, "severity": "high", "title": "Skips xs[0]", "body": "?"}
FINDER = [
    {"role": "system", "content": "You are kimi-review, a code reviewer."},
    {"role": "user", "content": "PR context, then <<<UNTRUSTED diff t\n1+ x\nUNTRUSTED diff t>>>"},
]


def reply(body: Any) -> Any:
    verdicts = {"verdicts": [{"id": 1, "verdict": "keep", "reason": "plausible"}]}
    if is_verify_request(body):
        return kimi_ok(json.dumps(verdicts))
    return kimi_ok(json.dumps({"summary": "Sums.", "findings": [FINDING]}))


async def test_the_verify_request_starts_with_the_finders_exact_messages() -> None:
    """Broke: the verify request opened with prompts/verify.md, so nothing it sent was cached."""
    base = {"API_OPEN_AI_API_KEY": MODEL_KEY}
    with FakeKimi(api_key=MODEL_KEY, responder=reply) as kimi:
        env = {**base, "API_OPENAI_FORCE_BASE_URL": kimi.base_url}
        async with open_local_models(load_settings(env).llm) as models:
            change = LocalChange(changed_files_from_diff(DIFF), "Sum", "", "octo/widgets")
            review = await review_local(models, change, min_severity="low")
    assert len(review.result.placement.inline) == 1
    finder, verify = (r.body["messages"] for r in kimi.requests)
    assert verify[: len(finder)] == finder  # same system, same user message, byte for byte
    assert [m["role"] for m in verify] == ["system", "user", "assistant", "user"]
    assistant, instructions = verify[2]["content"], verify[3]["content"]
    assert assistant.startswith("<<<UNTRUSTED findings ")
    assert '{"id":1,"path":"src/app.py","line":3' in assistant
    assert instructions.startswith(VERIFIER_OPENING)
    assert '{"verdicts": [' in instructions
    assert kimi.requests[1].body["response_format"] == {"type": "json_object"}


def test_the_anthropic_body_of_a_verify_request_alternates_user_assistant_user() -> None:
    """Broke: the verifier's system replaced the finder's, so Anthropic's cache missed too."""
    llm = load_settings({"API_OPEN_AI_API_KEY": MODEL_KEY}).llm
    request = ChatRequest.build(
        verify_messages(FINDER, [msgspec.convert(FINDING, Finding)]), thinking=False
    )
    body = anthropic_body("claude-x", request, llm)
    assert body["system"] == FINDER[0]["content"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == FINDER[1]["content"]
    assert '"id":1' in body["messages"][1]["content"]
    assert body["messages"][2]["content"].startswith(VERIFIER_OPENING)
    assert is_verify_request(body)
    assert not is_verify_request(
        anthropic_body("claude-x", ChatRequest.build(FINDER, thinking=False), llm)
    )
    assert is_verify_request(openai_body("kimi", request, llm))


def test_the_shipped_instructions_open_as_the_fakes_recognise_and_a_missing_file_is_typed(
    tmp_path: Path,
) -> None:
    instructions = load_verify_template()
    assert instructions.startswith(VERIFIER_OPENING)
    assert "drop only the ones the code refutes" in instructions
    assert "Never add new findings" in instructions
    with pytest.raises(PromptTemplateError, match=r"verify\.md"):
        load_verify_template(tmp_path)
