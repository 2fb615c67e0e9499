"""Prompt characters a large real PR costs, counting every model call (issue #17's cost criterion).

Run: `.venv/bin/python bench/bench_prompt_chars.py [--package Django] [--base 5.1] [--head 5.2]`

Downloads two releases' sdists from PyPI, diffs them with `git diff --no-index`
(paths relative to the release root, a/ and b/) and reviews that diff
in-process with `review_local`, `repo_dir` the head release's tree (context
built as for `review --diff --repo`), against a fake OpenAI-compatible server
on 127.0.0.1 (tests/fakes) that answers every finder call with one finding on
a changed line of its chunk (so every chunk is verified) and every verifying
call with "keep". Settings are the product's defaults with fake keys, then
API_LLM_CONTEXT=off, then API_LLM_VERIFY=off, each its own review.

A request's prompt text is its messages' contents concatenated in order (what
a provider's prefix cache sees). Its unshared characters are its length
minus the longest prefix it shares with any EARLIER request of the same
review (arrival order). Patch characters are the characters of the hunks
(GitHub's `patch` field: hunk headers, context and changed lines) of the
files the review sent to the model. Target: unshared / patch <= 2.5 with the
default levers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import logging
import re
import subprocess
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.fakes.model_replies import KEEP_ALL_VERDICTS, Reply, is_verify_request, kimi_ok
from tests.fakes.model_servers import FakeKimi
from worker.config import load_settings
from worker.context import DirectorySource, RepoIndex
from worker.diff.local import changed_files_from_diff
from worker.diff.model import ChangedFile
from worker.logs import configure_logging
from worker.review.local import LocalChange, LocalReview, open_local_models, review_local
from worker.review.prompt import CONTEXT_INTRO

FAKE_KEY = "sk-bench-fake-key"
TARGET = 2.5
PARTS = ("diff", "context", "findings", "other")
VARIANTS: dict[str, dict[str, str]] = {
    "default (context targeted, verify on, 1 pass)": {},
    "API_LLM_CONTEXT=off": {"API_LLM_CONTEXT": "off"},
    "API_LLM_VERIFY=off": {"API_LLM_VERIFY": "off"},
}
_FILE_LINE = re.compile(r"FILE (.+?)(?: \((?:new file|deleted|(?:renamed|copied) from .*)\))?")
_DIFF_LINE = re.compile(r"(\d+)([+-])")


# --- the two releases and their diff ------------------------------------------------------
def fetch_release(client: httpx.Client, package: str, version: str, dest: Path) -> None:
    """The sdist of `package==version`, checked against PyPI's sha256, unpacked as `dest`."""
    index = client.get(f"https://pypi.org/pypi/{package}/json")
    index.raise_for_status()
    files = index.json()["releases"].get(version) or []
    sdists = [f for f in files if f["packagetype"] == "sdist"]
    if not sdists:
        raise SystemExit(f"{package} {version}: no sdist on PyPI")
    data = client.get(urljoin(str(index.url), sdists[0]["url"])).content
    if hashlib.sha256(data).hexdigest() != sdists[0]["digests"]["sha256"]:
        raise SystemExit(f"{package} {version}: sdist does not match PyPI's sha256")
    unpacked = dest.with_name(dest.name + ".unpacked")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(unpacked, filter="data")
    (root,) = unpacked.iterdir()  # an sdist holds one top directory, <name>-<version>
    root.rename(dest)


