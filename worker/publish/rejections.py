"""What to do when GitHub answers 422 to the review: still ONE review in the end.

GitHub creates a review all or nothing, and its 422 body rarely says which
comment it refused. Observed bodies:

    {"message": "Unprocessable Entity", "errors": ["Line could not be resolved"]}
    {"message": "Unprocessable Entity", "errors": ["Pull request review thread line
      must be part of the diff, Pull request review thread start line must be part
      of the same hunk as the line., and Pull request review thread diff hunk can't
      be blank"]}
    {"message": "Validation Failed", "errors": [{"resource": "PullRequestReviewComment",
      "code": "custom", "field": "pull_request_review_thread.line",
      "message": "could not be resolved"}]}

Strategy (`recovery_for`, then a `Bisection` if needed):

1. The commit is not the PR's head any more: stop; the push that moved it
   queues its own review.
2. The bot has a pending review left on the PR (a probe whose delete was lost):
   delete it, then post the same payload again.
3. The body names comment indices (`comments[3]`): move those to the summary
   and post again.
4. It names `start_line` and some comments span several lines: post again
   with every comment single-line (their suggestions go with their ranges).
5. Otherwise find the refused comments by bisection with PENDING reviews: a
   review created without `event` is a draft only its author sees, so a probe
   posts a subset that way and deletes it at once (`DELETE .../reviews/{id}`).
   A probe GitHub accepts clears its comments, a refused one is split again
   (adaptive group testing: at most about 2·k·log2(n) probes for k refused
   among n; 5 for one refused comment among 16).
   When the probe budget runs out, the comments not yet cleared go to the
   summary. Then the cleared comments are posted as the ONE review.
6. Anything else: post the review with no inline comments, every finding in
   the summary.

Before each re-post the caller looks for a review of its own carrying this
run's marker (`fingerprint.already_reviewed`): a 422 has been seen to leave
a review behind, and a second one must never be posted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

import msgspec

from worker.github.sansio import error_texts
from worker.publish.findings import Placement, collapse_ranges, demote_rejected

RejectionKind = Literal[
    "comment_position", "multi_line_range", "stale_commit", "pending_review", "too_long", "other"
]
DEFAULT_MAX_PROBES: Final = 12

_NAMED_INDEX: Final = re.compile(r"comments\[(\d+)\]")


class Rejection(msgspec.Struct, frozen=True):
    """GitHub's 422 read: what kinds of problem it names, and any comment indices."""

    kinds: frozenset[RejectionKind]
    messages: tuple[str, ...]
    indices: tuple[int, ...] = ()


def read_rejection(error_body: bytes | str | Mapping[str, object]) -> Rejection:
    """Classify a 422 body of `POST .../pulls/{n}/reviews` (see the module docstring)."""
    texts = error_texts(error_body)
    kinds: set[RejectionKind] = set()
    for text in texts:
        lowered = text.lower().replace("_", " ")
        if "start line" in lowered or "same hunk" in lowered:
            kinds.add("multi_line_range")
        if any(w in lowered for w in ("part of the diff", "could not be resolved", "diff hunk")):
            kinds.add("comment_position")
        if "commit" in lowered and ("not part of" in lowered or "no commit found" in lowered):
            kinds.add("stale_commit")
        if "pending review" in lowered:
            kinds.add("pending_review")
        if "too long" in lowered or "maximum is" in lowered:
            kinds.add("too_long")
    indices = sorted({int(m) for text in texts for m in _NAMED_INDEX.findall(text)})
    return Rejection(frozenset(kinds or {"other"}), tuple(texts), tuple(indices))


class Stop(msgspec.Struct, frozen=True):
    """Do not post: the PR moved on."""

    reason: str


class ClearPendingThenRetry(msgspec.Struct, frozen=True):
    """Delete the bot's pending review on the PR, then post the same review again."""


