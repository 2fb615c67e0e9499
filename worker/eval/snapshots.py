"""A case's repository snapshot: fetched once, verified by sha256, unpacked safely, cached.

The archive is untrusted input (any registry upload), so unpacking refuses
what could write outside the destination: absolute names, `..` components,
links pointing outside, device files; and it stops at a size cap (archive
bytes, unpacked bytes, member count). The digest is checked before anything
is unpacked. The unpacked tree lives at
`$XDG_CACHE_HOME/kimi-review/snapshots/<sha256>-strip<N>` (else
`~/.cache/...`), moved into place only when complete, so a half-unpacked
tree is never used; it is a cache, and may be deleted at any time.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

import httpx

from worker.eval.dataset import Snapshot
from worker.eval.unpack import SnapshotRefused, unpack_tar, unpack_zip

MAX_ARCHIVE_BYTES: Final = 256 * 1024 * 1024
_CHUNK: Final = 1 << 16

__all__ = ["Limits", "SnapshotRefused", "cache_root", "fetch_snapshot"]


@dataclass(frozen=True, slots=True)
class Limits:
    archive_bytes: int = MAX_ARCHIVE_BYTES
    unpacked_bytes: int = 1024 * 1024 * 1024
    members: int = 100_000


def cache_root(environ: Mapping[str, str]) -> Path:
    """`$XDG_CACHE_HOME/kimi-review/snapshots`, else `~/.cache/kimi-review/snapshots`."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kimi-review" / "snapshots"


async def _download(http: httpx.AsyncClient, snapshot: Snapshot, target: Path, cap: int) -> None:
    digest = hashlib.sha256()
    size = 0
    async with http.stream("GET", snapshot.url) as response:
        if response.status_code != httpx.codes.OK:
            raise SnapshotRefused(f"GET {snapshot.url} answered {response.status_code}")
        with target.open("wb") as out:
            async for block in response.aiter_bytes(_CHUNK):
                size += len(block)
                if size > cap:
                    raise SnapshotRefused(f"archive larger than {cap:,} bytes")
                digest.update(block)
                out.write(block)
    if digest.hexdigest() != snapshot.sha256:
        raise SnapshotRefused(
            f"sha256 mismatch: expected {snapshot.sha256}, got {digest.hexdigest()}"
        )


def _unpack(archive: Path, destination: Path, strip: int, limits: Limits) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            unpack_zip(zipped, destination, strip, limits.unpacked_bytes, limits.members)
        return
    try:
        with tarfile.open(archive) as tar:
            unpack_tar(tar, destination, strip, limits.unpacked_bytes, limits.members)
    except tarfile.TarError as exc:
        raise SnapshotRefused(f"not a readable tar or zip archive ({exc})") from None


async def fetch_snapshot(
    snapshot: Snapshot, *, http: httpx.AsyncClient, cache: Path, limits: Limits | None = None
) -> Path:
    """The unpacked snapshot's root, fetched and unpacked on first use.

    Raises SnapshotRefused (bad digest, unsafe or oversized archive) or
    httpx.HTTPError (the fetch failed); the caller runs the case without it.
    """
    limits = limits or Limits()
    final = cache / f"{snapshot.sha256}-strip{snapshot.strip}"
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once per snapshot, instant
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache))
    try:
        archive = work / ("archive" + "".join(PurePosixPath(snapshot.url).suffixes[-2:]))
        await _download(http, snapshot, archive, limits.archive_bytes)
        tree = work / "tree"
        tree.mkdir()
        # Off the event loop: other cases' model calls go on while a big archive unpacks.
        await asyncio.to_thread(_unpack, archive, tree, snapshot.strip, limits)
        try:
            os.replace(tree, final)
        except OSError:
            if not final.is_dir():  # another run finished the same snapshot first: fine
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
