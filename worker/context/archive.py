"""A revision's source files from a tar archive, held in memory (no checkout, no disk).

GitHub serves a commit as a tarball (`GET /repos/{owner}/{repo}/tarball/{sha}`)
whose paths start with one `owner-repo-sha/` directory: `ArchiveSource.from_tar`
reads such a stream once, strips that first component and keeps only what the
index would read anyway: regular files with a source extension, under the byte
limits. Files it leaves out are still listed, and read as None, so the index
counts them in its "index partial" note. Links, devices and paths with `..`
are never files here; the number of members is bounded, so a hostile archive
costs bounded CPU and memory.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable
from typing import IO, Final

from worker.context.languages import is_source
from worker.context.sources import (
    DEFAULT_MAX_FILE_BYTES,
    SourceError,
    decode_source,
    in_skipped_directory,
)

DEFAULT_MAX_TOTAL_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_MEMBERS: Final = 300_000


class ArchiveSource:
    """Source files of one archive, in memory; `None` for those left out."""

    def __init__(self, files: dict[str, str | None]) -> None:
        self._files = files

    def list_files(self) -> Iterable[str]:
        return sorted(self._files)

    def read(self, path: str) -> str | None:
        return self._files.get(path)

    @classmethod
    def from_tar(
        cls,
        stream: IO[bytes],
        *,
        strip_components: int = 1,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_members: int = DEFAULT_MAX_MEMBERS,
    ) -> ArchiveSource:
        """Read a (compressed or plain) tar stream once, front to back."""
        files: dict[str, str | None] = {}
        total = 0
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as archive:
                for count, member in enumerate(archive):
                    if count >= max_members:
                        raise SourceError(f"archive has over {max_members} members")
                    path = _stripped(member.name, strip_components)
                    if path is None or not member.isfile() or not is_source(path):
                        continue
                    if in_skipped_directory(path):
                        continue
                    if member.size > max_file_bytes or total + member.size > max_total_bytes:
                        files[path] = None  # listed, so the index counts it as skipped
                        continue
                    extracted = archive.extractfile(member)
                    data = extracted.read() if extracted is not None else b""
                    total += len(data)
                    files[path] = decode_source(data)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceError(f"unreadable archive: {exc}") from exc
        return cls(files)


def _stripped(name: str, components: int) -> str | None:
    """The member's path without its first `components` directories; None if unsafe."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if len(parts) <= components or ".." in parts or name.startswith("/"):
        return None
    return "/".join(parts[components:])
