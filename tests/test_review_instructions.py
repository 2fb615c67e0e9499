"""Repository instruction files: which ones a PR gets, cut to budget, masked, never the head's."""

from __future__ import annotations

from pathlib import Path

from worker.review.instructions import (
    MAX_FILE_CHARS,
    MAX_TOTAL_CHARS,
    ReadText,
    collect_instructions,
    directory_reader,
    instructions_line,
)


def _reader(files: dict[str, str], asked: list[str] | None = None) -> ReadText:
    async def read(path: str) -> str | None:
        if asked is not None:
            asked.append(path)
        return files.get(path)

    return read


async def test_root_files_then_the_nearest_directory_of_each_changed_file() -> None:
    files = {
        "AGENTS.md": "root agents",
        ".github/copilot-instructions.md": "copilot",
        "src/AGENTS.md": "src agents",
        "src/api/REVIEW.md": "api review",
        "docs/CLAUDE.md": "docs claude",  # no changed file below docs/
    }
    found = await collect_instructions(
        _reader(files), ["src/api/v1/handlers.py", "src/core/model.py", "setup.py"]
    )
    assert [f.path for f in found] == [
        "AGENTS.md",
        ".github/copilot-instructions.md",
        "src/api/REVIEW.md",  # nearest to src/api/v1/handlers.py (src/AGENTS.md is farther)
        "src/AGENTS.md",  # nearest to src/core/model.py
    ]


async def test_each_file_and_the_whole_set_are_cut_to_their_budgets() -> None:
    rules = "A rule.\n" * (MAX_FILE_CHARS // 4)
    files = {name: rules for name in ("AGENTS.md", "CLAUDE.md", "REVIEW.md")}
    found = await collect_instructions(_reader(files), ["app.py"])
    assert all(len(f.text) < MAX_FILE_CHARS + 100 for f in found)
    assert "cut:" in found[0].text
    assert sum(len(f.text) for f in found) <= MAX_TOTAL_CHARS + 200
    assert len(found) == 2  # the budget is spent before REVIEW.md


async def test_secret_looking_values_are_masked() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    files = {"AGENTS.md": f'Deploy with AWS_SECRET_ACCESS_KEY="{secret}"'}
    (found,) = await collect_instructions(_reader(files), ["app.py"])
    assert "wJalrXUtnFEMI" not in found.text
    assert "***masked***" in found.text


async def test_skipped_files_are_never_read(tmp_path: Path) -> None:
    """An eval snapshot is the head: an instruction file its diff changes is not the base's."""
    (tmp_path / "AGENTS.md").write_text("changed by the pull request")
    (tmp_path / "REVIEW.md").write_text("review rules")
    found = await collect_instructions(
        directory_reader(tmp_path), ["AGENTS.md", "app.py"], skip=frozenset({"AGENTS.md"})
    )
    assert [f.path for f in found] == ["REVIEW.md"]
    assert instructions_line(found) == "Instructions: `REVIEW.md` (from the base branch)"
    line = instructions_line(found, where="the snapshot")
    assert line == "Instructions: `REVIEW.md` (from the snapshot)"
    assert instructions_line(()) is None


async def test_the_directory_reader_stays_inside_its_root(tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("outside")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "AGENTS.md").symlink_to(tmp_path / "outside.md")
    assert await directory_reader(root)("AGENTS.md") is None
    assert await directory_reader(root)("../outside.md") is None
