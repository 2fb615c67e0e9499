"""Write endpoints of the fake GitHub: reviews, issue comments, check runs, reactions, hooks.

Reviews are validated like GitHub does: every comment's path must be in the
PR, its `line` (and `start_line`) commentable on its `side` in that file's
patch, `start_line` before `line` in the same hunk; otherwise the whole review
is refused with 422 and GitHub's error text. A `null` anywhere in a request
body is refused too (GitHub rejects `"line": null`; DESIGN says we omit).
Everything written is kept on `fake.written` for assertions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.fakes.github_http import (
    DOCS,
    ApiError,
    Reply,
    Request,
    not_found,
    page_window,
    paginate,
)
from tests.fakes.github_state import FakeRepo, next_id

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub

REVIEW_DOC = f"{DOCS}/pulls/reviews#create-a-review-for-a-pull-request"
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
REVIEW_STATES = {
    "COMMENT": "COMMENTED",
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
}
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class Written:
    """What the product wrote, by kind, in order."""

    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    review_comments: dict[int, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    issue_comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # by comment id
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(
        default_factory=list
    )  # App hook deliveries (set up by tests)
    redelivered: list[int] = field(default_factory=list)


def commentable_lines(patch: str) -> dict[tuple[str, int], int]:
    """(side, line) -> hunk index, for every line of a patch a comment may land on."""
    found: dict[tuple[str, int], int] = {}
    hunk, old, new = -1, 0, 0
    for text in patch.split("\n"):
        header = _HUNK.match(text)
        if header:
            hunk, old, new = hunk + 1, int(header[1]), int(header[2])
        elif text.startswith("+"):
            found[("RIGHT", new)] = hunk
            new += 1
        elif text.startswith("-"):
            found[("LEFT", old)] = hunk
            old += 1
        elif text.startswith(" "):
            found[("RIGHT", new)] = found[("LEFT", old)] = hunk
            old, new = old + 1, new + 1
    return found


def _no_nulls(body: Any, where: str = "") -> None:
    if isinstance(body, dict):
        for key, value in body.items():
            if value is None:
                raise ApiError(
                    422, f"Invalid request.\n\nFor 'properties/{key}', nil is not allowed.{where}"
                )
            _no_nulls(value, where)
    elif isinstance(body, list):
        for item in body:
            _no_nulls(item, where)


def _join(problems: list[str]) -> str:
    if len(problems) <= 1:
        return "".join(problems)
    if len(problems) == 2:
        return f"{problems[0]} and {problems[1]}"
    return ", ".join(problems[:-1]) + f", and {problems[-1]}"


def comment_problems(comment: dict[str, Any], patches: dict[str, str | None]) -> list[str]:
    """GitHub's complaints about one review comment (empty when it would be accepted)."""
    path = comment.get("path")
    if path not in patches:
        return ["Path could not be resolved"]
    lines = commentable_lines(patches[path] or "")
    problems: list[str] = []
    side = comment.get("side", "RIGHT")
    if "position" in comment and "line" not in comment:
        if not 1 <= int(comment["position"]) <= len((patches[path] or "").split("\n")) - 1:
            problems.append("Pull request review thread position is invalid")
        return problems
    line = comment.get("line")
    hunk = lines.get((side, int(line))) if line is not None else None
    if hunk is None:
        problems.append("Pull request review thread line must be part of the diff")
    if "start_line" in comment:
        start_side = comment.get("start_side", side)
        start = int(comment["start_line"])
        if line is not None and start >= int(line) and start_side == side:
            problems.append("Pull request review thread start line must precede the end line.")
        elif lines.get((start_side, start)) != hunk or hunk is None:
            problems.append(
                "Pull request review thread start line must be part of the same hunk as the line."
            )
    if not lines:
        problems.append("Pull request review thread diff hunk can't be blank")
    return problems


