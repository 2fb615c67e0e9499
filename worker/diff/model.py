"""Types shared by the diff engine's stages: fetch -> parse -> filter -> chunk.

`ChangedFile` is what the GitHub read layer hands to the pure stages (one per
file of the PR, GitHub's `patch` text or one rebuilt from both versions).
`AnchorLookup` is what finding placement needs from the anchor map.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

Side = Literal["LEFT", "RIGHT"]
FileStatus = Literal["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]


class ChangedFile(msgspec.Struct, frozen=True, kw_only=True):
    """One file of a pull request as the diff engine sees it."""

    path: str
    status: FileStatus
    patch: str | None  # hunks only ("@@ -a,b +c,d @@" ...), as GitHub's `patch` field
    previous_path: str | None = None  # renames and copies
    additions: int = 0
    deletions: int = 0
    sha: str | None = None  # blob SHA of the new version
    skip_reason: str | None = None  # set by the read layer when no patch could be had


class SkippedFile(msgspec.Struct, frozen=True):
    """A file (or part of one) not sent to the model, named in the summary."""

    path: str
    reason: str


class AnchorLookup(Protocol):
    """Where a review comment may land (implemented by worker.diff.anchors)."""

    def hunk_of(self, path: str, side: Side, line: int) -> int | None:
        """Index of the hunk in which `line` is commentable on `side`, else None."""
        ...

    def nearest(self, path: str, side: Side, line: int) -> int | None:
        """The commentable line of the same hunk closest to `line`, else None."""
        ...
