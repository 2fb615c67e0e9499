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


def installation(installation_id: int) -> str:
    """Hash recording an installation event (account, action, time)."""
    return f"{PREFIX}:installation:{installation_id}"


# --- review job (worker/) ------------------------------------------------
def pr_lock(repo_id: int, pr_number: int) -> str:
    """Per-PR lock: one review of a PR runs at a time."""
    return f"{PREFIX}:lock:pr:{repo_id}:{pr_number}"


def review_state(repo_id: int, pr_number: int, head_sha: str) -> str:
    """Hash of a review's progress: chunk answers by chunk id, posted markers."""
    return f"{PREFIX}:review:{repo_id}:{pr_number}:{head_sha}"


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


# --- operations ----------------------------------------------------------
def redelivered(delivery_id: int) -> str:
    """Set once the sweeper asked GitHub to redeliver a failed delivery."""
    return f"{PREFIX}:redelivered:{delivery_id}"
