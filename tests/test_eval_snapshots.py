"""Snapshots: fetched from a local HTTP server, verified, unpacked (strip), refused if unsafe."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from tests.support.eval_world import file_server
from worker.eval.dataset import Snapshot
from worker.eval.snapshots import Limits, SnapshotRefused, cache_root, fetch_snapshot


def _tar(path: Path, members: Sequence[tarfile.TarInfo | tuple[str, bytes]]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "served"
    folder.mkdir()
    with file_server(folder) as base:
        yield folder, base


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _fetch(
    served: tuple[Path, str], http: httpx.AsyncClient, name: str, digest: str, **limits: int
) -> Path:
    folder, base = served
    snapshot = Snapshot(f"{base}/{name}", digest, strip=1)
    cache = folder.parent / "cache"
    return await fetch_snapshot(snapshot, http=http, cache=cache, limits=Limits(**limits))


async def test_a_good_archive_is_unpacked_stripped_and_cached(
    served: tuple[Path, str], http: httpx.AsyncClient
) -> None:
    digest = _tar(
        served[0] / "p.tar.gz", [("p-1/src/a.py", b"x = 1\n"), _link("p-1/b", "src/a.py")]
    )
    root = await _fetch(served, http, "p.tar.gz", digest)
    assert (root / "src" / "a.py").read_text() == "x = 1\n"
    assert (root / "b").read_text() == "x = 1\n"
    (served[0] / "p.tar.gz").unlink()  # a second use needs no fetch
    assert await _fetch(served, http, "p.tar.gz", digest) == root


async def test_a_zip_archive_is_unpacked(served: tuple[Path, str], http: httpx.AsyncClient) -> None:
    path = served[0] / "p.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("p-1/m.py", "y = 2\n")
    root = await _fetch(served, http, "p.zip", hashlib.sha256(path.read_bytes()).hexdigest())
    assert (root / "m.py").read_text() == "y = 2\n"


async def test_a_bad_sha256_is_refused_and_nothing_is_kept(
    served: tuple[Path, str], http: httpx.AsyncClient
) -> None:
    _tar(served[0] / "p.tar.gz", [("p-1/a.py", b"x\n")])
    with pytest.raises(SnapshotRefused, match="sha256 mismatch"):
        await _fetch(served, http, "p.tar.gz", "0" * 64)
    assert list((served[0].parent / "cache").iterdir()) == []


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (("p-1/../../evil.py", b"x"), "climbs out"),
        (("/etc/evil.py", b"x"), "absolute path"),
        (_link("p-1/out", "../../outside"), "points outside"),
        (_link("p-1/abs", "/etc/passwd"), "points outside"),
    ],
)
async def test_an_archive_escaping_its_root_is_refused(
    served: tuple[Path, str],
    http: httpx.AsyncClient,
    member: tarfile.TarInfo | tuple[str, bytes],
    why: str,
) -> None:
    digest = _tar(served[0] / "p.tar.gz", [("p-1/ok.py", b"x"), member])
    with pytest.raises(SnapshotRefused, match=why):
        await _fetch(served, http, "p.tar.gz", digest)
    assert not (served[0].parent / "evil.py").exists()
    assert list((served[0].parent / "cache").iterdir()) == []


async def test_a_file_written_through_an_archive_symlink_is_refused(
    served: tuple[Path, str], http: httpx.AsyncClient
) -> None:
    """`a -> .` then `a/b -> ..` is inside by name and outside in fact."""
    members = [_link("p-1/a", "."), _link("p-1/a/b", "..")]
    digest = _tar(served[0] / "p.tar.gz", members)
    with pytest.raises(SnapshotRefused, match="under a symlink"):
        await _fetch(served, http, "p.tar.gz", digest)


async def test_an_archive_over_the_size_cap_is_refused(
    served: tuple[Path, str], http: httpx.AsyncClient
) -> None:
    digest = _tar(served[0] / "p.tar.gz", [("p-1/big.bin", b"\0" * 5000)])
    with pytest.raises(SnapshotRefused, match="size cap"):
        await _fetch(served, http, "p.tar.gz", digest, unpacked_bytes=4000)
    with pytest.raises(SnapshotRefused, match="larger than"):
        await _fetch(served, http, "p.tar.gz", digest, archive_bytes=10)


def test_cache_root_follows_xdg_cache_home() -> None:
    assert cache_root({"XDG_CACHE_HOME": "/c"}) == Path("/c/kimi-review/snapshots")
    assert cache_root({}).parts[-3:] == (".cache", "kimi-review", "snapshots")
