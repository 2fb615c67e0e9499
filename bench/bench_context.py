"""Benchmark of targeted context on a real large repository snapshot.

Run: `.venv/bin/python bench/bench_context.py [--package django] [--hunks 50] [--dir DIR]`

Downloads the package's source distribution from PyPI (cached under the
system's temporary directory; `--dir` uses an unpacked tree instead), indexes
it with `DirectorySource` + `RepoIndex`, then selects context for a synthetic
pull request: `--hunks` one-line edits inside functions picked at random
(seeded) across files, packed by the real chunker. Prints files indexed, index
build seconds, peak traced memory of the build (tracemalloc, a second build:
tracing slows Python down), the same index read straight from the tar.gz
(`ArchiveSource`, as a GitHub tarball would be), selection seconds, and context characters per
diff character, per chunk and in total.
"""

from __future__ import annotations

import argparse
import json
import random
import tarfile
import tempfile
import time
import tracemalloc
import urllib.parse
import urllib.request
from pathlib import Path

from worker.context import (
    ArchiveSource,
    DirectorySource,
    RepoIndex,
    context_for_chunk,
    render_context,
)
from worker.context.model import Definition
from worker.diff.chunks import chunk_files
from worker.diff.parse import ParsedFile, parse_patch
from worker.diff.tokens import TokenEstimator

CACHE = Path(tempfile.gettempdir()) / "kimi-review-bench-context"


def snapshot(package: str) -> Path:
    """The package's latest sdist, unpacked (downloaded once)."""
    target = CACHE / package
    if target.exists():
        return next(p for p in target.iterdir() if p.is_dir())
    index_url = f"https://pypi.org/pypi/{package}/json"
    with urllib.request.urlopen(index_url, timeout=60) as answer:
        release = json.load(answer)
    sdist = next(u for u in release["urls"] if u["packagetype"] == "sdist")
    url = urllib.parse.urljoin(index_url, sdist["url"])  # a mirror may answer relative URLs
    archive = CACHE / sdist["filename"]
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url} ({sdist['size'] / 1e6:.1f} MB)")
    urllib.request.urlretrieve(url, archive)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return next(p for p in target.iterdir() if p.is_dir())


def synthetic_pr(index: RepoIndex, paths: list[str], hunks: int, seed: int) -> list[ParsedFile]:
    """One-line edits in the middle of `hunks` functions, at most two per file."""
    rng = random.Random(seed)
    rng.shuffle(paths)
    edits: dict[str, list[Definition]] = {}
    for path in paths:
        outline = index.outline(path)
        if outline is None or not path.endswith(".py"):
            continue
        bodies = [d for d in outline.definitions if d.is_callable and d.end - d.start >= 4]
        for definition in rng.sample(bodies, min(2, len(bodies))):
            edits.setdefault(path, []).append(definition)
        if sum(len(v) for v in edits.values()) >= hunks:
            break
    files = []
    for path, definitions in sorted(edits.items()):
        lines = (index.text(path) or "").split("\n")
        patch = []
        for definition in sorted(definitions, key=lambda d: d.start):
            line = (definition.signature_end + 1 + definition.end) // 2
            first, last = line - 3, min(len(lines), line + 3)
            body = [f" {lines[n - 1]}" for n in range(first, line)]
            body += [f"-{lines[line - 1]}  # old", f"+{lines[line - 1]}"]
            body += [f" {lines[n - 1]}" for n in range(line + 1, last + 1)]
            count = last - first + 1
            patch.append(f"@@ -{first},{count} +{first},{count} @@\n" + "\n".join(body))
        hunks_of = parse_patch("\n".join(patch) + "\n", path=path)
        files.append(ParsedFile(path=path, status="modified", hunks=hunks_of))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="django")
    parser.add_argument("--dir", type=Path, help="an unpacked tree instead of a download")
    parser.add_argument("--hunks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--chunk-tokens", type=int, default=24_000)
    args = parser.parse_args()
    root = args.dir or snapshot(args.package)
    source = DirectorySource(root)
    paths = list(source.list_files())

    started = time.perf_counter()
    index = RepoIndex(source)
    stats = index.build()
    build_seconds = time.perf_counter() - started
    print(f"snapshot: {root} ({len(paths):,} files listed)")
    print(
        f"index: {stats.files_indexed:,} files indexed, {stats.files_skipped:,} skipped, "
        f"{stats.bytes_indexed / 1e6:.1f} MB, {stats.definitions:,} definitions, "
        f"{stats.call_sites:,} call sites"
    )
    print(f"index build: {build_seconds:.2f} s")

    tracemalloc.start()
    RepoIndex(source).build()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"index build peak memory (tracemalloc): {peak / 1e6:.1f} MB")

    archives = sorted(CACHE.glob(f"{args.package}-*.tar.gz")) if args.dir is None else []
    if archives:
        started = time.perf_counter()
        with archives[-1].open("rb") as stream:
            in_memory = ArchiveSource.from_tar(stream)
        read_seconds = time.perf_counter() - started
        archive_stats = RepoIndex(in_memory).build()
        print(
            f"from the tar.gz in memory (ArchiveSource): read {read_seconds:.2f} s, "
            f"then index {time.perf_counter() - started - read_seconds:.2f} s "
            f"({archive_stats.files_indexed:,} files)"
        )

    files = synthetic_pr(index, paths, args.hunks, args.seed)
    estimator = TokenEstimator()
    for label, tokens in (("chunker", args.chunk_tokens), ("small chunks", 1_000)):
        chunks = chunk_files(files, budget_tokens=tokens, estimator=estimator)
        started = time.perf_counter()
        blocks = [context_for_chunk(chunk.files, index, diff_chars=chunk.chars) for chunk in chunks]
        select_seconds = time.perf_counter() - started
        diff_chars = sum(chunk.chars for chunk in chunks)
        context_chars = sum(len(render_context(block)) for block in blocks)
        snippets = sum(len(block.snippets) for block in blocks)
        hunk_count = sum(len(f.hunks) for f in files)
        print(
            f"{label} ({tokens:,} tokens): {hunk_count} hunks in {len(files)} files, "
            f"{len(chunks)} chunks, {snippets} snippets; selection {select_seconds:.2f} s "
            f"({1000 * select_seconds / len(chunks):.0f} ms/chunk); context {context_chars:,} "
            f"chars for {diff_chars:,} diff chars = {context_chars / diff_chars:.2f} per diff char"
        )


if __name__ == "__main__":
    main()