def register(fake: FakeGitHub) -> None:
    writes = _Writes(fake)
    pulls = "/repos/{owner}/{repo}/pulls/{number}"
    fake.add_route("POST", f"{pulls}/reviews", writes.create_review, "repo")
    fake.add_route("GET", f"{pulls}/reviews", writes.list_reviews, "repo")
    fake.add_route("DELETE", f"{pulls}/reviews/{{review_id}}", writes.delete_review, "repo")
    fake.add_route("GET", f"{pulls}/comments", writes.list_review_comments, "repo")
    issues = "/repos/{owner}/{repo}/issues"
    fake.add_route("POST", f"{issues}/{{number}}/comments", writes.create_issue_comment, "repo")
    fake.add_route("GET", f"{issues}/{{number}}/comments", writes.list_issue_comments, "repo")
    fake.add_route("PATCH", f"{issues}/comments/{{comment_id}}", writes.edit_issue_comment, "repo")
    fake.add_route("POST", f"{issues}/comments/{{comment_id}}/reactions", writes.react, "repo")
    fake.add_route("POST", f"{issues}/{{number}}/reactions", writes.react, "repo")
    fake.add_route("POST", "/repos/{owner}/{repo}/check-runs", writes.create_check_run, "repo")
    fake.add_route(
        "PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", writes.update_check_run, "repo"
    )
    fake.add_route(
        "GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", writes.list_check_runs, "repo"
    )
    fake.add_route("GET", "/app/hook/deliveries", writes.list_deliveries, "jwt")
    fake.add_route("POST", "/app/hook/deliveries/{delivery_id}/attempts", writes.redeliver, "jwt")


