"""Read endpoints of the fake GitHub (and the App's token exchange).

Shapes follow docs.github.com/rest; only the fields our code (and PyGithub's
object completion) reads are filled in, plus `url`s pointing back at the fake.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from tests.fakes.github_http import DOCS, ApiError, Reply, Request, not_found, paginate
from tests.fakes.github_state import FakePull, FakeRepo

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub

DIFF_MAX_FILES = 300
DIFF_MAX_LINES = 20000
COMPARE_MAX_FILES = 300


def register(fake: FakeGitHub) -> None:
    app = _AppRoutes(fake)
    fake.add_route("GET", "/app", app.get_app, "jwt")
    fake.add_route("GET", "/app/installations", app.list_installations, "jwt")
    fake.add_route("POST", "/app/installations/{installation_id}/access_tokens", app.mint, "jwt")
    fake.add_route("GET", "/repos/{owner}/{repo}/installation", app.repo_installation, "jwt")
    reads = _RepoReads(fake)
    fake.add_route("GET", "/repos/{owner}/{repo}", reads.get_repo, "repo")
    fake.add_route("GET", "/repos/{owner}/{repo}/pulls/{number}", reads.get_pull, "repo")
    fake.add_route("GET", "/repos/{owner}/{repo}/pulls/{number}/files", reads.pull_files, "repo")
    fake.add_route("GET", "/repos/{owner}/{repo}/compare/{basehead}", reads.compare, "repo")
    fake.add_route("GET", "/repos/{owner}/{repo}/contents/{path+}", reads.contents, "repo")
    fake.add_route(
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
        reads.permission,
        "repo",
    )


class _AppRoutes:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    def installation_json(self, installation_id: int) -> dict[str, Any]:
        found = self.fake.installations[installation_id]
        return {
            "id": found.id,
            "account": {"login": found.account, "type": "Organization"},
            "app_id": self.fake.app_id,
            "app_slug": self.fake.app_slug,
            "repository_selection": found.repository_selection,
            "suspended_at": None,
            **found.extra,
        }

    def get_app(self, request: Request) -> Reply:
        slug = self.fake.app_slug
        return Reply(
            200, {"id": self.fake.app_id, "slug": slug, "name": slug, "owner": {"login": "octo"}}
        )

    def list_installations(self, request: Request) -> Reply:
        return paginate(
            request, [self.installation_json(i) for i in sorted(self.fake.installations)]
        )

    def repo_installation(self, request: Request) -> Reply:
        repo = self.fake.repos.get(f"{request.params['owner']}/{request.params['repo']}".lower())
        if repo is None or repo.installation_id is None:
            raise not_found()
        return Reply(200, self.installation_json(repo.installation_id))

    def mint(self, request: Request) -> Reply:
        installation_id = request.int_param("installation_id")
        if installation_id not in self.fake.installations:
            raise not_found()
        body = request.json or {}
        mine = [r for r in self.fake.repos.values() if r.installation_id == installation_id]
        wanted: set[int] | None = None
        if "repository_ids" in body or "repositories" in body:
            by_id = {r.id: r for r in mine}
            by_name = {r.name.lower(): r for r in mine}
            picked = [by_id.get(i) for i in body.get("repository_ids", [])]
            picked += [by_name.get(str(n).lower()) for n in body.get("repositories", [])]
            if any(r is None for r in picked):
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible "
                    "to the parent installation.",
                    doc=f"{DOCS}/apps/apps#create-an-installation-access-token-for-an-app",
                )
            wanted = {r.id for r in picked if r is not None}
        grant = self.fake.mint_token(installation_id, wanted)
        answer: dict[str, Any] = {
            "token": grant.token,
            "expires_at": self.fake.iso(grant.expires_at),
            "permissions": body.get("permissions")
            or {"pull_requests": "write", "contents": "read"},
            "repository_selection": "selected" if wanted is not None else "all",
        }
        if wanted is not None:
            answer["repositories"] = [
                {"id": r.id, "full_name": r.full_name} for r in mine if r.id in wanted
            ]
        return Reply(201, answer)


class _RepoReads:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    def repo_of(self, request: Request) -> FakeRepo:
        return self.fake.repo(f"{request.params['owner']}/{request.params['repo']}")

    def pull_of(self, request: Request) -> tuple[FakeRepo, FakePull]:
        repo = self.repo_of(request)
        pull = repo.pulls.get(request.int_param("number"))
        if pull is None:
            raise not_found()
        return repo, pull

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "id": repo.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner},
            "private": repo.private,
            "default_branch": repo.default_branch,
            "url": f"{self.fake.url}/repos/{repo.full_name}",
        }

    def get_repo(self, request: Request) -> Reply:
        return Reply(200, self.repo_json(self.repo_of(request)))

    def permission(self, request: Request) -> Reply:
        """A collaborator's permission; 404 for someone who is not one."""
        self.repo_of(request)
        login = request.params["username"]
        level = self.fake.permissions.get(login)
        if level is None:
            raise ApiError(404, f"{login} is not a user")
        user = {"login": login, "type": "User"}
        return Reply(200, {"permission": level, "role_name": level, "user": user})

    def get_pull(self, request: Request) -> Reply:
        repo, pull = self.pull_of(request)
        if "diff" in request.headers.get("accept", ""):
            return self.pull_diff(repo, pull)
        entries = repo.diff_entries(repo.base_of(pull), pull.head_sha)
        url = f"{self.fake.url}/repos/{repo.full_name}/pulls/{pull.number}"
        return Reply(
            200,
            {
                "id": pull.id,
                "number": pull.number,
                "url": url,
                "state": pull.state,
                "draft": pull.draft,
                "merged": pull.merged,
                "title": pull.title,
                "body": pull.body or None,
                "user": {"login": pull.user, "type": "User"},
                "author_association": pull.author_association,
                "head": {"sha": pull.head_sha, "ref": pull.head_ref, "repo": self.repo_json(repo)},
                "base": {
                    "sha": repo.base_of(pull),
                    "ref": pull.base_ref,
                    "repo": self.repo_json(repo),
                },
                "changed_files": len(entries),
                "additions": sum(e["additions"] for e in entries),
                "deletions": sum(e["deletions"] for e in entries),
                "commits": 1,
            },
        )

    def pull_diff(self, repo: FakeRepo, pull: FakePull) -> Reply:
        entries = repo.diff_entries(repo.base_of(pull), pull.head_sha)
        lines = sum(e["changes"] for e in entries)
        if len(entries) > DIFF_MAX_FILES or lines > DIFF_MAX_LINES:
            what = (
                f"files ({DIFF_MAX_FILES})"
                if len(entries) > DIFF_MAX_FILES
                else f"lines ({DIFF_MAX_LINES})"
            )
            raise ApiError(
                406,
                f"Sorry, the diff exceeded the maximum number of {what}. Consider using "
                "'List pull requests files' API or locally cloning the repository instead.",
                errors=[{"resource": "PullRequest", "field": "diff", "code": "too_large"}],
                doc=f"{DOCS}/pulls/pulls#list-pull-requests-files",
            )
        text = []
        for entry in entries:
            old = entry.get("previous_filename", entry["filename"])
            text.append(f"diff --git a/{old} b/{entry['filename']}")
            if "patch" in entry:
                text += [f"--- a/{old}", f"+++ b/{entry['filename']}", entry["patch"]]
        return Reply(200, "\n".join(text) + "\n", content_type="text/plain; charset=utf-8")

    def pull_files(self, request: Request) -> Reply:
        repo, pull = self.pull_of(request)
        entries = repo.diff_entries(repo.base_of(pull), pull.head_sha)
        return paginate(request, entries, cap=self.fake.pr_files_cap)

    def compare(self, request: Request) -> Reply:
        repo = self.repo_of(request)
        base_ref, sep, head_ref = request.params["basehead"].partition("...")
        base, head = repo.resolve(base_ref), repo.resolve(head_ref)
        if not sep or base is None or head is None:
            raise not_found()
        if repo.merge_base(base, head) is None:
            raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
        status, ahead, behind = repo.compare_status(base, head)
        entries = repo.diff_entries(base, head)
        return Reply(
            200,
            {
                "url": f"{self.fake.url}/repos/{repo.full_name}/compare/{base_ref}...{head_ref}",
                "status": status,
                "ahead_by": ahead,
                "behind_by": behind,
                "total_commits": ahead,
                "merge_base_commit": {"sha": repo.merge_base(base, head)},
                "commits": [],
                "files": entries[:COMPARE_MAX_FILES],
            },
        )

    def contents(self, request: Request) -> Reply:
        repo = self.repo_of(request)
        ref = request.arg("ref") or repo.default_branch
        sha = repo.resolve(ref)
        if sha is None:
            raise ApiError(404, f"No commit found for the ref {ref}")
        tree = repo.commits[sha].tree
        path = request.params["path"].strip("/")
        if path not in tree:
            children = sorted(
                {p[len(path) + 1 :].split("/")[0] for p in tree if p.startswith(path + "/")}
            )
            if not children:
                raise not_found()
            return Reply(
                200,
                [{"type": "file", "name": c, "path": f"{path}/{c}", "size": 0} for c in children],
            )
        content = tree[path]
        answer: dict[str, Any] = {
            "type": "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "size": len(content),
            "sha": hashlib.sha1(b"blob " + content, usedforsecurity=False).hexdigest(),
            "url": f"{self.fake.url}/repos/{repo.full_name}/contents/{path}?ref={ref}",
            "encoding": "base64",
        }
        if len(content) > self.fake.inline_content_limit:
            answer.update(
                encoding="none", content=""
            )  # GitHub: 1-100 MB files come without content
        else:
            encoded = base64.b64encode(content).decode()
            answer["content"] = (
                "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
            )
        return Reply(200, answer)
