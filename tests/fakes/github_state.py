"""In-memory GitHub for the fake REST server: repos, commits with full trees, PRs.

Tests build history with `FakeRepo.commit(...)` (each commit is a snapshot of
every file) and open pull requests between branches; the server derives what
GitHub would answer from that (file lists with `patch`, compare status from
the commit graph, contents at any ref). The diff text is made here with
difflib, independently of the product's own diff code, so the two can be
checked against each other.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1000)


def next_id() -> int:
    return next(_ids)


def is_binary(content: bytes) -> bool:
    if b"\0" in content[:8000]:
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def github_patch(old: bytes, new: bytes) -> tuple[str, int, int]:
    """GitHub's `patch` for a text file: hunks only (no ---/+++), 3 lines of context."""
    old_lines = old.decode().splitlines()
    new_lines = new.decode().splitlines()
    lines = list(difflib.unified_diff(old_lines, new_lines, n=3, lineterm=""))[2:]
    additions = sum(1 for line in lines if line.startswith("+"))
    deletions = sum(1 for line in lines if line.startswith("-"))
    return "\n".join(lines), additions, deletions


@dataclass
class FakeCommit:
    sha: str
    parents: list[str]
    tree: dict[str, bytes]
    modes: dict[str, str]
    renames: dict[str, str]  # old path -> new path, recorded when the commit moved a file
    message: str