class _Writes:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.written = fake.written

    def repo_of(self, request: Request) -> FakeRepo:
        return self.fake.repo(f"{request.params['owner']}/{request.params['repo']}")

    def bot(self) -> dict[str, Any]:
        return {"login": f"{self.fake.app_slug}[bot]", "type": "Bot"}

    def create_review(self, request: Request) -> Reply:
        repo = self.repo_of(request)
        pull = repo.pulls.get(request.int_param("number"))
        if pull is None:
            raise not_found()
        body = request.json or {}
        _no_nulls(body)
        event = body.get("event", "PENDING")  # no event: a draft only its author sees
        if event not in REVIEW_STATES and event != "PENDING":
            raise ApiError(
                422, "Unprocessable Entity", errors=[f"Invalid event {event}"], doc=REVIEW_DOC
            )
        entries = repo.diff_entries(repo.base_of(pull), pull.head_sha)
        patches = {e["filename"]: e.get("patch") for e in entries}
        problems: list[str] = []
        for comment in body.get("comments", []):
            problems += [p for p in comment_problems(comment, patches) if p not in problems]
            if (comment.get("path"), comment.get("line")) in self.fake.refuse_comment_lines:
                problems += (
                    []
                    if "Line could not be resolved" in problems
                    else ["Line could not be resolved"]
                )
        if problems:
            raise ApiError(422, "Unprocessable Entity", errors=[_join(problems)], doc=REVIEW_DOC)
        review_id = next_id()
        commit_id = body.get("commit_id", pull.head_sha)
        review = {
            "id": review_id,
            "user": self.bot(),
            "body": body.get("body", ""),
            "state": REVIEW_STATES.get(event, "PENDING"),
            "commit_id": commit_id,
            "html_url": f"https://github.com/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review_id}",
        }
        self.written.reviews[pull.number].append(review)
        for comment in body.get("comments", []):
            stored = {"id": next_id(), "pull_request_review_id": review_id, "commit_id": commit_id}
            stored.update(user=self.bot(), side="RIGHT")
            stored.update(comment)
            self.written.review_comments[pull.number].append(stored)
        return Reply(200, review)

    def list_reviews(self, request: Request) -> Reply:
        return paginate(request, self.written.reviews.get(request.int_param("number"), []))

    def delete_review(self, request: Request) -> Reply:
        """Only a pending review can be deleted; its comments go with it."""
        number, review_id = request.int_param("number"), request.int_param("review_id")
        reviews = self.written.reviews.get(number, [])
        review = next((r for r in reviews if r["id"] == review_id), None)
        if review is None:
            raise not_found()
        if review["state"] != "PENDING":
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=["Can not delete a non-pending pull request review"],
            )
        reviews.remove(review)
        comments = self.written.review_comments.get(number, [])
        comments[:] = [c for c in comments if c["pull_request_review_id"] != review_id]
        return Reply(200, review)

    def list_review_comments(self, request: Request) -> Reply:
        return paginate(request, self.written.review_comments.get(request.int_param("number"), []))

    def create_issue_comment(self, request: Request) -> Reply:
        body = request.json or {}
        _no_nulls(body)
        if not body.get("body"):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "code": "missing_field", "field": "body"}],
            )
        now = self.fake.iso(self.fake.clock())
        comment = {
            "id": next_id(),
            "issue_number": request.int_param("number"),
            "body": body["body"],
            "user": self.bot(),
            "created_at": now,
            "updated_at": now,
        }
        self.written.issue_comments[comment["id"]] = comment
        return Reply(201, comment)

    def list_issue_comments(self, request: Request) -> Reply:
        number = request.int_param("number")
        found = [c for c in self.written.issue_comments.values() if c["issue_number"] == number]
        return paginate(request, found)

    def edit_issue_comment(self, request: Request) -> Reply:
        comment = self.written.issue_comments.get(request.int_param("comment_id"))
        if comment is None:
            raise not_found()
        _no_nulls(request.json or {})
        comment.update(body=(request.json or {}).get("body", comment["body"]))
        comment["updated_at"] = self.fake.iso(self.fake.clock())
        return Reply(200, comment)

    def react(self, request: Request) -> Reply:
        content = (request.json or {}).get("content")
        if content not in REACTIONS:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Reaction", "code": "invalid", "field": "content"}],
            )
        reaction = {"id": next_id(), "content": content, "user": self.bot(), "path": request.path}
        self.written.reactions.append(reaction)
        return Reply(201, reaction)

    def create_check_run(self, request: Request) -> Reply:
        body = request.json or {}
        _no_nulls(body)
        if not body.get("name") or not body.get("head_sha"):
            raise ApiError(422, 'Invalid request.\n\n"name" and "head_sha" are required.')
        run = {"id": next_id(), "status": "queued", "app": {"slug": self.fake.app_slug}, **body}
        self.written.check_runs[run["id"]] = run
        return Reply(201, run)

    def list_check_runs(self, request: Request) -> Reply:
        """The check runs of a commit (a SHA or a branch name), as GitHub wraps them.

        Filters `check_name` and `status`; `filter=latest` (GitHub's default)
        keeps the newest run of each name, `filter=all` every run. Paged.
        https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference
        """
        repo = self.repo_of(request)
        ref = request.params["ref"]
        sha = repo.branches.get(ref, ref)
        runs = [r for r in self.written.check_runs.values() if r.get("head_sha") == sha]
        if request.arg("check_name"):
            runs = [r for r in runs if r.get("name") == request.arg("check_name")]
        if request.arg("status"):
            runs = [r for r in runs if r.get("status") == request.arg("status")]
        if (request.arg("filter") or "latest") == "latest":
            newest: dict[str, dict[str, Any]] = {}
            for run in sorted(runs, key=lambda r: int(r["id"])):
                newest[str(run.get("name"))] = run
            runs = list(newest.values())
        runs.sort(key=lambda r: int(r["id"]), reverse=True)
        per_page, page = page_window(request)
        window = runs[(page - 1) * per_page : page * per_page]
        return Reply(200, {"total_count": len(runs), "check_runs": window})

    def update_check_run(self, request: Request) -> Reply:
        run = self.written.check_runs.get(request.int_param("check_run_id"))
        if run is None:
            raise not_found()
        _no_nulls(request.json or {})
        run.update(request.json or {})
        return Reply(200, run)

    def list_deliveries(self, request: Request) -> Reply:
        """Newest first, paged by `cursor` (the first delivery id of the page), as GitHub does.

        https://docs.github.com/rest/apps/webhooks#list-deliveries-for-an-app-webhook
        """
        per_page, _ = page_window(request)
        newest_first = sorted(self.written.deliveries, key=lambda d: int(d["id"]), reverse=True)
        cursor = request.arg("cursor")
        if cursor is not None:
            if not re.fullmatch(r"v1_\d+", cursor):
                raise ApiError(400, "Bad Request")
            newest_first = [d for d in newest_first if int(d["id"]) <= int(cursor[3:])]
        page, rest = newest_first[:per_page], newest_first[per_page:]
        reply = Reply(200, page)
        if rest:
            query = urlencode({"per_page": per_page, "cursor": f"v1_{rest[0]['id']}"})
            reply.headers["Link"] = f'<{request.base_url}{request.path}?{query}>; rel="next"'
        return reply

    def redeliver(self, request: Request) -> Reply:
        delivery_id = request.int_param("delivery_id")
        if not any(d["id"] == delivery_id for d in self.written.deliveries):
            raise not_found()
        self.written.redelivered.append(delivery_id)
        return Reply(202, {})
