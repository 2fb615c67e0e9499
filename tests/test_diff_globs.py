"""Glob matching for `.kimi-review.toml`: the same answers as before, in linear time."""

from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.diff.filters import select_files
from worker.diff.globs import compile_glob
from worker.diff.model import ChangedFile


def _reference_regex(pattern: str) -> re.Pattern[str]:
    """The backtracking translation the matcher replaced: the semantics to keep."""
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out: list[str] = []
    index = 0
    while index < len(body):
        if body.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif body.startswith("**", index):
            out.append(".*")
            index += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(body[index], re.escape(body[index])))
            index += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"{prefix}{''.join(out)}(?:/.*)?\\Z", re.DOTALL)


_PATTERN = st.text(alphabet="ab/*?.", min_size=1, max_size=10)
_PATH = st.text(alphabet="ab/.", min_size=0, max_size=12)


@settings(max_examples=600, deadline=None)
@given(pattern=_PATTERN, path=_PATH)
def test_glob_matches_exactly_what_the_old_regex_matched(pattern: str, path: str) -> None:
    expected = _reference_regex(pattern).match(path) is not None
    assert compile_glob(pattern).match(path) is expected


def test_repeated_double_star_on_a_deep_path_does_not_backtrack() -> None:
    """A pattern of repeated `**/` against a 40-segment path took 6.5 s (and
    ~80 times more for every two more `**/`): the regex retried each `**/` at
    every "/" for each choice of the ones before it, holding the interpreter
    lock, so the worker filtering the PR froze. A child process, because a
    thread cannot be waited for while a regex holds the lock."""
    code = (
        "from worker.diff.globs import compile_glob\n"
        f"print(compile_glob({'**/a/' * 12 + '**/z.py'!r}).match({'a/' * 60 + 'y.py'!r}))"
    )
    # The matcher answers in under a millisecond; the old regex needed years here.
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_hostile_globs_in_repo_config_still_select_files() -> None:
    deep = "/".join(["d"] * 40) + "/x.py"
    files = [ChangedFile(path=deep, status="modified", patch="@@ -1 +1 @@\n-a\n+b")]
    selection = select_files(files, exclude=["**/" * 30 + "nothing.py"], include=["**/*.py"])
    assert [f.path for f in selection.kept] == [deep]
