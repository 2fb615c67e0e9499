"""Check the development-set cases under bench/devset/.

    python3 bench/devset/check_cases.py [--fetch] [CASE_ID ...]

Without --fetch (no network): every ``<case>/case.toml`` parses and has the fields listed
in README.md (next to this script), the case id has the required
form, the licence is a permissive SPDX id, ``change.diff`` parses as a git-style unified
diff, and each expected ``path:line`` lies in a hunk of the diff for that path (on an
added line, or at least inside the hunk's new-file range).

With --fetch: also downloads the head and base archives (PyPI sdists ``.tar.gz``/``.zip``,
npm ``.tgz``) into a cache (``$XDG_CACHE_HOME/kimi-review/devset`` or
``~/.cache/kimi-review/devset``), verifies their sha256, applies ``change.diff`` to the base
archive's files and checks the result is byte-identical to the head archive's files, and
that each expected line exists in the head file.

Standard library only. Exit status 0 when every case passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEVSET_DIR = Path(__file__).resolve().parent
CASE_ID_RE = re.compile(r"^(pypi|npm)-[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGES = {"python", "javascript", "typescript", "rust", "c", "go", "java", "ruby"}
SEVERITIES = {"critical", "high", "medium", "low"}
REGISTRIES = {"pypi", "npm"}
PERMISSIVE = {
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "Apache-2.0",
    "ISC",
    "PSF-2.0",
    "0BSD",
    "Zlib",
    "Unlicense",
}
TOP_FIELDS = ("title", "description", "language", "source", "fixed_in", "fix_reference")
HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: list[str] = field(default_factory=list)  # each starts with ' ', '+', '-' or '\\'

    def added_lines(self) -> set[int]:
        added: set[int] = set()
        new_no = self.new_start
        for line in self.lines:
            if line.startswith("+"):
                added.add(new_no)
                new_no += 1
            elif line.startswith(" "):
                new_no += 1
        return added


@dataclass
class FileDiff:
    old_path: str | None  # None for a new file
    new_path: str | None  # None for a deleted file
    hunks: list[Hunk] = field(default_factory=list)


class CaseError(Exception):
    pass


def licence_ok(expr: str) -> bool:
    """True if every SPDX id in an ``A OR B`` / ``A AND B`` expression is permissive."""
    ids = [tok for tok in re.split(r"\s+|\(|\)", expr) if tok and tok not in {"OR", "AND"}]
    return bool(ids) and all(tok in PERMISSIVE for tok in ids)


def parse_diff(text: str) -> list[FileDiff]:
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    remaining_old = remaining_new = 0
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for raw in lines:
        if hunk is not None and (remaining_old > 0 or remaining_new > 0):
            tag = raw[:1]
            if tag == " ":
                remaining_old -= 1
                remaining_new -= 1
            elif tag == "-":
                remaining_old -= 1
            elif tag == "+":
                remaining_new -= 1
            elif tag == "\\":
                pass
            elif raw == "":
                # a context line for an empty line whose leading space was stripped
                raw = " "
                remaining_old -= 1
                remaining_new -= 1
            else:
                raise CaseError(f"malformed hunk line: {raw[:60]!r}")
            hunk.lines.append(raw)
            continue
        if raw.startswith("\\") and hunk is not None:
            hunk.lines.append(raw)
            continue
        if raw.startswith("diff --git "):
            current = FileDiff(None, None)
            files.append(current)
            hunk = None
        elif raw.startswith("--- "):
            if current is None:
                current = FileDiff(None, None)
                files.append(current)
            current.old_path = _strip_prefix(raw[4:], "a/")
        elif raw.startswith("+++ "):
            if current is None:
                raise CaseError("'+++' line without a file header")
            current.new_path = _strip_prefix(raw[4:], "b/")
        elif raw.startswith("@@"):
            m = HUNK_RE.match(raw)
            if m is None or current is None:
                raise CaseError(f"malformed hunk header: {raw!r}")
            old_len = int(m.group(2)) if m.group(2) is not None else 1
            new_len = int(m.group(4)) if m.group(4) is not None else 1
            hunk = Hunk(int(m.group(1)), old_len, int(m.group(3)), new_len)
            current.hunks.append(hunk)
            remaining_old, remaining_new = old_len, new_len
        # other header lines (index, mode, similarity, ...) are ignored
    for fd in files:
        if fd.old_path is None and fd.new_path is None:
            raise CaseError("file diff without ---/+++ paths (binary or rename-only?)")
    return files


def _strip_prefix(path: str, prefix: str) -> str | None:
    path = path.split("\t", 1)[0]
    if path == "/dev/null":
        return None
    if not path.startswith(prefix):
        raise CaseError(f"diff path {path!r} does not start with {prefix!r}")
    return path[len(prefix) :]


def apply_file_diff(base: bytes | None, fd: FileDiff) -> bytes | None:
    """Apply one file's hunks strictly (context must match exactly)."""
    if fd.new_path is None:
        return None
    old_lines = _split_keepends(base or b"")
    out: list[bytes] = []
    pos = 0  # index into old_lines
    for h in fd.hunks:
        start = h.old_start - 1 if h.old_len > 0 else h.old_start
        if start < pos:
            raise CaseError(f"{fd.new_path}: overlapping hunks")
        out.extend(old_lines[pos:start])
        pos = start
        pending: list[bytes] = []  # lines in this hunk's new side
        last_new_idx: int | None = None
        for line in h.lines:
            tag, body = line[:1], line[1:].encode("utf-8", "surrogateescape")
            if tag == "\\":
                # "\ No newline at end of file" refers to the previous line
                if last_new_idx is not None and pending[last_new_idx].endswith(b"\n"):
                    pending[last_new_idx] = pending[last_new_idx][:-1]
                continue
            if tag in " -":
                if pos >= len(old_lines) or old_lines[pos].rstrip(b"\n") != body:
                    raise CaseError(f"{fd.new_path}: hunk @{h.old_start} does not match the base")
                pos += 1
            if tag in " +":
                pending.append(body + b"\n")
                last_new_idx = len(pending) - 1
            else:
                last_new_idx = None
        out.extend(pending)
    out.extend(old_lines[pos:])
    return b"".join(out)


