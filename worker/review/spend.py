"""Spend limits: which pull requests wait for a maintainer before any token is spent.

Anyone can open a pull request on a public repository, and every one is
reviewed on the operator's key. A pull request whose author is not an OWNER,
MEMBER or COLLABORATOR (GitHub's `author_association`,
https://docs.github.com/graphql/reference/enums#commentauthorassociation)
and whose review would send more than `REVIEW_UNTRUSTED_MAX_LINES` changed
lines waits until a maintainer comments `/review`. The count is of the
review's scope, so a small push after a review goes ahead, while a
force-push that makes the next review a full one waits again.

The other limit, the token ceiling of one review, is enforced per model
call (`worker.quota.ReviewCeiling`); this module only decides the wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from worker.diff.model import ChangedFile

TRUSTED_ASSOCIATIONS: Final = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


def changed_lines(files: Iterable[ChangedFile]) -> int:
    """Lines added plus lines removed over `files`, as GitHub counts them."""
    return sum(item.additions + item.deletions for item in files)


def waits_for_maintainer(author_association: str, lines: int, limit: int, *, asked: bool) -> bool:
    """True when an automatic review of `lines` changed lines must wait for `/review`.

    `limit` 0 means no limit; `asked`: a maintainer's command, which never waits.
    """
    if asked or limit <= 0 or lines <= limit:
        return False
    return author_association.upper() not in TRUSTED_ASSOCIATIONS
