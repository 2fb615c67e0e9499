"""PR comment commands and the repo config, end to end (serve + worker processes).

`/review full` is the one way to get a second review of the same head;
`/review` on an already reviewed head says so; `/help` answers with the
commands and the settings in effect; a collaborator without write access is
ignored; `.kimi-review.toml` is read from the base branch, so a PR that
edits it does not change its own review.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.e2e_world import PR, World
from tests.support.review_world import command_event, pr_event, send

pytestmark = pytest.mark.e2e


def _first_review(world: World) -> str:
    base = world.serve()
    world.worker()
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
    return base


def _comment(world: World, base: str, body: str, comment_id: int) -> None:
    event = command_event(world.repo, world.repo.pulls[PR], body, comment_id)
    assert send(base, "issue_comment", event).status_code == 202


def _replies(world: World) -> list[str]:
    bodies = [c["body"] for c in world.fake.written.issue_comments.values()]
    return [b for b in bodies if not b.startswith("<!-- kimi-review:summary -->")]


def _reacted(world: World) -> list[dict[str, Any]]:
    return list(world.fake.written.reactions)


def test_review_full_posts_a_second_review_of_the_same_head(world: World) -> None:
    base = _first_review(world)
    _comment(world, base, "/review full", 9001)
    world.wait(lambda: len(world.reviews()) == 2 and world.settled())
    first, second = world.reviews()
    assert first["commit_id"] == second["commit_id"]
    assert "run=full-9001" in second["body"]
    assert [r["content"] for r in _reacted(world)] == ["eyes"]
    assert len(world.kimi.requests) == 2  # a fresh review: the chunk is asked again


def test_review_on_an_already_reviewed_head_says_so_and_posts_nothing(world: World) -> None:
    base = _first_review(world)
    _comment(world, base, "/review", 9002)
    world.wait(lambda: len(_replies(world)) == 1 and world.settled())
    (reply,) = _replies(world)
    assert "already reviewed" in reply
    assert "/review full" in reply
    assert len(world.reviews()) == 1
    assert len(world.kimi.requests) == 1


def test_help_answers_with_the_commands_and_the_base_branch_settings(world: World) -> None:
    world.use_pull(base={".kimi-review.toml": 'min_severity = "high"\nlanguage = "Deutsch"\n'})
    base = world.serve()
    world.worker()
    _comment(world, base, "/help", 9003)
    world.wait(lambda: len(_replies(world)) == 1 and world.settled())
    (reply,) = _replies(world)
    assert "`/review full`" in reply
    assert "high" in reply
    assert "Deutsch" in reply
    assert world.reviews() == []


def test_a_command_from_a_read_only_collaborator_is_ignored(world: World) -> None:
    world.fake.permissions["octocat"] = "read"
    base = world.serve()
    world.worker()
    _comment(world, base, "/review", 9004)
    world.wait(world.settled)
    assert _reacted(world) == []
    assert world.reviews() == []
    assert _replies(world) == []


def test_review_command_reviews_a_draft(world: World) -> None:
    world.repo.pulls[PR].draft = True
    base = world.serve()
    world.worker()
    _comment(world, base, "/review", 9005)
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())


def test_a_pr_that_edits_the_config_does_not_change_its_own_review(world: World) -> None:
    world.use_pull(
        changes={
            "app/handlers.py": "def handler():\n    return 1\n",
            ".kimi-review.toml": "enabled = false\n",
        }
    )
    base = world.serve()
    world.worker()
    send(base, "pull_request", pr_event(world.repo, world.repo.pulls[PR]))
    world.wait(lambda: len(world.reviews()) == 1 and world.settled())