def _split_keepends(data: bytes) -> list[bytes]:
    """Split on LF only, as git does (a lone CR stays inside its line)."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "kimi-review" / "devset"


def fetch(url: str, sha256: str) -> Path:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    dest = cache_dir() / sha256[:16] / name
    if not dest.exists() or hashlib.sha256(dest.read_bytes()).hexdigest() != sha256:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=120) as resp:
            data = resp.read()
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise CaseError(f"sha256 mismatch for {url}: got {got}")
        tmp = dest.with_suffix(dest.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(dest)
    return dest


def read_archive(path: Path, strip: int) -> dict[str, bytes]:
    """Regular files of an archive, keyed by path with ``strip`` leading components dropped."""
    files: dict[str, bytes] = {}
    data = path.read_bytes()
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    _put(files, info.filename, zf.read(info), strip)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            for member in tf.getmembers():
                if member.isfile():
                    fh = tf.extractfile(member)
                    if fh is not None:
                        _put(files, member.name, fh.read(), strip)
    return files


def _put(files: dict[str, bytes], name: str, data: bytes, strip: int) -> None:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if len(parts) > strip:
        files["/".join(parts[strip:])] = data


def _get(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise CaseError(f"{where}{key}: missing or not a {kind.__name__}")
    return value


def check_case(case_dir: Path, do_fetch: bool) -> list[str]:
    """Check one case; returns warnings, raises CaseError on the first failure."""
    warnings: list[str] = []
    cid = case_dir.name
    if not CASE_ID_RE.match(cid):
        raise CaseError(f"case id {cid!r} is not <registry>-<package>-<version>-<slug>")
    with (case_dir / "case.toml").open("rb") as fh:
        case = tomllib.load(fh)
    for key in TOP_FIELDS:
        _get(case, key, str, "")
    if case["language"] not in LANGUAGES:
        raise CaseError(f"language {case['language']!r} not in {sorted(LANGUAGES)}")
    _get(case, "cross_file", bool, "")
    if not licence_ok(_get(case, "licence", str, "")):
        raise CaseError(f"licence {case['licence']!r} is not permissive")
    snap = _get(case, "snapshot", dict, "")
    base = _get(case, "base", dict, "")
    registry = _get(snap, "registry", str, "snapshot.")
    if registry not in REGISTRIES or not cid.startswith(registry + "-"):
        raise CaseError(f"snapshot.registry {registry!r} does not match the case id")
    for key in ("package", "version", "url", "sha256"):
        _get(snap, key, str, "snapshot.")
    for key in ("version", "url", "sha256"):
        _get(base, key, str, "base.")
    strip = _get(snap, "strip", int, "snapshot.")
    for table, where in ((snap, "snapshot"), (base, "base")):
        if not SHA256_RE.match(table["sha256"]):
            raise CaseError(f"{where}.sha256 is not 64 lowercase hex digits")
        if not table["url"].startswith("https://"):
            raise CaseError(f"{where}.url is not https")
    expected = case.get("expected")
    if not isinstance(expected, list) or not expected:
        raise CaseError("no [[expected]] entries")

    diff_text = (case_dir / "change.diff").read_text(encoding="utf-8", errors="surrogateescape")
    files = parse_diff(diff_text)
    if not files:
        raise CaseError("change.diff has no file diffs")
    by_new_path = {fd.new_path: fd for fd in files if fd.new_path is not None}
    changed = sum(
        1 for fd in files for h in fd.hunks for ln in h.lines if ln.startswith(("+", "-"))
    )
    if not 20 <= changed <= 600:
        warnings.append(f"{changed} changed lines (outside the 20-600 guideline)")

    for i, exp in enumerate(expected):
        where = f"expected[{i}]."
        _get(exp, "text", str, where)
        if _get(exp, "severity", str, where) not in SEVERITIES:
            raise CaseError(f"{where}severity {exp['severity']!r} not in {sorted(SEVERITIES)}")
        path, line = exp.get("path"), exp.get("line")
        if path is None:
            continue
        if not isinstance(path, str) or not isinstance(line, int):
            raise CaseError(f"{where}path/line must be a string and an integer")
        fd = by_new_path.get(path)
        if fd is None:
            raise CaseError(f"{where}path {path!r} is not changed in change.diff")
        if any(line in h.added_lines() for h in fd.hunks):
            continue
        if any(h.new_start <= line < h.new_start + h.new_len for h in fd.hunks):
            warnings.append(f"{where}{path}:{line} is a context line of a hunk, not an added line")
            continue
        raise CaseError(f"{where}{path}:{line} is outside every hunk of that file")

    if do_fetch:
        head_files = read_archive(fetch(snap["url"], snap["sha256"]), strip)
        base_files = read_archive(fetch(base["url"], base["sha256"]), strip)
        for fd in files:
            old = base_files.get(fd.old_path) if fd.old_path is not None else None
            if fd.old_path is not None and old is None:
                raise CaseError(f"{fd.old_path} is not in the base archive")
            if fd.old_path is None and fd.new_path in base_files:
                raise CaseError(f"{fd.new_path} is new in the diff but exists in the base")
            result = apply_file_diff(old, fd)
            if fd.new_path is None:
                if fd.old_path in head_files:
                    raise CaseError(f"{fd.old_path} is deleted by the diff but is in the head")
                continue
            if head_files.get(fd.new_path) != result:
                raise CaseError(f"{fd.new_path}: base + change.diff != head archive")
        for exp in expected:
            if "path" in exp:
                n_lines = len(_split_keepends(head_files[exp["path"]]))
                if not 1 <= exp["line"] <= n_lines:
                    raise CaseError(f"{exp['path']}:{exp['line']} is past the end of the file")
    return warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--fetch", action="store_true", help="download archives and apply diffs")
    parser.add_argument("cases", nargs="*", help="case ids (default: all)")
    args = parser.parse_args(argv)
    names: list[str] = args.cases or sorted(
        p.name for p in DEVSET_DIR.iterdir() if (p / "case.toml").is_file()
    )
    failed = 0
    for name in names:
        try:
            warnings = check_case(DEVSET_DIR / name, args.fetch)
        except (
            CaseError,
            OSError,
            tomllib.TOMLDecodeError,
            tarfile.TarError,
            zipfile.BadZipFile,
        ) as exc:
            failed += 1
            print(f"FAIL {name}: {exc}")
            continue
        print(f"ok   {name}" + "".join(f"\n     warning: {w}" for w in warnings))
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
