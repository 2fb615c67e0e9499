"""What the GitHub read layer returns: our own Structs, decoded from GitHub's JSON.

Only the fields the review uses are declared; unknown fields are ignored
(GitHub adds fields over time). Field names follow ours, not GitHub's
(`path`, not `filename`), so the rest of the worker never sees GitHub's shapes.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from worker.diff.model import FileStatus

CompareStatus = Literal["ahead", "behind", "diverged", "identical"]
BlobKind = Literal["file", "dir", "symlink", "submodule"]


class _Ref(msgspec.Struct):
    sha: str
    ref: str = ""


class _User(msgspec.Struct):
    login: str = ""


class _GitHubPull(msgspec.Struct):
    number: int
    state: str
    head: _Ref
    base: _Ref
    title: str = ""
    body: str | None = None
    user: _User | None = None
    draft: bool = False
    merged: bool = False
    changed_files: int = 0
    additions: int = 0
    deletions: int = 0
    # Missing (an older GitHub): counted as a stranger, the safe side for spend limits.
    author_association: str = "NONE"


class _GitHubFile(msgspec.Struct):
    filename: str
    status: FileStatus
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    patch: str | None = None
    previous_filename: str | None = None
    sha: str | None = None


class _Commit(msgspec.Struct):
    sha: str


class _GitHubCompare(msgspec.Struct):
    status: CompareStatus
    merge_base_commit: _Commit | None = None
    ahead_by: int = 0
    behind_by: int = 0
    total_commits: int = 0
    files: list[_GitHubFile] = msgspec.field(default_factory=list)


class PullRequestInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A pull request as the worker needs it."""

    number: int
    state: str  # "open" or "closed"
    draft: bool
    merged: bool
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    title: str
    body: str
    author: str
    changed_files: int
    additions: int
    deletions: int
    author_association: str = "NONE"  # OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE ...

    @classmethod
    def from_github(cls, data: dict[str, Any]) -> PullRequestInfo:
        pull = msgspec.convert(data, _GitHubPull)
        return cls(
            number=pull.number,
            state=pull.state,
            draft=pull.draft,
            merged=pull.merged,
            head_sha=pull.head.sha,
            head_ref=pull.head.ref,
            base_sha=pull.base.sha,
            base_ref=pull.base.ref,
            title=pull.title,
            body=pull.body or "",
            author=pull.user.login if pull.user else "",
            changed_files=pull.changed_files,
            additions=pull.additions,
            deletions=pull.deletions,
            author_association=pull.author_association,
        )


class DiffEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One file of a PR's file list or of a comparison, as GitHub reported it."""

    path: str
    status: FileStatus
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    patch: str | None = None  # absent for binaries and for diffs GitHub finds too large
    previous_path: str | None = None
    sha: str | None = None

    @classmethod
    def from_github(cls, data: dict[str, Any]) -> DiffEntry:
        return cls.from_file(msgspec.convert(data, _GitHubFile))

    @classmethod
    def from_file(cls, item: _GitHubFile) -> DiffEntry:
        return cls(
            path=item.filename,
            status=item.status,
            additions=item.additions,
            deletions=item.deletions,
            changes=item.changes,
            patch=item.patch,
            previous_path=item.previous_filename,
            sha=item.sha,
        )


class CompareResult(msgspec.Struct, frozen=True, kw_only=True):
    """`compare/{base}...{head}`: how head relates to base and what changed."""

    status: CompareStatus
    ahead_by: int
    behind_by: int
    total_commits: int
    files: list[DiffEntry]
    merge_base_sha: str | None = None

    @classmethod
    def from_github(cls, data: dict[str, Any]) -> CompareResult:
        found = msgspec.convert(data, _GitHubCompare)
        return cls(
            status=found.status,
            ahead_by=found.ahead_by,
            behind_by=found.behind_by,
            total_commits=found.total_commits,
            files=[DiffEntry.from_file(item) for item in found.files],
            merge_base_sha=found.merge_base_commit.sha if found.merge_base_commit else None,
        )


class FileBlob(msgspec.Struct, frozen=True, kw_only=True):
    """A path at a ref. `content` is None for non-files and for files over the size limit."""

    path: str
    ref: str
    kind: BlobKind
    size: int
    content: bytes | None
