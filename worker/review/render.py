"""The review the bot posts: inline comment bodies and the request payload.

`review_payload` builds the JSON body of
`POST /repos/{owner}/{repo}/pulls/{number}/reviews`
(https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request):
event `COMMENT`, the head `commit_id`, a short body headed by the review
marker, and every inline comment. Optional fields are omitted, never null:
`start_line`/`start_side` appear only on multi-line comments, `comments` only
when there is one. Every body fits GitHub's 65,536-character limit, cut with
a note that says so, the bot's markers kept.
"""

from __future__ import annotations

from typing import Final

from worker.review import messages
from worker.review.findings import InlineFinding, Placement
from worker.review.fingerprint import fingerprint_marker, review_marker
from worker.review.sanitize import fence_for, sanitize_line, sanitize_markdown, unclosed_fence

GITHUB_BODY_LIMIT: Final = 65_536
# An inline comment far shorter than the limit reads better; the full text of
# a longer finding is the model's fault, not the reader's.
INLINE_BODY_LIMIT: Final = 16_000
# A title is one line; the model's text is cut before it is sanitised, so the
# cut cannot split the code span that keeps a mention from pinging anyone.
TITLE_LIMIT: Final = 300

JsonObject = dict[str, object]


def fit_body(
    content: str, *, head: str = "", tail: str = "", limit: int = GITHUB_BODY_LIMIT
) -> str:
    """`head + content + tail`, the content cut at a line end when the whole is over `limit`.

    The head and tail (the bot's markers) are always kept whole; a code block
    left open by the cut is closed, then a note says how much was cut.
    """
    whole = f"{head}{content}{tail}"
    if len(whole) <= limit:
        return whole
    room = limit - len(head) - len(tail) - len(messages.truncated_note(len(content), limit)) - 16
    if room <= 0:
        raise ValueError("the bot's own head and tail do not fit in a GitHub body")
    cut = content[:room]
    # At a line end only: a cut inside a line could split a code span (one
    # around a mention or a URL) and make what it held live. A first line
    # longer than the room is dropped whole.
    cut = cut[: cut.rindex("\n")] if "\n" in cut else ""
    fence = unclosed_fence(cut)
    closing = f"\n{fence}" if fence else ""
    note = messages.truncated_note(len(content) - len(cut), limit)
    return f"{head}{cut}{closing}\n\n{note}{tail}"


def severity_heading(item: InlineFinding, *, link_host: str | None = None) -> str:
    """`**🟠 High** · Security · Title`: the first line of an inline comment."""
    finding = item.finding
    badge = messages.SEVERITY_BADGE[finding.severity]
    category = messages.CATEGORY_LABEL[finding.category]
    title = sanitize_line(finding.title, link_host=link_host, limit=TITLE_LIMIT)
    return f"**{badge}** · {category} · **{title}**"


def suggestion_block(suggestion: str) -> str:
    """A GitHub suggestion: its fence longer than any backtick fence inside it."""
    fence = fence_for(suggestion)
    return f"{fence}suggestion\n{suggestion}\n{fence}"


def comment_body(
    item: InlineFinding, *, limit: int = INLINE_BODY_LIMIT, link_host: str | None = None
) -> str:
    """The markdown of one inline comment, ending with its fingerprint marker.

    `link_host`: the GitHub web host the model's links may point to (see `links`).
    """
    parts = [severity_heading(item, link_host=link_host)]
    if item.moved_from is not None:
        parts.append(messages.MOVED_NOTE.format(line=item.line, original=item.moved_from))
    body = sanitize_markdown(item.finding.body, link_host=link_host).strip()
    if body:
        parts.append(body)
    if item.suggestion is not None:
        parts.append(suggestion_block(item.suggestion))
    tail = f"\n\n{fingerprint_marker(item.fingerprint)}"
    return fit_body("\n\n".join(parts), tail=tail, limit=limit)


def review_comment(item: InlineFinding, *, link_host: str | None = None) -> JsonObject:
    """One entry of the review's `comments`: no null, a range only when multi-line."""
    comment: JsonObject = {
        "path": item.path,
        "line": item.line,
        "side": item.side,
        "body": comment_body(item, link_host=link_host),
    }
    if item.start_line is not None and item.start_line < item.line:
        comment["start_line"] = item.start_line
        comment["start_side"] = item.side
    return comment


def review_body(placement: Placement, *, head_sha: str, run: str | None = None) -> str:
    """The review's own text: its marker, then a line pointing to the sticky summary."""
    inline = len(placement.inline)
    elsewhere = len(placement.in_summary)
    said = f"**{messages.PRODUCT}** of `{head_sha[:7]}`: "
    said += f"{inline} inline comment{'s' if inline != 1 else ''}"
    if elsewhere:
        said += f", {elsewhere} more finding{'s' if elsewhere != 1 else ''} in the summary comment"
    said += "." if inline or elsewhere else " no findings."
    return fit_body(said, head=f"{review_marker(head_sha, run)}\n")


def review_payload(
    placement: Placement, *, head_sha: str, run: str | None = None, link_host: str | None = None
) -> JsonObject:
    """The JSON body of the one `POST .../pulls/{n}/reviews` request of a review."""
    payload: JsonObject = {
        "commit_id": head_sha,
        "event": "COMMENT",
        "body": review_body(placement, head_sha=head_sha, run=run),
    }
    if placement.inline:
        payload["comments"] = [
            review_comment(item, link_host=link_host) for item in placement.inline
        ]
    return payload
