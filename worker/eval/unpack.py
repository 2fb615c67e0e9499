"""Unpacking an untrusted tar or zip archive under one directory, or refusing it. Pure file I/O.

Every member's name is checked before anything of it is written: no
absolute path, no `..`, no link whose target leaves the destination, no
device or FIFO. The first `strip` path components are dropped (an sdist's
`pkg-1.0/`, npm's `package/`); members with no component left are skipped.
A total size or member count over its cap refuses the whole archive.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath


class SnapshotRefused(Exception):
    """The snapshot cannot be used: bad digest, unsafe or oversized archive, failed fetch."""


def safe_relative(name: str, strip: int) -> PurePosixPath | None:
    """The member's path under the destination after `strip`; None when nothing is left.

    Raises SnapshotRefused for a name that could escape the destination.
    """
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise SnapshotRefused(f"archive member {name!r} has an absolute path")
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if ".." in parts:
        raise SnapshotRefused(f"archive member {name!r} climbs out with '..'")
    kept = parts[strip:]
    return PurePosixPath(*kept) if kept else None


def _link_inside(member_path: PurePosixPath, target: str) -> bool:
    """Whether a symlink at `member_path` pointing at `target` stays under the root."""
    if target.startswith("/") or "\\" in target:
        return False
    depth = len(member_path.parts) - 1  # the link's directory, relative to the root
    for part in PurePosixPath(target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part != ".":
            depth += 1
    return True


class _Budget:
    def __init__(self, max_bytes: int, max_members: int) -> None:
        self.bytes_left = max_bytes
        self.members_left = max_members

    def take(self, size: int) -> None:
        self.members_left -= 1
        self.bytes_left -= size
        if self.members_left < 0:
            raise SnapshotRefused("archive has too many members")
        if self.bytes_left < 0:
            raise SnapshotRefused("archive unpacks to more than the size cap")


def _refuse_paths_through_links(plans: list[tuple[tarfile.TarInfo, PurePosixPath]]) -> None:
    """A member under a path the archive makes a symlink could land anywhere: refuse it.

    (`a -> .` then `a/b -> ..` is inside by name and outside in fact.)
    """
    links = {relative for member, relative in plans if member.issym()}
    for member, relative in plans:
        for parent in relative.parents:
            if parent in links:
                raise SnapshotRefused(f"archive member {member.name!r} lies under a symlink")


def unpack_tar(
    tar: tarfile.TarFile, destination: Path, strip: int, max_bytes: int, max_members: int
) -> None:
    budget = _Budget(max_bytes, max_members)
    members = tar.getmembers()
    plans: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
    for member in members:  # check every name before writing anything
        relative = safe_relative(member.name, strip)
        if relative is None:
            continue
        if member.issym() and not _link_inside(relative, member.linkname):
            raise SnapshotRefused(f"symlink {member.name!r} points outside the archive")
        if member.islnk() and safe_relative(member.linkname, strip) is None:
            raise SnapshotRefused(f"hard link {member.name!r} points outside the archive")
        if member.ischr() or member.isblk() or member.isfifo():
            raise SnapshotRefused(f"archive member {member.name!r} is a device or FIFO")
        budget.take(member.size if member.isfile() else 0)
        plans.append((member, relative))
    _refuse_paths_through_links(plans)
    for member, relative in plans:
        target = destination / relative
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if member.issym():
            target.unlink(missing_ok=True)
            target.symlink_to(member.linkname)
        elif member.islnk():
            source = safe_relative(member.linkname, strip)
            if source is not None and (destination / source).is_file():
                shutil.copyfile(destination / source, target)
        elif member.isfile():
            extracted = tar.extractfile(member)
            if extracted is not None:
                with extracted, target.open("wb") as out:
                    shutil.copyfileobj(extracted, out)


def unpack_zip(
    zipped: zipfile.ZipFile, destination: Path, strip: int, max_bytes: int, max_members: int
) -> None:
    budget = _Budget(max_bytes, max_members)
    plans: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    for info in zipped.infolist():
        relative = safe_relative(info.filename, strip)
        if relative is None:
            continue
        budget.take(info.file_size)
        plans.append((info, relative))
    for info, relative in plans:
        target = destination / relative
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # A zip's symlinks (Unix mode bits) are written as plain files holding the target.
        with zipped.open(info) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
