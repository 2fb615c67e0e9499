"""Where the head revision's files come from: a directory, a git revision, a dict."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from tests.support.git import git
from worker.context import (
    ArchiveSource,
    DirectorySource,
    GitRevisionSource,
    MappingSource,
    RepoIndex,
    SourceError,
)


def _write(root: Path, path: str, content: str | bytes) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")


def test_directory_source_skips_tooling_binaries_huge_files_and_escaping_links(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    _write(root, "pkg/app.py", "def main():\n    return 1\n")
    _write(root, ".git/config", "[core]\n")
    _write(root, "node_modules/left-pad/index.js", "module.exports = 1\n")
    _write(root, "pkg/logo.py", b"\x89PNG\0\0binary")
    _write(root, "pkg/big.py", "x = 1\n" * 1000)
    _write(outside, "secret.py", "TOKEN = 'not for the model'\n")
    os.symlink(outside / "secret.py", root / "pkg" / "link.py")
    os.symlink(root / "pkg" / "app.py", root / "pkg" / "alias.py")
    source = DirectorySource(root, max_file_bytes=1000)
    listed = set(source.list_files())
    assert "pkg/app.py" in listed
    assert not any(p.startswith((".git/", "node_modules/")) for p in listed)
    assert source.read("pkg/app.py") == "def main():\n    return 1\n"
    assert source.read("pkg/logo.py") is None  # binary
    assert source.read("pkg/big.py") is None  # over max_file_bytes
    assert source.read("pkg/link.py") is None  # symlink escaping root
    assert source.read("../outside/secret.py") is None
    assert source.read("pkg/alias.py") == "def main():\n    return 1\n"  # link inside root
    assert source.read("node_modules/left-pad/index.js") is None


def test_git_revision_source_reads_the_commit_not_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    _write(repo, "src/a.py", "def head():\n    return 'committed'\n")
    _write(repo, "src/weird name\tx.py", "y = 2\n")
    _write(repo, "vendor/dep.py", "z = 3\n")
    os.symlink("/etc/hostname", repo / "src" / "link.py")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    rev = git(repo, "rev-parse", "HEAD").strip()
    _write(repo, "src/a.py", "def head():\n    return 'edited, not committed'\n")
    source = GitRevisionSource(repo, rev, max_file_bytes=10_000)
    assert list(source.list_files()) == ["src/a.py", "src/weird name\tx.py"]
    assert source.read("src/a.py") == "def head():\n    return 'committed'\n"
    assert source.read("src/weird name\tx.py") == "y = 2\n"
    assert source.read("src/link.py") is None
    assert source.read("missing.py") is None
    index = RepoIndex(source)
    assert [d.name for d in index.definitions("head")] == ["head"]


def test_git_revision_source_reads_many_files_through_one_process_and_closes_it(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    contents = {f"m/f{i}.py": f"def f{i}():\n    return {i}\n" * (i + 1) for i in range(30)}
    contents["m/empty.py"] = ""
    for path, content in contents.items():
        _write(repo, path, content)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    with GitRevisionSource(repo, "HEAD") as source:
        assert {path: source.read(path) for path in source.list_files()} == contents
    assert source.read("m/f3.py") == contents["m/f3.py"]  # a closed source reopens its reader
    source.close()


def test_git_revision_source_names_an_unknown_revision(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(SourceError, match="ls-tree"):
        list(GitRevisionSource(tmp_path, "0" * 40).list_files())


def test_mapping_source_lists_sorted_and_reads_what_it_holds() -> None:
    source = MappingSource({"b.py": "b = 1\n", "a.py": "a = 1\n"})
    assert list(source.list_files()) == ["a.py", "b.py"]
    assert source.read("a.py") == "a = 1\n"
    assert source.read("c.py") is None


def _tarball(entries: list[tuple[str, bytes | None, bytes]]) -> io.BytesIO:
    """A gzipped tar like GitHub's: (name, content or None for a symlink, link target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content, target in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.linkname = tarfile.SYMTYPE, target.decode()
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    buffer.seek(0)
    return buffer


def test_archive_source_keeps_source_files_of_a_github_tarball_in_memory() -> None:
    stream = _tarball(
        [
            ("octo-repo-abc123/pkg/app.py", b"def main():\n    return 1\n", b""),
            ("octo-repo-abc123/pkg/big.py", b"x = 1\n" * 400, b""),
            ("octo-repo-abc123/README.md", b"# readme\n", b""),
            ("octo-repo-abc123/pkg/link.py", None, b"/etc/passwd"),
            ("octo-repo-abc123/../escape.py", b"y = 2\n", b""),
            ("octo-repo-abc123/node_modules/x/index.js", b"module.exports = 1\n", b""),
            ("octo-repo-abc123/pkg/blob.py", b"\0\0binary", b""),
        ]
    )
    source = ArchiveSource.from_tar(stream, max_file_bytes=1000)
    assert list(source.list_files()) == ["pkg/app.py", "pkg/big.py", "pkg/blob.py"]
    assert source.read("pkg/app.py") == "def main():\n    return 1\n"
    assert source.read("pkg/big.py") is None  # listed, so the index counts it as skipped
    assert source.read("pkg/blob.py") is None
    index = RepoIndex(source)
    assert (index.stats.files_indexed, index.stats.files_skipped) == (1, 2)


def test_archive_source_refuses_a_broken_or_oversized_archive() -> None:
    with pytest.raises(SourceError, match="unreadable archive"):
        ArchiveSource.from_tar(io.BytesIO(b"not a tar at all" * 100))
    stream = _tarball([(f"r/m{i}.py", b"x = 1\n", b"") for i in range(5)])
    with pytest.raises(SourceError, match="over 3 members"):
        ArchiveSource.from_tar(stream, max_members=3)
