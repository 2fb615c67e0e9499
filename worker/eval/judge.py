"""The judge's call: one per case, through the same gate, breaker and failover as reviews.

The judge is API_LLM_JUDGE_* (each unset variable takes the main model's
value). When it is the main model itself it shares the main route's gate
and its fallback, exactly like a review call; a separately configured judge
gets its own in-process gate and no fallback, so a run's figures are never
judged by a model other than the one named in the report. Its calls are
made under the review key `judge:<case>`, so the `UsageTally` counts them
apart from the case's review calls. An unparsable answer is asked once more,
quoting the error; a second one leaves the case unjudged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import structlog

from worker.config import ModelEndpoint, Settings
from worker.eval.dataset import ExpectedIssue
from worker.eval.judge_prompt import (
    JudgeAnswerError,
    JudgedFinding,
    judge_messages,
    parse_judge_answer,
)
from worker.gate import open_gate
from worker.llm.base import ChatMessage, ChatRequest
from worker.llm.build import client_for
from worker.llm.errors import ModelsUnavailable, QuotaPaused
from worker.llm.failover import Failover, Route
from worker.review.local import LocalModels

log = structlog.get_logger(__name__)

REPAIR: Final = (
    "Your previous answer could not be used: {error}. Answer again with only the JSON "
    'object described above ({{"matches": [...]}}, one entry per expected issue).'
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Per expected issue, the matched finding's index or None; or why there is no verdict."""

    matches: list[int | None]
    reasons: list[str]
    unjudged: str | None = None  # set when the judge gave no usable answer


class Judge:
    """Judges cases with one failover, built once per run."""

    def __init__(
        self, failover: Failover, endpoint: ModelEndpoint, template: tuple[str, str], thinking: bool
    ) -> None:
        self._failover = failover
        self.endpoint = endpoint
        self._template = template
        self._thinking = thinking

    @property
    def model(self) -> str:
        return self.endpoint.model

    async def judge(
        self, case_id: str, expected: Sequence[ExpectedIssue], findings: Sequence[JudgedFinding]
    ) -> Verdict:
        messages = judge_messages(expected, findings, self._template)
        request = ChatRequest.build(messages, thinking=self._thinking)
        key = judge_key(case_id)
        try:
            first = await self._failover.call(request, key)
            try:
                return Verdict(*parse_judge_answer(first.reply.text, len(expected), len(findings)))
            except JudgeAnswerError as exc:
                error = str(exc)
            log.info("judge_answer_unparsable", case=case_id, error=error)
            turns = [ChatMessage("user", REPAIR.format(error=error))]
            if first.reply.text.strip():
                turns.insert(0, ChatMessage("assistant", first.reply.text))
            second = await self._failover.call(request.followed_by(*turns), key)
            try:
                return Verdict(*parse_judge_answer(second.reply.text, len(expected), len(findings)))
            except JudgeAnswerError as exc:
                return Verdict([], [], f"the judge's answer was unusable twice ({exc})")
        except (ModelsUnavailable, QuotaPaused) as exc:
            return Verdict([], [], f"no judge model could answer ({exc})")


def judge_key(case_id: str) -> str:
    return f"judge:{case_id}"


def build_judge(settings: Settings, models: LocalModels, template: tuple[str, str]) -> Judge:
    """The judge for a run, on the run's HTTP client, breaker and (when shared) gates."""
    llm = settings.llm
    main = llm.main
    endpoint = settings.judge or main
    if endpoint is None or main is None:
        raise ValueError("API_OPEN_AI_API_KEY: required: the key for the main model")
    is_main = endpoint.key_id == main.key_id and endpoint.model == main.model
    gate = models.main_gate if endpoint.key_id == main.key_id else open_gate(endpoint, None)
    route = Route(client_for(endpoint, models.http, llm), gate, models.tally)
    fallback = None
    if is_main and llm.fallback is not None and models.fallback_gate is not None:
        client = client_for(llm.fallback, models.http, llm)
        fallback = Route(client, models.fallback_gate, models.tally)
    failover = Failover(route, fallback, models.breaker, cooldown=llm.breaker_cooldown)
    return Judge(failover, endpoint, template, thinking=llm.thinking != "disabled")
