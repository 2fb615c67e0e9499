"""The chunker: every line once, budgets kept, hunks cut correctly, stable ids."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_diff_support import changed, difflib_patch, git_patch, hunk_as_patch
from worker.diff.chunks import (
    Chunk,
    ChunkNotSplittable,
    chunk_files,
    hunk_chars,
    line_chars,
    split_chunk,
)
from worker.diff.parse import ParsedFile, parse_file, parse_patch
from worker.diff.render import render_diff, render_line
from worker.diff.tokens import TokenEstimator

ONE_CHAR_PER_TOKEN = TokenEstimator(chars_per_token=1.0)
LineKey = tuple[str, str, int | None, int | None, str]


def _lines_of(files: list[ParsedFile]) -> Counter[LineKey]:
    return Counter(
        (file.path, line.kind, line.old, line.new, line.text)
        for file in files
        for hunk in file.hunks
        for line in hunk.lines
    )


def _lines_in(chunks: list[Chunk]) -> Counter[LineKey]:
    return Counter(
        (file.path, line.kind, line.old, line.new, line.text)
        for chunk in chunks
        for file in chunk.files
        for hunk in file.hunks
        for line in hunk.lines
    )


def _assert_pieces_are_valid_hunks(chunks: list[Chunk]) -> None:
    """Each (piece of a) hunk re-parses to the same lines: its header numbers are right."""
    for chunk in chunks:
        for file in chunk.files:
            for hunk in file.hunks:
                assert parse_patch(hunk_as_patch(hunk), path=file.path) == (hunk,)


def _parsed(path: str, old: list[str], new: list[str]) -> ParsedFile:
    return parse_file(changed(path, difflib_patch(old, new)))


texts = st.text(alphabet="abc xyz=()", max_size=30)
file_pair = st.tuples(st.lists(texts, max_size=40), st.lists(texts, max_size=40))


@settings(max_examples=120, deadline=None)
@given(pairs=st.lists(file_pair, min_size=1, max_size=6), budget=st.integers(20, 3000))
def test_every_line_lands_in_exactly_one_chunk_within_budget(
    pairs: list[tuple[list[str], list[str]]], budget: int
) -> None:
    files = [_parsed(f"dir/f{index}.py", old, new) for index, (old, new) in enumerate(pairs)]
    chunks = chunk_files(files, budget_tokens=budget, estimator=ONE_CHAR_PER_TOKEN)
    assert _lines_in(chunks) == _lines_of(files)
    for chunk in chunks:
        assert chunk.chars == len(render_diff(chunk.files))
        lines = sum(len(hunk.lines) for file in chunk.files for hunk in file.hunks)
        assert chunk.chars <= budget or lines == 1
    _assert_pieces_are_valid_hunks(chunks)
    assert len({chunk.id for chunk in chunks}) == len(chunks)


@settings(max_examples=60, deadline=None)
@given(pair=file_pair, budget=st.integers(40, 400))
def test_split_chunk_halves_hold_the_same_lines(
    pair: tuple[list[str], list[str]], budget: int
) -> None:
    files = [_parsed("x.py", *pair)]
    for chunk in chunk_files(files, budget_tokens=budget, estimator=ONE_CHAR_PER_TOKEN):
        try:
            first, second = split_chunk(chunk)
        except ChunkNotSplittable:
            assert sum(len(h.lines) for f in chunk.files for h in f.hunks) == 1
            continue
        assert _lines_in([first, second]) == _lines_in([chunk])
        assert first.chars < chunk.chars + 60
        assert second.chars < chunk.chars + 60
        _assert_pieces_are_valid_hunks([first, second])


def test_line_chars_matches_the_rendering() -> None:
    (hunk,) = parse_patch(
        "@@ -9,2 +9,2 @@\n-old\n+new\n\\ No newline at end of file\n ctx", path="f"
    )
    for line in hunk.lines:
        assert line_chars(line) == len(render_line(line))


def test_small_files_stay_whole_and_share_chunks() -> None:
    files = [_parsed(f"f{n}.py", ["a", "b"], ["a", "c"]) for n in range(10)]
    one_file = hunk_chars(files[0].hunks[0]) + len("FILE f0.py\n")
    chunks = chunk_files(files, budget_tokens=one_file * 3, estimator=ONE_CHAR_PER_TOKEN)
    assert [chunk.paths for chunk in chunks] == [
        ("f0.py", "f1.py", "f2.py"),
        ("f3.py", "f4.py", "f5.py"),
        ("f6.py", "f7.py", "f8.py"),
        ("f9.py",),
    ]


def test_a_file_that_fits_a_chunk_is_not_split_across_two() -> None:
    small = _parsed("a.py", ["x"] * 3, ["y"] * 3)
    medium = _parsed("b.py", ["x"] * 30, ["y"] * 30)
    budget = len(render_diff([medium])) + 5
    chunks = chunk_files([small, medium], budget_tokens=budget, estimator=ONE_CHAR_PER_TOKEN)
    assert [chunk.paths for chunk in chunks] == [("a.py",), ("b.py",)]


def test_an_oversized_hunk_is_cut_with_repeated_file_and_hunk_headers() -> None:
    big = _parsed("big.py", [], [f"line {n}" for n in range(100)])
    chunks = chunk_files([big], budget_tokens=200, estimator=ONE_CHAR_PER_TOKEN)
    assert len(chunks) > 5
    first_new = [chunk.files[0].hunks[0].new_start for chunk in chunks]
    assert first_new == sorted(first_new)
    assert first_new[0] == 1
    assert all(render_diff(chunk.files).startswith("FILE big.py\n@@ -") for chunk in chunks)
    _assert_pieces_are_valid_hunks(chunks)


def test_a_line_longer_than_the_budget_gets_a_chunk_of_its_own() -> None:
    parsed = _parsed("min.js", ["a"], ["a", "x" * 5000, "b"])
    chunks = chunk_files([parsed], budget_tokens=100, estimator=ONE_CHAR_PER_TOKEN)
    oversized = [chunk for chunk in chunks if chunk.chars > 100]
    assert len(oversized) == 1
    assert oversized[0].files[0].hunks[0].lines[0].text == "x" * 5000
    with pytest.raises(ChunkNotSplittable):
        split_chunk(oversized[0])


def test_same_diff_gives_the_same_chunk_ids() -> None:
    files = [_parsed(f"f{n}.py", ["a"] * n, ["b"] * n) for n in range(1, 30)]
    first = chunk_files(files, budget_tokens=300, estimator=ONE_CHAR_PER_TOKEN)
    again = chunk_files(
        [_parsed(f"f{n}.py", ["a"] * n, ["b"] * n) for n in range(1, 30)],
        budget_tokens=300,
        estimator=ONE_CHAR_PER_TOKEN,
    )
    assert [chunk.id for chunk in first] == [chunk.id for chunk in again]


def test_files_without_hunks_make_no_chunk() -> None:
    rename = parse_file(changed("new.py", None, "renamed", previous_path="old.py"))
    assert chunk_files([rename], budget_tokens=1000, estimator=TokenEstimator()) == []


def test_a_5000_line_file_is_chunked_completely(tmp_path: Path) -> None:
    old = "".join(f"value_{n} = compute({n})\n" for n in range(5000)).encode()
    new = old.replace(b"compute(", b"compute_fast(")
    patch = git_patch(tmp_path, old, new)
    parsed = parse_file(changed("src/generated_table.py", patch))
    assert parsed.changed_lines == 10_000
    chunks = chunk_files([parsed], budget_tokens=24_000, estimator=TokenEstimator())
    assert len(chunks) > 1
    assert _lines_in(chunks) == _lines_of([parsed])
    assert all(chunk.chars <= TokenEstimator().chars_for(24_000) for chunk in chunks)
    _assert_pieces_are_valid_hunks(chunks)


def test_a_pull_request_of_320_files_is_chunked_completely(tmp_path: Path) -> None:
    files = []
    for n in range(320):
        old = "".join(f"def f{n}_{k}(): return {k}\n" for k in range(30)).encode()
        new = old.replace(b"return 7\n", b"return 7 + 1\n").replace(b"_20(", b"_twenty(")
        patch = (
            git_patch(tmp_path / str(n), old, new)
            if n < 20
            else difflib_patch(old.decode().splitlines(), new.decode().splitlines())
        )
        files.append(parse_file(changed(f"pkg{n % 7}/mod_{n}.py", patch)))
    chunks = chunk_files(files, budget_tokens=24_000, estimator=TokenEstimator())
    assert _lines_in(chunks) == _lines_of(files)
    assert sum(chunk.changed_lines for chunk in chunks) == 320 * 4
    # whole files only: no file appears in two chunks
    paths = [path for chunk in chunks for path in chunk.paths]
    assert len(paths) == len(set(paths)) == 320


def test_token_estimator_moves_toward_the_observed_ratio() -> None:
    estimator = TokenEstimator()
    assert estimator.estimate(3200) == 1000
    learned = estimator.observe(prompt_chars=40_000, prompt_tokens=10_000)
    assert learned.chars_per_token == pytest.approx(4.0)
    steady = learned
    for _ in range(30):
        steady = steady.observe(prompt_chars=50_000, prompt_tokens=10_000)
    assert steady.chars_per_token == pytest.approx(5.0, abs=0.01)
    assert estimator.observe(prompt_chars=10, prompt_tokens=0) is estimator
    assert estimator.observe(prompt_chars=10**9, prompt_tokens=1).chars_per_token == 8.0


def test_chunks_survive_a_msgspec_round_trip_for_checkpoints() -> None:
    files = [_parsed("a.py", ["x", "y"], ["x", "z"])]
    (chunk,) = chunk_files(files, budget_tokens=1000, estimator=TokenEstimator())
    decoded = msgspec.json.decode(msgspec.json.encode(chunk), type=Chunk)
    assert decoded == chunk
