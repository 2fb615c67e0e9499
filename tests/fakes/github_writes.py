"""Write endpoints of the fake GitHub (reviews, comments, check runs, reactions, hooks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub


def register(fake: FakeGitHub) -> None:
    """Registered in a later step."""