@dataclass
class FakePull:
    number: int
    base_ref: str
    head_ref: str
    base_sha: str
    head_sha: str
    title: str = "A change"
    body: str = ""
    user: str = "octocat"
    author_association: str = "MEMBER"  # CONTRIBUTOR, NONE ...: an outside author
    state: str = "open"
    draft: bool = False
    merged: bool = False
    id: int = field(default_factory=next_id)


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    installation_id: int | None
    default_branch: str = "main"
    private: bool = True
    commits: dict[str, FakeCommit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, FakePull] = field(default_factory=dict)
    # GitHub leaves `patch` out of a file whose diff is too large; tests set the threshold.
    no_patch_over_lines: int | None = None
    no_patch_paths: set[str] = field(default_factory=set)
    _entries: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    # --- building history ------------------------------------------------------
    def commit(
        self,
        changes: dict[str, bytes | str | None] | None = None,
        *,
        parent: str | None = None,
        parents: list[str] | None = None,
        branch: str | None = None,
        renames: dict[str, str] | None = None,
        modes: dict[str, str] | None = None,
        message: str = "commit",
    ) -> str:
        """A new commit: parent's tree with `renames` then `changes` (None deletes) applied."""
        if parents is None:
            if parent is None and branch is not None and branch in self.branches:
                parent = self.branches[branch]
            parents = [parent] if parent is not None else []
        base = self.commits[parents[0]] if parents else None
        tree = dict(base.tree) if base else {}
        mode_map = dict(base.modes) if base else {}
        for old, new in (renames or {}).items():
            tree[new] = tree.pop(old)
            if old in mode_map:
                mode_map[new] = mode_map.pop(old)
        for path, content in (changes or {}).items():
            if content is None:
                tree.pop(path, None)
                mode_map.pop(path, None)
            else:
                tree[path] = content.encode() if isinstance(content, str) else content
        mode_map.update(modes or {})
        seed = f"{self.full_name}:{next_id()}:{message}".encode()
        sha = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        self.commits[sha] = FakeCommit(sha, parents, tree, mode_map, dict(renames or {}), message)
        if branch is not None:
            self.branches[branch] = sha
        return sha

    def open_pull(self, number: int, *, base: str, head: str, **fields: Any) -> FakePull:
        pull = FakePull(
            number=number,
            base_ref=base,
            head_ref=head,
            base_sha=self.branches[base],
            head_sha=self.branches[head],
            **fields,
        )
        self.pulls[number] = pull
        return pull

    def push(self, pull_number: int, sha: str) -> None:
        """Move a PR's head (a normal push or a force-push, depending on `sha`'s parents)."""
        pull = self.pulls[pull_number]
        pull.head_sha = sha
        self.branches[pull.head_ref] = sha

    # --- what GitHub derives -----------------------------------------------------
    def base_of(self, pull: FakePull) -> str:
        """The PR's base commit: the base branch's tip (GitHub follows the branch)."""
        return self.branches.get(pull.base_ref, pull.base_sha)

    def resolve(self, ref: str) -> str | None:
        if ref in self.commits:
            return ref
        if ref in self.branches:
            return self.branches[ref]
        matches = [sha for sha in self.commits if len(ref) >= 7 and sha.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def ancestors(self, sha: str) -> list[str]:
        """`sha` and every commit reachable from it, nearest first."""
        seen: dict[str, None] = {}
        queue = deque([sha])
        while queue:
            current = queue.popleft()
            if current in seen:
                continue
            seen[current] = None
            queue.extend(self.commits[current].parents)
        return list(seen)

    def merge_base(self, base: str, head: str) -> str | None:
        base_side = set(self.ancestors(base))
        return next((sha for sha in self.ancestors(head) if sha in base_side), None)

    def compare_status(self, base: str, head: str) -> tuple[str, int, int]:
        if base == head:
            return "identical", 0, 0
        head_side = self.ancestors(head)
        base_side = self.ancestors(base)
        merge_base = self.merge_base(base, head)
        ahead = head_side.index(merge_base) if merge_base in head_side else len(head_side)
        behind = base_side.index(merge_base) if merge_base in base_side else len(base_side)
        if merge_base == base:
            return "ahead", ahead, 0
        if merge_base == head:
            return "behind", 0, behind
        return "diverged", ahead, behind

    def diff_entries(self, base: str, head: str) -> list[dict[str, Any]]:
        """GitHub's file entries for base...head (three-dot: from the merge base)."""
        key = (base, head, frozenset(self.no_patch_paths), self.no_patch_over_lines)
        if key not in self._entries:  # commits never change, so neither do their diffs
            self._entries[key] = self._diff_entries(base, head)
        return self._entries[key]

    def _diff_entries(self, base: str, head: str) -> list[dict[str, Any]]:
        merge_base = self.merge_base(base, head)
        old = self.commits[merge_base] if merge_base else None
        new = self.commits[head]
        old_tree = old.tree if old else {}
        renamed: dict[str, str] = {}
        for sha in self.ancestors(head):
            if sha == merge_base:
                break
            for moved_from, moved_to in self.commits[sha].renames.items():
                if moved_from in old_tree and moved_to in new.tree and moved_from not in new.tree:
                    renamed[moved_to] = moved_from
        entries: list[dict[str, Any]] = []
        for path in sorted(set(old_tree) | set(new.tree)):
            if path in renamed.values() and path not in new.tree:
                continue
            before_path = renamed.get(path, path)
            before = old_tree.get(before_path)
            after = new.tree.get(path)
            old_mode = old.modes.get(before_path, "100644") if old else "100644"
            new_mode = new.modes.get(path, "100644")
            if before == after and path not in renamed and old_mode == new_mode:
                continue
            entries.append(self._entry(path, before_path, before, after, new_mode != old_mode))
        return entries

    def _entry(
        self, path: str, before_path: str, before: bytes | None, after: bytes | None, mode: bool
    ) -> dict[str, Any]:
        status = "modified"
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        elif before_path != path:
            status = "renamed"
        elif before == after and mode:
            status = "changed"
        content = after if after is not None else (before or b"")
        blob = hashlib.sha1(b"blob " + content, usedforsecurity=False).hexdigest()
        entry: dict[str, Any] = {
            "sha": blob,
            "filename": path,
            "status": status,
            "additions": 0,
            "deletions": 0,
            "changes": 0,
            "blob_url": f"https://github.com/{self.full_name}/blob/x/{path}",
            "raw_url": f"https://github.com/{self.full_name}/raw/x/{path}",
            "contents_url": f"https://api.github.com/repos/{self.full_name}/contents/{path}",
        }
        if status == "renamed":
            entry["previous_filename"] = before_path
        old_bytes, new_bytes = before or b"", after or b""
        if is_binary(old_bytes) or is_binary(new_bytes) or old_bytes == new_bytes:
            return entry  # binaries, pure renames and mode changes carry no patch
        patch, additions, deletions = github_patch(old_bytes, new_bytes)
        entry.update(additions=additions, deletions=deletions, changes=additions + deletions)
        too_long = self.no_patch_over_lines is not None and (
            additions + deletions > self.no_patch_over_lines
        )
        if not too_long and path not in self.no_patch_paths:
            entry["patch"] = patch
        return entry