def release_diff(root: Path) -> str:
    """`git diff` of root/a against root/b; --no-prefix keeps the a/ and b/ of the dirs."""
    done = subprocess.run(
        ["git", "diff", "--no-index", "--no-prefix", "--no-color", "--no-ext-diff", "a", "b"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1: the trees differ
        raise SystemExit(f"git diff failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8", "surrogateescape")


# --- the fake model --------------------------------------------------------------------------
def _changed_line(user: str) -> dict[str, Any]:
    """The first added line of the chunk's diff block, else its first removed line."""
    path, removed = "", None
    for line in user[user.rfind("<<<UNTRUSTED diff ") :].splitlines():
        header = _FILE_LINE.fullmatch(line)
        if header:
            path = header.group(1)
            continue
        marked = _DIFF_LINE.match(line)
        if marked and marked.group(2) == "+":
            return {"path": path, "line": int(marked.group(1)), "side": "RIGHT"}
        if marked and removed is None:
            removed = {"path": path, "line": int(marked.group(1)), "side": "LEFT"}
    return removed or {"path": path, "line": 1, "side": "RIGHT"}


def answer(body: Any) -> Reply:
    """One plausible finding per finder call; every finding kept by a verifying call."""
    if is_verify_request(body):
        return kimi_ok(KEEP_ALL_VERDICTS)
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    finding = {
        **_changed_line(user),
        "severity": "high",
        "category": "bug",
        "title": "Value may be None here",
        "body": "The lookup can return None and the next line dereferences it.",
    }
    return kimi_ok(json.dumps({"summary": "Updates the code.", "findings": [finding]}))


# --- accounting ---------------------------------------------------------------------------------
def shared_prefix(a: str, b: str, step: int = 4096) -> int:
    """Length of the longest common prefix: block compares, then a binary search in the block."""
    limit = min(len(a), len(b))
    low = 0
    while low + step <= limit and a[low : low + step] == b[low : low + step]:
        low += step
    high = min(low + step, limit)
    while low < high:
        mid = (low + high + 1) // 2
        if a[low:mid] == b[low:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _fenced(text: str, name: str, start: int) -> int:
    """End of the fence of `name` opening at `start` (after its closing marker)."""
    tag = text[start : text.index("\n", start)].split()[-1]
    closing = f"UNTRUSTED {name} {tag}>>>"
    return text.index(closing, start) + len(closing)


def spans(text: str) -> dict[str, tuple[int, int]]:
    """Where a prompt's diff block, context block and findings to verify lie."""
    found: dict[str, tuple[int, int]] = {}
    end = len(text)
    findings = text.rfind("<<<UNTRUSTED findings ")
    if findings >= 0:  # the verify request's assistant turn; its instructions count as "other"
        found["findings"] = (findings, _fenced(text, "findings", findings))
        end = findings
    diff = text.rfind("<<<UNTRUSTED diff ", 0, end)
    found["diff"] = (diff, _fenced(text, "diff", diff))
    intro = text.rfind(CONTEXT_INTRO, 0, diff)
    if intro >= 0:
        fence_at = intro + len(CONTEXT_INTRO)
        found["context"] = (intro, _fenced(text, "context", fence_at) + 2)  # + "\n\n"
    return found


@dataclass(slots=True)
class Tally:
    """One review's calls and prompt characters."""

    finder: int = 0
    verify: int = 0
    total: int = 0
    unshared: int = 0
    parts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def tally(bodies: list[Any]) -> Tally:
    """Every request in arrival order, each charged beyond its longest earlier shared prefix."""
    result = Tally()
    earlier: list[str] = []
    for body in bodies:
        text = "".join(str(m["content"]) for m in body["messages"])
        common = max((shared_prefix(text, other) for other in earlier), default=0)
        earlier.append(text)
        result.verify += is_verify_request(body)
        result.finder += not is_verify_request(body)
        result.total += len(text)
        result.unshared += len(text) - common
        counted = 0
        for part, (start, stop) in spans(text).items():
            overlap = max(0, stop - max(start, common))
            result.parts[part] += overlap
            counted += overlap
        result.parts["other"] += len(text) - common - counted
    return result


# --- the reviews ---------------------------------------------------------------------------------
async def run_review(
    files: list[ChangedFile], tree: Path, env: dict[str, str], title: str
) -> tuple[LocalReview, Tally]:
    """One in-process review against a fresh fake server; its requests tallied."""
    with FakeKimi(api_key=FAKE_KEY, responder=answer) as kimi:
        settings = load_settings(
            {"API_OPEN_AI_API_KEY": FAKE_KEY, "API_OPENAI_FORCE_BASE_URL": kimi.base_url, **env}
        )
        change = LocalChange(files, title, "Release diff.", tree.name, repo_dir=tree)
        started = time.perf_counter()
        async with open_local_models(settings.llm) as models:
            review = await review_local(models, change)
        seconds = time.perf_counter() - started
        bodies = [r.body for r in kimi.requests if r.path.endswith("/chat/completions")]
    counted = tally(bodies)
    counted.seconds = seconds
    return review, counted


def index_seconds(tree: Path, paths: list[str]) -> str:
    """The head tree's symbol index built as a review builds it, timed."""
    started = time.perf_counter()
    stats = RepoIndex(DirectorySource(tree), focus=tuple(paths)).build()
    took = time.perf_counter() - started
    return f"{took:.1f} s ({stats.files_indexed:,} files indexed, {stats.files_skipped:,} left out)"


# --- the report ---------------------------------------------------------------------------------
def describe(files: list[ChangedFile], review: LocalReview) -> int:
    """Print the PR's shape; returns its patch characters (hunks of the reviewed files)."""
    prepared = review.prepared
    reviewed = {f.path for chunk in prepared.chunks for f in chunk.files}
    reasons = Counter(s.reason for s in prepared.skipped)
    patch = sum(len(f.patch or "") for f in files if f.path in reviewed)
    rendered = sum(chunk.chars for chunk in prepared.chunks)
    added = sum(f.additions for f in files)
    removed = sum(f.deletions for f in files)
    skipped = len(prepared.skipped)
    why = ", ".join(f"{n} {r}" for r, n in reasons.items())
    print(f"files changed {len(files):,}, reviewed {len(reviewed):,}, skipped {skipped:,} ({why}),"
          f" {len(files) - len(reviewed) - skipped} with no hunk (pure renames)")  # fmt: skip
    print(f"changed lines {added + removed:,} (+{added:,} -{removed:,}) in all files, "
          f"{sum(f.additions + f.deletions for f in files if f.path in reviewed):,} "
          "in the reviewed ones")  # fmt: skip
    print(f"patch characters (hunks of the reviewed files) {patch:,}; "
          f"as rendered for the model {rendered:,} in {len(prepared.chunks)} chunks")  # fmt: skip
    return patch


def report(name: str, review: LocalReview, counted: Tally, patch: int) -> None:
    ratio = counted.unshared / patch
    placed = review.result.placement
    print(f"\n{name}   [review {counted.seconds:.1f} s]")
    print(f"  calls {counted.finder + counted.verify} (finder {counted.finder}, "
          f"verify {counted.verify}); findings inline {len(placed.inline)}, "
          f"in summary {len(placed.in_summary)}, refuted {len(review.result.refuted)}")  # fmt: skip
    print(f"  prompt characters: total {counted.total:,} ({counted.total / patch:.2f} x patch), "
          f"unshared {counted.unshared:,}")  # fmt: skip
    print(f"  unshared / patch   {ratio:.3f}   (target <= {TARGET})")
    for part in PARTS:
        chars = counted.parts[part]
        print(f"    {part:<9} {chars:>12,}  {chars / patch:6.3f} x patch")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="Django")
    parser.add_argument("--base", default="5.1", help="the older release")
    parser.add_argument("--head", default="5.2", help="the next release")
    args = parser.parse_args()
    configure_logging("console", [FAKE_KEY], level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-prompt-") as tmp:
        root = Path(tmp)
        with httpx.Client(timeout=120, follow_redirects=True) as client:
            fetch_release(client, args.package, args.base, root / "a")
            fetch_release(client, args.package, args.head, root / "b")
        files = changed_files_from_diff(release_diff(root))
        print(f"{args.package} {args.base} -> {args.head} (PyPI sdists, git diff --no-index)")
        print(f"index build of the head tree: {index_seconds(root / 'b', [f.path for f in files])}")
        title = f"{args.package} {args.head}"
        results = [
            (name, await run_review(files, root / "b", env, title))
            for name, env in VARIANTS.items()
        ]
        patch = describe(files, results[0][1][0])
        for name, (review, counted) in results:
            report(name, review, counted, patch)
    default = results[0][1][1].unshared / patch
    verdict = "meets" if default <= TARGET else f"exceeds by {default - TARGET:.3f} x patch"
    print(f"\ndefault levers: unshared / patch {default:.3f}: {verdict} the target <= {TARGET}")


if __name__ == "__main__":
    asyncio.run(main())
