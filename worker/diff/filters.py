"""Which changed files are sent to the model, and why the others are not.

Pure: decides from the path and the patch text alone. Every file left out
comes back as a `SkippedFile(path, reason)` so the summary can name it.
Tests and docs are never dropped (a peer's habit on large PRs we do not
copy). Checks run in this order, the first match giving the reason:

1. credentials: files that hold secrets by their nature (`*.pem`, `*.key`,
   `.env`, `.env.*`, `id_rsa`, ...), checked on the old path too, so a key
   renamed to `notes.txt` stays out; never overridable;
2. a reason the GitHub read layer already gave (`ChangedFile.skip_reason`);
3. repository config: `exclude` globs, then `include` globs (when given, a
   file must match one);
4. binary (by extension, a NUL byte in the patch, or no patch where content
   changed), lockfiles, vendored directories, generated code (by path or
   an "@generated" / "Code generated ... DO NOT EDIT" marker), minified code.

Globs are gitignore-like (worker/diff/globs.py, matched in linear time): a
pattern without "/" matches the file name at any depth, `**` crosses
directories, `*` and `?` do not cross "/".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from worker.diff.globs import Glob, compile_glob
from worker.diff.model import ChangedFile, SkippedFile

CREDENTIALS: Final = "credentials file (never sent to the model)"
EXCLUDED: Final = "excluded by repository config"
NOT_INCLUDED: Final = "not matched by the repository config's include patterns"
BINARY: Final = "binary file"
NO_DIFF: Final = "no text diff from GitHub (binary, empty or too large)"
LOCKFILE: Final = "lockfile"
VENDORED: Final = "vendored code"
GENERATED: Final = "generated code"
MINIFIED: Final = "minified code"

_CREDENTIAL_NAMES: Final = frozenset(
    {
        ".env",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "credentials.json",
        "client_secret.json",
        "service-account.json",
        ".netrc",
        "_netrc",
        ".pgpass",
        ".htpasswd",
        ".git-credentials",
        ".pypirc",
        ".dockercfg",
        "terraform.tfstate",
        "terraform.tfstate.backup",
    }
)
_CREDENTIAL_SUFFIXES: Final = (
    ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".ppk", ".tfvars",
)  # fmt: skip
_CREDENTIAL_PREFIXES: Final = (".env.", "client_secret_")

_LOCKFILES: Final = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "poetry.lock",
        "pdm.lock",
        "uv.lock",
        "pipfile.lock",
        "cargo.lock",
        "gemfile.lock",
        "composer.lock",
        "go.sum",
        "mix.lock",
        "pubspec.lock",
        "podfile.lock",
        "packages.lock.json",
        "flake.lock",
        "gradle.lockfile",
        "package.resolved",
        "conan.lock",
    }
)
_BINARY_SUFFIXES: Final = frozenset((
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff", ".psd", ".pdf",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".war", ".whl", ".egg", ".so",
    ".dll", ".dylib", ".exe", ".bin", ".o", ".a", ".lib", ".class", ".pyc", ".pyo", ".wasm",
    ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4", ".mov", ".avi", ".wav", ".flac",
    ".ogg", ".webm", ".sqlite", ".db", ".parquet", ".npy", ".npz", ".pkl", ".onnx", ".pt",
    ".h5",
))  # fmt: skip
_VENDORED: Final = re.compile(
    r"(?:^|/)(?:vendor|node_modules|bower_components|third[-_]?party|Pods|Carthage|\.yarn)/"
)
_GENERATED_PATH: Final = re.compile(
    r"(?:^|/)(?:__generated__|generated)/"
    r"|\.pb\.go$|_pb2(?:_grpc)?\.pyi?$|\.pb\.(?:h|cc)$|\.g\.dart$|\.freezed\.dart$"
    r"|\.generated\.\w+$|\.designer\.cs$|_generated\.go$"
)
# Markers generators write at the top of a file (Go's convention is
# https://go.dev/s/generatedcode; "@generated" is Facebook's and Rust's).
_GENERATED_MARKER: Final = re.compile(
    r"^\+.{0,10}(?:@generated\b|Code generated .* DO NOT EDIT\.)", re.MULTILINE
)
_MINIFIED_PATH: Final = re.compile(r"[.-]min\.(?:js|css|mjs)$|\.(?:js|css)\.map$")
_MINIFIED_EXT: Final = re.compile(r"\.(?:js|mjs|cjs|css)$")
MINIFIED_LINE_CHARS: Final = 1000  # a JS/CSS line this long, on average, is minified
_MARKER_HEAD_CHARS: Final = 2000  # generated markers live in a file's first lines


class FileSelection(msgspec.Struct, frozen=True):
    kept: list[ChangedFile]
    skipped: list[SkippedFile]


def select_files(
    files: Iterable[ChangedFile],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> FileSelection:
    """Split a PR's files into those sent to the model and those skipped (with reasons)."""
    include_globs = [compile_glob(pattern) for pattern in include]
    exclude_globs = [compile_glob(pattern) for pattern in exclude]
    kept: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    for changed in files:
        reason = skip_reason(changed, include_globs, exclude_globs)
        if reason is None:
            kept.append(changed)
        else:
            skipped.append(SkippedFile(changed.path, reason))
    return FileSelection(kept, skipped)


def skip_reason(
    changed: ChangedFile,
    include: Sequence[Glob] = (),
    exclude: Sequence[Glob] = (),
) -> str | None:
    """Why `changed` is not sent to the model, or None when it is."""
    path = changed.path
    if is_credentials_file(path) or (
        changed.previous_path is not None and is_credentials_file(changed.previous_path)
    ):
        return CREDENTIALS
    if changed.skip_reason:
        return changed.skip_reason
    if any(pattern.match(path) for pattern in exclude):
        return EXCLUDED
    if include and not any(pattern.match(path) for pattern in include):
        return NOT_INCLUDED
    name = path.rsplit("/", 1)[-1].lower()
    patch = changed.patch or ""
    if _suffix(name) in _BINARY_SUFFIXES or "\0" in patch:
        return BINARY
    # GitHub sends no `patch` for binary files (with 0 additions and deletions)
    # and for diffs too large to show; a rename or mode change has none either.
    if not patch and (
        changed.additions or changed.deletions or changed.status in ("added", "modified", "removed")
    ):
        return NO_DIFF
    if name in _LOCKFILES:
        return LOCKFILE
    if _VENDORED.search(path):
        return VENDORED
    if _GENERATED_PATH.search(path) or _has_generated_marker(patch):
        return GENERATED
    if _MINIFIED_PATH.search(name) or (_MINIFIED_EXT.search(name) and _looks_minified(patch)):
        return MINIFIED
    return None


def is_credentials_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return (
        name in _CREDENTIAL_NAMES
        or name.endswith(_CREDENTIAL_SUFFIXES)
        or name.startswith(_CREDENTIAL_PREFIXES)
    )


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _has_generated_marker(patch: str) -> bool:
    """A generator's marker among the added lines at the top of the file."""
    at_top = patch.startswith(("@@ -0,0 +1", "@@ -1,", "@@ -1 "))
    return at_top and _GENERATED_MARKER.search(patch, 0, _MARKER_HEAD_CHARS) is not None


def _looks_minified(patch: str) -> bool:
    added = [line for line in patch.split("\n") if line.startswith("+")]
    return bool(added) and sum(map(len, added)) / len(added) >= MINIFIED_LINE_CHARS
