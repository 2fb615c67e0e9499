"""Every Redis key and queue name the product uses, in one place.

All keys share the `kimi-review:` prefix so an operator can find (and size)
them with `SCAN MATCH kimi-review:*`. arq's own keys (`arq:job:<id>`,
`arq:result:<id>`, `arq:in-progress:<id>`, `arq:retry:<id>`) sit beside them.
Identifiers that embed a credential use `ModelEndpoint.key_id`, a hash, never
the key itself.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "kimi-review"
QUEUE: Final = f"{PREFIX}:queue"
HEALTH_CHECK: Final = f"{PREFIX}:queue:health-check"

# How long an accepted X-GitHub-Delivery id is remembered. GitHub lets an
# operator redeliver for 3 days; 4 days covers that with room to spare.
DELIVERY_TTL_SECONDS: Final = 4 * 86400


# --- intake (app/) -------------------------------------------------------
def delivery(delivery_id: str) -> str:
    """Set when a delivery's job was persisted (or already existed)."""
    return f"{PREFIX}:delivery:{delivery_id}"


def review_job_id(repo_id: int, pr_number: int, head_sha: str) -> str:
    """arq job id for a pull_request event: one job per (repo, PR, head)."""
    return f"review:{repo_id}:{pr_number}:{head_sha}"


def command_job_id(repo_id: int, pr_number: int, comment_id: int) -> str:
    """arq job id for a PR comment command: one job per comment."""
    return f"command:{repo_id}:{pr_number}:{comment_id}"


def head_unreviewed(job_id: str) -> str:
    """Set by the worker when a pull_request job ended without reviewing its head
    (a draft, reviews disabled, the PR closed): a later `ready_for_review` or
    `reopened` of that head is then queued again instead of taken as a duplicate."""
    return f"{PREFIX}:head-unreviewed:{job_id}"


def head_wanted(job_id: str) -> str:
    """Set by intake when `ready_for_review`/`reopened` arrives while that head's job is
    still running: if the job then ends without reviewing the head, it runs once more."""
    return f"{PREFIX}:head-wanted:{job_id}"


def installation(installation_id: int) -> str:
    """Hash recording an installation event (account, action, time)."""
    return f"{PREFIX}:installation:{installation_id}"


# --- review job (worker/) ------------------------------------------------
def pr_lock(repo_id: int, pr_number: int) -> str:
    """Per-PR lock: one review of a PR runs at a time."""
    return f"{PREFIX}:lock:pr:{repo_id}:{pr_number}"


def review_state(repo_id: int, pr_number: int, head_sha: str, run: str | None = None) -> str:
    """Hash of a review's progress: chunk answers by chunk id, the check run, the estimator."""
    suffix = f":{run}" if run else ""
    return f"{PREFIX}:review:{repo_id}:{pr_number}:{head_sha}{suffix}"


# A review outlives the arq job that announced it: the job records the task
# here and returns at once; a worker holding the PR's lease runs it, and any
# worker's sweep takes over a task whose lease expired (a dead worker) or
# whose deferral is due (models were down).
REVIEW_TASKS: Final = f"{PREFIX}:reviews:tasks"  # HASH task id -> encoded ReviewTask
REVIEW_DUE: Final = f"{PREFIX}:reviews:due"  # ZSET task id -> epoch seconds it may run


def last_reviewed(repo_id: int, pr_number: int) -> str:
    """The head SHA of the last review posted on a PR (incremental mode)."""
    return f"{PREFIX}:last-reviewed:{repo_id}:{pr_number}"


# --- model calls (worker/llm, worker/gate, worker/quota) -----------------
def breaker(key_id: str) -> str:
    """Set while a model key is known to refuse (quota, auth): value = reason."""
    return f"{PREFIX}:breaker:{key_id}"


def gate(key_id: str) -> str:
    """Prefix of the concurrency gate's keys for one provider key."""
    return f"{PREFIX}:gate:{key_id}"


def usage(key_id: str) -> str:
    """Prefix of the token usage and quota-window keys for one provider key."""
    return f"{PREFIX}:usage:{key_id}"


def recent_reviews() -> str:
    """Capped list of the last reviews' token use (for `kimi-review usage`)."""
    return f"{PREFIX}:reviews:recent"


# Gate sub-keys (worker/gate.py). One gate per provider key; its Lua scripts
# touch only these keys, all under `gate(key_id)`.
def gate_holders(key_id: str) -> str:
    """ZSET lease ticket -> lease expiry (ms, Redis clock): the calls in flight."""
    return f"{gate(key_id)}:holders"


def gate_waiters(key_id: str) -> str:
    """ZSET waiting ticket -> fair-queue score (round-robin between reviews)."""
    return f"{gate(key_id)}:waiters"


def gate_waiter_expiry(key_id: str) -> str:
    """ZSET waiting ticket -> expiry (ms): tickets of dead waiters are dropped."""
    return f"{gate(key_id)}:waiter-expiry"


def gate_review_turns(key_id: str) -> str:
    """HASH review key -> score of its last queued ticket (fair-queue state)."""
    return f"{gate(key_id)}:review-turns"


def gate_clock(key_id: str) -> str:
    """HASH: `vt` (score of the last grant) and `seq` (ticket counter)."""
    return f"{gate(key_id)}:clock"


def gate_aimd(key_id: str) -> str:
    """HASH of the AIMD state: effective cap, last decrease, last 429 level."""
    return f"{gate(key_id)}:aimd"


def gate_epoch(key_id: str) -> str:
    """Random id written on first use: its absence tells Redis lost the gate state."""
    return f"{gate(key_id)}:epoch"


def gate_grace(key_id: str) -> str:
    """Set (with a TTL) after a Redis restart: no grants until holders re-register."""
    return f"{gate(key_id)}:grace"


def gate_wake_prefix(key_id: str) -> str:
    """Prefix of the per-process LISTs a grant is pushed on (BLPOP wake-up)."""
    return f"{gate(key_id)}:wake:"


# Usage and quota sub-keys (worker/usage.py, worker/quota.py).
def usage_anchor(key_id: str) -> str:
    """Epoch seconds of the quota window anchor, set on first use when not configured."""
    return f"{usage(key_id)}:anchor"


def usage_window(key_id: str, window_start: int) -> str:
    """HASH of token counts (prompt, completion, cached, calls) in one quota window."""
    return f"{usage(key_id)}:window:{window_start}"


def usage_review(key_id: str, review_key: str) -> str:
    """HASH of one review's token counts on one key (plus model, first/last call)."""
    return f"{usage(key_id)}:review:{review_key}"


def usage_review_reserved(key_id: str) -> str:
    """HASH review key -> tokens reserved by calls in flight (per-review ceiling)."""
    return f"{usage(key_id)}:review-reserved"


# --- operations ----------------------------------------------------------
def redelivered(delivery_id: int) -> str:
    """Set once the sweeper asked GitHub to redeliver a failed delivery."""
    return f"{PREFIX}:redelivered:{delivery_id}"