class Repost(msgspec.Struct, frozen=True):
    """Post this placement as the one review."""

    placement: Placement


def recovery_for(
    rejection: Rejection, placement: Placement, *, ranges_collapsed: bool = False
) -> RecoveryStep:
    """The next step after a 422 on the review (steps 1-6 of the module docstring)."""
    if "stale_commit" in rejection.kinds:
        return Stop("the commit is no longer the pull request's head")
    if "pending_review" in rejection.kinds:
        return ClearPendingThenRetry()
    named = [i for i in rejection.indices if i < len(placement.inline)]
    if named:
        return Repost(demote_rejected(placement, named))
    has_ranges = any(c.start_line is not None for c in placement.inline)
    if "multi_line_range" in rejection.kinds and has_ranges and not ranges_collapsed:
        return Repost(collapse_ranges(placement))
    if rejection.kinds & {"comment_position", "multi_line_range"} and placement.inline:
        return Bisection.start(len(placement.inline))
    return Repost(demote_rejected(placement, range(len(placement.inline))))


class Bisection(msgspec.Struct, frozen=True, kw_only=True):
    """Which of n comments GitHub refuses, found by probing subsets (step 5).

    Use: `probe = state.next_probe()`; post those comments as a pending
    review; `state = state.record(accepted)`; repeat until `next_probe()` is
    None; then `state.apply(placement)` is the placement to post.
    """

    suspects: tuple[tuple[tuple[int, ...], bool], ...]  # (group, known to hold a refused one)
    cleared: tuple[int, ...] = ()
    refused: tuple[int, ...] = ()
    probing: tuple[int, ...] = ()
    probes_left: int = DEFAULT_MAX_PROBES

    @classmethod
    def start(cls, count: int, max_probes: int = DEFAULT_MAX_PROBES) -> Bisection:
        """All `count` comments together were refused."""
        return cls(suspects=((tuple(range(count)), True),), probes_left=max_probes)._settle()

    def next_probe(self) -> tuple[int, ...] | None:
        """Indices of the comments to post as the next probe, or None when done."""
        return self.probing or None

    def record(self, accepted: bool) -> Bisection:
        """GitHub's answer to the probe `next_probe()` named."""
        if not self.probing:
            raise ValueError("no probe is under way: call next_probe() first")
        group = self.suspects[0][0]
        rest = self.suspects[1:]
        if len(self.probing) < len(group):  # probed the first half of a known-bad group
            other = group[len(self.probing) :]
            if accepted:
                after = ((other, True), *rest)
            else:
                after = ((self.probing, True), (other, False), *rest)
        else:
            after = rest if accepted else ((group, True), *rest)
        cleared = self.cleared + (self.probing if accepted else ())
        state = msgspec.structs.replace(
            self, suspects=after, cleared=cleared, probing=(), probes_left=self.probes_left - 1
        )
        return state._settle()

    def apply(self, placement: Placement) -> Placement:
        """The placement to post once done: refused (and unresolved) comments in the summary."""
        return demote_rejected(placement, self.refused)

    def _settle(self) -> Bisection:
        """Resolve what needs no probe, then choose the next probe (or finish)."""
        suspects = list(self.suspects)
        refused = list(self.refused)
        while suspects:
            group, known_bad = suspects[0]
            if known_bad and len(group) == 1:
                refused.append(group[0])
                suspects.pop(0)
                continue
            if self.probes_left <= 0:  # out of budget: unresolved comments go to the summary
                refused += [i for g, _ in suspects for i in g]
                suspects = []
                break
            probe = group[: len(group) // 2] if known_bad else group
            return msgspec.structs.replace(
                self, suspects=tuple(suspects), refused=tuple(sorted(refused)), probing=probe
            )
        return msgspec.structs.replace(
            self, suspects=(), refused=tuple(sorted(refused)), probing=()
        )


RecoveryStep = Stop | ClearPendingThenRetry | Repost | Bisection
