"""What the bot's check run says: a live count while reviewing, the outcome after.

Builds the `status`/`conclusion`/`output` part of
`POST /repos/{owner}/{repo}/check-runs` and `PATCH .../check-runs/{id}`
(https://docs.github.com/rest/checks/runs). The conclusion never fails a PR
on the model's opinion: a finished review is `success`, or `neutral` when it
found something critical or could not read every chunk; a review that was
abandoned is `neutral` too, so a required check never blocks a merge because
a model was down.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from worker.model_answer import RefutedFinding
from worker.publish import messages
from worker.publish.findings import Placement, count_by_severity
from worker.publish.render import fit_body
from worker.publish.sanitize import sanitize_line
from worker.publish.summary import SummaryInput

CHECK_RUN_NAME: Final = "Kimi review"
CHECK_TEXT_LIMIT: Final = 65_535  # output.summary and output.text, each

Status = Literal["queued", "in_progress", "completed"]
Conclusion = Literal["success", "neutral", "skipped", "cancelled"]


class CheckRunOutput(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    summary: str
    text: str | None = None


class CheckRunUpdate(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    output: CheckRunOutput
    conclusion: Conclusion | None = None

    def to_payload(self) -> dict[str, object]:
        """The request body fields, with no null: `conclusion` only once completed."""
        output: dict[str, object] = {
            "title": self.output.title,
            "summary": fit_body(self.output.summary, limit=CHECK_TEXT_LIMIT),
        }
        if self.output.text is not None:
            output["text"] = fit_body(self.output.text, limit=CHECK_TEXT_LIMIT)
        payload: dict[str, object] = {"status": self.status, "output": output}
        if self.conclusion is not None:
            payload["conclusion"] = self.conclusion
        return payload


def check_external_id(head_sha: str, run: str | None) -> str:
    """The check run's `external_id`: which review (head, and `/review full` run) it shows."""
    return f"kimi-review:{head_sha}:{run or 'review'}"


def check_in_progress(reviewed: int, total: int) -> CheckRunUpdate:
    """`12/40 chunks reviewed`: the live count while chunks are answered."""
    title = f"{reviewed}/{total} chunks reviewed"
    summary = f"{messages.PRODUCT} is reviewing this pull request: {title}."
    return CheckRunUpdate(status="in_progress", output=CheckRunOutput(title=title, summary=summary))


def check_completed(placement: Placement, info: SummaryInput) -> CheckRunUpdate:
    """The outcome of a review that was posted."""
    counts = count_by_severity(
        [*(c.finding for c in placement.inline), *(c.finding for c in placement.in_summary)]
    )
    total = sum(counts.values())
    if total:
        parts = [f"{n} {severity}" for severity, n in counts.items() if n]
        title = f"{total} finding{'s' if total != 1 else ''}: {', '.join(parts)}"
    else:
        title = "No new findings"
    lines = [
        f"{len(placement.inline)} inline comment(s), {len(placement.in_summary)} in the summary."
    ]
    if info.dropped_chunks:
        cut = any(c.reason == messages.CEILING_REACHED for c in info.dropped_chunks)
        why = " (the review's token ceiling was reached)" if cut else ""
        lines.append(
            f"{len(info.dropped_chunks)} chunk(s) could not be reviewed{why}; see the summary."
        )
    if info.skipped_files:
        lines.append(f"{len(info.skipped_files)} file(s) skipped; see the summary.")
    if info.refuted:
        lines.append(f"{len(info.refuted)} finding(s) dropped by verification; listed below.")
    lines.extend(f"{sanitize_line(note)}." for note in info.round_notes)
    incomplete = bool(info.dropped_chunks)
    conclusion: Conclusion = "neutral" if counts["critical"] or incomplete else "success"
    output = CheckRunOutput(
        title=title, summary="\n\n".join(lines), text=refuted_text(info.refuted)
    )
    return CheckRunUpdate(status="completed", conclusion=conclusion, output=output)


def refuted_text(refuted: list[RefutedFinding]) -> str | None:
    """The findings the verifying pass dropped, by title: never inline, never silently lost."""
    if not refuted:
        return None
    rows = [f"### {messages.DROPPED_BY_VERIFICATION}", ""]
    for item in refuted:
        finding = item.finding
        where = sanitize_line(f"{finding.path}:{finding.line}")
        row = f"- {where} {sanitize_line(finding.title)}"
        if item.reason.strip():
            row += f": {sanitize_line(item.reason)}"
        rows.append(row)
    return "\n".join(rows)


def check_deferred(reason: str) -> CheckRunUpdate:
    """Both models unavailable: the job waits and is retried."""
    output = CheckRunOutput(title="Waiting for a model", summary=messages.deferred_notice(reason))
    return CheckRunUpdate(status="in_progress", output=output)


def check_quota_paused(quota_line: str) -> CheckRunUpdate:
    """The main key's budget is spent until the window refreshes."""
    output = CheckRunOutput(
        title="Paused: model budget spent", summary=messages.quota_paused_notice(quota_line)
    )
    return CheckRunUpdate(status="in_progress", output=output)


def check_gave_up(head_sha: str, attempts: int, reason: str) -> CheckRunUpdate:
    """The review was abandoned; the PR also gets `messages.gave_up_comment`."""
    summary = messages.gave_up_comment(head_sha, attempts, reason)
    output = CheckRunOutput(title="Review abandoned", summary=summary)
    return CheckRunUpdate(status="completed", conclusion="neutral", output=output)


def check_waiting_for_maintainer(lines: int, limit: int) -> CheckRunUpdate:
    """A large PR from outside the repository: not reviewed until a maintainer asks.

    `neutral`, not a failure: nothing is wrong with the PR, and a required
    check must not block it; the title says what to do.
    """
    output = CheckRunOutput(
        title=messages.UNTRUSTED_WAITING_TITLE,
        summary=messages.untrusted_waiting_notice(lines, limit),
    )
    return CheckRunUpdate(status="completed", conclusion="neutral", output=output)


def check_skipped(reason: str) -> CheckRunUpdate:
    """Nothing to review (a draft, only skipped files): said plainly, not as a failure."""
    output = CheckRunOutput(title="Not reviewed", summary=sanitize_line(reason))
    return CheckRunUpdate(status="completed", conclusion="skipped", output=output)
