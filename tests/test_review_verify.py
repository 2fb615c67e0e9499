"""Finder passes and the verifying pass, through the pipeline every path shares.

In-process against a fake Kimi: `review_local` is the path of `review --diff`
and `eval`; the checkpoint tests run `review_chunks` on a real Redis like the
worker; the check-run test runs the worker's `ReviewFlow` on the fake GitHub.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from app.cli.report import render_json, render_text
from tests.fakes.model_replies import Reply, is_verify_request, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY
from worker.config import Settings, load_settings
from worker.diff.local import changed_files_from_diff
from worker.review.checkpoints import ReviewCheckpoint
from worker.review.local import LocalChange, LocalModels, open_local_models, review_local
from worker.review.pipeline import MemoryChunkStore, review_chunks
from worker.review.prepare import ReviewOptions, prepare_review

DIFF = """\
diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -1,2 +1,5 @@
 def total(xs):
-    return sum(xs)
+    s = 0
+    for i in range(len(xs) - 1):
+        s += xs[i]
+    return s
"""


def finding(line: int, title: str, severity: str = "medium", body: str = "Why.") -> dict[str, Any]:
    return {"path": "src/app.py", "line": line, "severity": severity, "title": title, "body": body}


REFUTED = finding(3, "Loop skips the last item", "high")
UNPROVEN = finding(4, "xs may hold None", "high")
VERDICTS = {
    "verdicts": [
        {"id": 1, "verdict": "drop", "reason": "range(len(xs) - 1) is wanted here"},
        {"id": 2, "verdict": "keep", "reason": "depends on callers", "severity": "low"},
        {"id": 7, "verdict": "keep", "reason": "an invented id is ignored"},
    ]
}


def answer(*findings: dict[str, Any]) -> Reply:
    return kimi_ok(json.dumps({"summary": "Sums a list.", "findings": list(findings)}))


def responder(finder: Callable[[Any], Reply], verifier: Reply | None = None) -> Any:
    def reply(body: Any) -> Reply:
        if is_verify_request(body):
            return verifier or kimi_ok(json.dumps(VERDICTS))
        return finder(body)

    return reply


def settings(kimi: FakeKimi, **env: str) -> Settings:
    base = {"API_OPEN_AI_API_KEY": MODEL_KEY, "API_OPENAI_FORCE_BASE_URL": kimi.base_url}
    return load_settings({**base, **env})


def change() -> LocalChange:
    return LocalChange(changed_files_from_diff(DIFF), "Sum", "", "octo/widgets")


def user_text(body: Any) -> str:
    return str(body["messages"][-1]["content"])


@asynccontextmanager
async def local(kimi: FakeKimi, **env: str) -> AsyncIterator[LocalModels]:
    async with open_local_models(settings(kimi, **env).llm) as models:
        yield models


@pytest.fixture
def verifying_kimi() -> Iterator[FakeKimi]:
    finder = responder(lambda body: answer(REFUTED, UNPROVEN))
    with FakeKimi(api_key=MODEL_KEY, responder=finder) as server:
        yield server


async def test_verify_drops_a_refuted_finding_and_keeps_an_unproven_one(
    verifying_kimi: FakeKimi,
) -> None:
    async with local(verifying_kimi) as models:
        review = await review_local(models, change(), min_severity="low")
        tally = models.tally.of("local")
    kept = [c.finding for c in review.result.placement.inline]
    assert [(f.title, f.severity) for f in kept] == [("xs may hold None", "low")]
    [dropped] = review.result.refuted
    assert (dropped.finding.title, dropped.reason) == (
        "Loop skips the last item",
        "range(len(xs) - 1) is wanted here",
    )
    finder_body, verify_body = (r.body for r in verifying_kimi.requests)
    assert is_verify_request(verify_body)
    assert not is_verify_request(finder_body)
    # The verifier sees everything the finder saw, then the numbered findings.
    assert verify_body["messages"][:2] == finder_body["messages"]
    findings = verify_body["messages"][2]["content"]
    assert '"id":1' in findings
    assert '"id":2' in findings
    # Both calls are counted, as the quota and the report see them.
    assert tally.calls == 2
    assert review.result.tokens.prompt == tally.prompt == 2 * 1200


async def test_dropped_findings_are_listed_by_the_local_reports_not_as_findings(
    verifying_kimi: FakeKimi,
) -> None:
    async with local(verifying_kimi) as models:
        review = await review_local(models, change(), min_severity="low")
    text = render_text(review.prepared, review.result)
    assert "dropped by verification src/app.py:3: Loop skips the last item" in text
    assert "1 findings" in text
    document = json.loads(render_json(review.prepared, review.result))
    assert [f["title"] for f in document["findings"]] == ["xs may hold None"]
    [dropped] = document["dropped_by_verification"]
    assert dropped["finding"]["title"] == "Loop skips the last item"


async def test_unparsable_verify_answer_is_asked_again_then_every_finding_kept() -> None:
    reply = responder(lambda body: answer(REFUTED, UNPROVEN), kimi_ok("I think both are fine."))
    with FakeKimi(api_key=MODEL_KEY, responder=reply) as kimi:
        async with local(kimi) as models:
            review = await review_local(models, change(), min_severity="low")
    assert len(kimi.requests) == 3  # the finder, the verifier, the verifier asked again
    assert "could not be used" in user_text(kimi.requests[2].body)
    assert len(review.result.placement.inline) == 2
    assert review.result.refuted == []
    [note] = review.result.round_notes
    assert note.startswith("verification skipped: unparsable answer twice")
    assert note in render_text(review.prepared, review.result)


async def test_passes_are_merged_and_the_same_problem_counted_once() -> None:
    def finder(body: Any) -> Reply:
        if "pass 2 of 2" in user_text(body):
            detailed = finding(4, "The loop skips the last item", "high", "A longer reason why.")
            return answer(detailed, finding(5, "Returns an int for floats"))
        return answer(finding(3, "Loop skips the last item"))

    with FakeKimi(api_key=MODEL_KEY, responder=responder(finder)) as kimi:
        async with local(kimi, API_LLM_REVIEW_PASSES="2", API_LLM_VERIFY="off") as models:
            review = await review_local(models, change(), min_severity="low")
            assert models.tally.of("local").calls == 2
    first, second = (user_text(r.body) for r in kimi.requests)
    assert "pass" not in first.rsplit(">>>", 1)[1]  # pass 1 is today's prompt
    assert second.startswith(first)
    assert second.endswith("review the diff afresh.)")
    found = sorted((c.finding.line, c.finding.severity) for c in review.result.placement.inline)
    assert found == [(4, "high"), (5, "medium")]


async def test_verify_off_and_one_pass_make_exactly_one_call_per_chunk(
    verifying_kimi: FakeKimi,
) -> None:
    async with local(verifying_kimi, API_LLM_VERIFY="off", API_LLM_REVIEW_PASSES="1") as models:
        review = await review_local(models, change(), min_severity="low")
    assert len(verifying_kimi.requests) == 1
    assert len(review.result.placement.inline) == 2


async def test_verify_is_skipped_for_a_chunk_without_findings() -> None:
    with FakeKimi(api_key=MODEL_KEY, responder=responder(lambda body: answer())) as kimi:
        async with local(kimi) as models:
            await review_local(models, change(), min_severity="low")
    assert len(kimi.requests) == 1
    assert not is_verify_request(kimi.requests[0].body)


async def test_a_resumed_review_pays_for_no_pass_and_no_verification_twice(
    verifying_kimi: FakeKimi, redis: aioredis.Redis
) -> None:
    """Three calls once (two passes, one verification), none on resume: all checkpointed."""
    prepared = prepare_review(
        changed_files_from_diff(DIFF), title="Sum", description="", repository="octo/widgets",
        options=ReviewOptions(),
    )  # fmt: skip
    store = ReviewCheckpoint(redis, "kimi-review:test:verify-resume")
    async with local(verifying_kimi, API_LLM_REVIEW_PASSES="2") as models:
        first = await review_chunks(prepared, models.reviewer, review_key="r", store=store)
        assert len(verifying_kimi.requests) == 3
        again = await review_chunks(prepared, models.reviewer, review_key="r", store=store)
    assert len(verifying_kimi.requests) == 3
    assert [r.refuted for _, r in again.results] == [r.refuted for _, r in first.results]
    assert again.usage == first.usage
    stored = cast("list[bytes]", await redis.hkeys(store.key))  # type: ignore[misc]
    fields = sorted(f.decode() for f in stored)
    chunk = prepared.chunks[0].id
    assert [f"chunk:{chunk}", f"chunk:{chunk}:pass2", f"chunk:{chunk}:verify"] == [
        f for f in fields if f.startswith("chunk:")
    ]


async def test_a_review_resumed_before_verification_pays_only_for_it(
    verifying_kimi: FakeKimi, redis: aioredis.Redis
) -> None:
    prepared = prepare_review(
        changed_files_from_diff(DIFF), title="Sum", description="", repository="octo/widgets",
        options=ReviewOptions(),
    )  # fmt: skip
    store = ReviewCheckpoint(redis, "kimi-review:test:verify-half")
    async with local(verifying_kimi, API_LLM_VERIFY="off") as models:
        await review_chunks(prepared, models.reviewer, review_key="r", store=store)
    async with local(verifying_kimi) as models:
        resumed = await review_chunks(prepared, models.reviewer, review_key="r", store=store)
    assert [is_verify_request(r.body) for r in verifying_kimi.requests] == [False, True]
    [(_, result)] = resumed.results
    assert [r.finding.title for r in result.refuted] == ["Loop skips the last item"]


def test_passes_and_verify_settings_have_bounds() -> None:
    env = {"API_OPEN_AI_API_KEY": MODEL_KEY}
    defaults = load_settings(env).llm.passes
    assert (defaults.passes, defaults.verify) == (1, True)
    chosen = load_settings({**env, "API_LLM_REVIEW_PASSES": "5", "API_LLM_VERIFY": "off"})
    assert (chosen.llm.passes.passes, chosen.llm.passes.verify) == (5, False)
    for name, value in (("API_LLM_REVIEW_PASSES", "6"), ("API_LLM_VERIFY", "maybe")):
        with pytest.raises(ValueError, match=name):
            load_settings({**env, name: value})


class OneCallCeiling:
    """A review ceiling with room for exactly one call (the pipeline's `Ceiling`)."""

    def __init__(self) -> None:
        self.room = 1

    async def reserve(self, review_key: str, estimate: int) -> bool:
        self.room -= 1
        return self.room >= 0

    async def release(self, review_key: str, estimate: int) -> None:
        return None

    @property
    def limit(self) -> int | None:
        return 1

    def lowered(self, limit: int | None) -> OneCallCeiling:
        return self


async def test_a_ceiling_with_no_room_for_verification_keeps_the_findings_and_says_so(
    verifying_kimi: FakeKimi,
) -> None:
    prepared = prepare_review(
        changed_files_from_diff(DIFF), title="Sum", description="", repository="octo/widgets",
        options=ReviewOptions(),
    )  # fmt: skip
    async with local(verifying_kimi) as models:
        outcomes = await review_chunks(
            prepared,
            models.reviewer,
            review_key="r",
            store=MemoryChunkStore(),
            ceiling=OneCallCeiling(),
        )
    assert len(verifying_kimi.requests) == 1
    [(_, result)] = outcomes.results
    assert result.answer is not None
    assert len(result.answer.findings) == 2
    assert any(n.startswith("verification skipped") for n in result.notes)
