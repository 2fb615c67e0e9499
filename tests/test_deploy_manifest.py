"""deploy/github-app-manifest.json: exactly the permissions and events the bot needs.

The manifest grants five repository permissions and subscribes to the two
events the receiver acts on. The last tests read app/ and worker/ for every
GitHub REST path and PyGithub call the code makes, and look each one up in
ENDPOINTS / PYGITHUB_CALLS below (GitHub's "Permissions required for GitHub
Apps"): a new endpoint that is not in the table, or whose permission the
manifest does not grant, fails here before it fails in production with 403.
https://docs.github.com/rest/authentication/permissions-required-for-github-apps
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import github
import pytest

from app.events import DECODERS

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "deploy" / "github-app-manifest.json"
SCANNED = ("app", "worker")

Level = Literal["read", "write"]
LEVELS: dict[str, int] = {"read": 1, "write": 2}
# Permissions as GitHub names them in a manifest's default_permissions.
WANTED = {
    "pull_requests": "write",  # post the review (inline comments, suggestions)
    "contents": "read",  # compare commits, read files and .kimi-review.toml at the base, tarball
    "issues": "write",  # the sticky summary comment, command replies, reactions
    "checks": "write",  # the check run that says what the review did
    "metadata": "read",  # mandatory for any repository access
}
# GitHub delivers these to every App without a subscription (and `ping` once, at creation):
# "All GitHub Apps receive this event by default. You cannot manually subscribe to this event."
# https://docs.github.com/webhooks/webhook-events-and-payloads#installation
DELIVERED_UNASKED = frozenset({"ping", "installation", "installation_repositories"})
# Which permission lets an App receive an event (any one of them).
EVENT_PERMISSIONS = {
    "pull_request": ("pull_requests",),
    "issue_comment": ("issues", "pull_requests"),
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A REST path template and the permissions (any one of them) it needs.

    `permissions=()` marks endpoints called with the App's JWT (no installation
    permission involved). The level comes from the call: reads need `read`,
    POST/PATCH/PUT/DELETE need `write`.
    """

    template: str
    permissions: tuple[str, ...]

    @property
    def canonical(self) -> str:
        return re.sub(r"\{[^}]*\}", "X", self.template)


_ISSUES_OR_PRS = ("issues", "pull_requests")
ENDPOINTS: tuple[Endpoint, ...] = (
    # App (JWT) endpoints: installation lookup, token minting, webhook deliveries.
    Endpoint("/app", ()),
    Endpoint("/app/installations", ()),
    Endpoint("/app/installations/{installation_id}", ()),
    Endpoint("/app/installations/{installation_id}/access_tokens", ()),
    Endpoint("/repos/{owner}/{repo}/installation", ()),
    Endpoint("/app/hook/config", ()),
    Endpoint("/app/hook/deliveries", ()),
    Endpoint("/app/hook/deliveries/{delivery_id}", ()),
    Endpoint("/app/hook/deliveries/{delivery_id}/attempts", ()),
    Endpoint("/rate_limit", ()),
    # `doctor` with only GITHUB_TOKEN: the user's own token, no App permission involved.
    Endpoint("/user", ()),
    Endpoint("/installation/repositories", ("metadata",)),
    Endpoint("/repos/{owner}/{repo}", ("metadata",)),
    Endpoint("/repos/{owner}/{repo}/collaborators/{username}/permission", ("metadata",)),
    # Pull requests and reviews.
    Endpoint("/repos/{owner}/{repo}/pulls/{pull_number}", ("pull_requests",)),
    Endpoint("/repos/{owner}/{repo}/pulls/{pull_number}/files", ("pull_requests",)),
    Endpoint("/repos/{owner}/{repo}/pulls/{pull_number}/commits", ("pull_requests",)),
    Endpoint("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", ("pull_requests",)),
    Endpoint("/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}", ("pull_requests",)),
    Endpoint(
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments",
        ("pull_requests",),
    ),
    Endpoint(
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals",
        ("pull_requests",),
    ),
    Endpoint("/repos/{owner}/{repo}/pulls/{pull_number}/comments", ("pull_requests",)),
    Endpoint("/repos/{owner}/{repo}/pulls/comments/{comment_id}", ("pull_requests",)),
    # Issue comments on the PR (sticky summary, command replies) and reactions.
    Endpoint("/repos/{owner}/{repo}/issues/{issue_number}", _ISSUES_OR_PRS),
    Endpoint("/repos/{owner}/{repo}/issues/{issue_number}/comments", _ISSUES_OR_PRS),
    Endpoint("/repos/{owner}/{repo}/issues/comments/{comment_id}", _ISSUES_OR_PRS),
    Endpoint("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", _ISSUES_OR_PRS),
    # Check runs.
    Endpoint("/repos/{owner}/{repo}/check-runs", ("checks",)),
    Endpoint("/repos/{owner}/{repo}/check-runs/{check_run_id}", ("checks",)),
    Endpoint("/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", ("checks",)),
    Endpoint("/repos/{owner}/{repo}/commits/{ref}/check-runs", ("checks",)),
    # Repository contents.
    Endpoint("/repos/{owner}/{repo}/contents/{path}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/compare/{base}...{head}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/compare/{basehead}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/commits", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/commits/{ref}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/git/blobs/{sha}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/git/trees/{sha}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/git/commits/{sha}", ("contents",)),
    Endpoint("/repos/{owner}/{repo}/tarball/{ref}", ("contents",)),
    # Known, and NOT granted: using it fails the coverage test on purpose.
    Endpoint("/repos/{owner}/{repo}/statuses/{sha}", ("statuses",)),
)

# PyGithub methods (the `github` package) -> (permissions, any one of them; level).
PYGITHUB_CALLS: dict[str, tuple[tuple[str, ...], Level]] = {
    "get_repo": (("metadata",), "read"),
    "get_pull": (("pull_requests",), "read"),
    "get_pulls": (("pull_requests",), "read"),
    "get_files": (("pull_requests",), "read"),
    "get_commits": (("pull_requests", "contents"), "read"),
    "get_reviews": (("pull_requests",), "read"),
    "get_review": (("pull_requests",), "read"),
    "get_review_comments": (("pull_requests",), "read"),
    "get_single_review_comments": (("pull_requests",), "read"),
    "get_comments": (_ISSUES_OR_PRS, "read"),
    "create_review": (("pull_requests",), "write"),
    "create_review_comment": (("pull_requests",), "write"),
    "dismiss": (("pull_requests",), "write"),
    "get_issue": (_ISSUES_OR_PRS, "read"),
    "as_issue": (_ISSUES_OR_PRS, "read"),
    "as_pull_request": (("pull_requests",), "read"),
    "get_issue_comments": (_ISSUES_OR_PRS, "read"),
    "get_issue_comment": (_ISSUES_OR_PRS, "read"),
    "create_issue_comment": (_ISSUES_OR_PRS, "write"),
    "create_comment": (_ISSUES_OR_PRS, "write"),
    "create_reaction": (_ISSUES_OR_PRS, "write"),
    "edit": (("issues", "pull_requests", "checks"), "write"),
    "delete": (("issues", "pull_requests", "checks"), "write"),
    "create_check_run": (("checks",), "write"),
    "get_check_run": (("checks",), "read"),
    "get_check_runs": (("checks",), "read"),
    "get_contents": (("contents",), "read"),
    "compare": (("contents",), "read"),
    "get_commit": (("contents",), "read"),
    "get_git_blob": (("contents",), "read"),
    "get_git_tree": (("contents",), "read"),
    "get_git_commit": (("contents",), "read"),
    "get_collaborator_permission": (("metadata",), "read"),
    "get_installation": ((), "read"),
    "get_repo_installation": ((), "read"),
    "get_app": ((), "read"),
    "get_access_token": ((), "write"),
    "get_rate_limit": ((), "read"),
}

# The first segment of a GitHub REST path, and of a path under /repos/{o}/{r}.
_ROOTS = frozenset(
    {"repos", "app", "app-manifests", "installation", "orgs", "users", "user", "graphql"}
    | {"search", "repositories", "rate_limit", "meta", "gists", "notifications"}
)
_REPO_PARTS = frozenset(
    {"pulls", "issues", "check-runs", "check-suites", "contents", "compare", "git", "commits"}
    | {"statuses", "hooks", "collaborators", "labels", "deployments", "actions", "branches"}
)
_WRITE_VERBS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_PYGITHUB_PREFIX = re.compile(
    r"^(get_|create_|edit|delete|update_|remove_|add_|set_|mark_|merge|compare|dismiss)"
    r"|^(as_issue|as_pull_request|lock|unlock|rerequest)$"
)


@dataclass(frozen=True, slots=True)
class Use:
    """One GitHub call found in the source: where, what, and read or write."""

    where: str
    what: str
    level: Level


def manifest() -> dict[str, Any]:
    loaded = json.loads(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


# --- finding the GitHub calls in the source -------------------------------------
def _path_text(node: ast.expr) -> str | None:
    """A string literal, with each f-string `{...}` replaced by `{}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
            for part in node.values
        )
    return None


def github_path(text: str) -> str | None:
    """The REST path a string names, as `/repos/{}/{}/...`, or None if it names none."""
    # str.format / %-style templates ("/repos/{owner}/...", "/repos/%s/...") read like f-strings.
    path = re.sub(r"\{[^{}]*\}|%[sd]", "{}", text.split("?", 1)[0])
    if not re.fullmatch(r"(\{\})?(/[^/\s]+)+/?", path):
        return None
    first = path.removeprefix("{}").split("/")[1]
    if first in _ROOTS:
        return path.removeprefix("{}")  # a leading {} is the API root (GITHUB_API_URL)
    if path.startswith("{}/") and first in _REPO_PARTS:
        return "/repos/{}/{}" + path[2:]  # the {} held /repos/{owner}/{repo}
    return None


def _verbs(scope: ast.AST) -> set[str]:
    """HTTP verbs a function uses: "POST" literals and `.post(...)` style calls."""
    found: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Constant) and node.value in _WRITE_VERBS:
            found.add(str(node.value))
        method = _called_method(node)
        if method is not None and method.upper() in _WRITE_VERBS:
            found.add(method.upper())
    return found


def _called_method(node: ast.AST) -> str | None:
    """`name` for a call `something.name(...)`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _scopes(tree: ast.Module) -> list[ast.AST]:
    functions = [
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    # Innermost first, so a literal is judged by the function that holds it.
    return [*sorted(functions, key=lambda f: (f.end_lineno or 0) - f.lineno), tree]


def rest_paths_in(source: str, where: str) -> list[Use]:
    tree = ast.parse(source)
    uses: list[Use] = []
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if id(node) in docstrings or isinstance(parents.get(id(node)), ast.JoinedStr):
            continue  # docs, and the pieces of an f-string (the whole is read instead)
        if not isinstance(node, ast.expr):
            continue
        text = _path_text(node)
        path = github_path(text) if text is not None else None
        if path is None:
            continue
        scope = next(s for s in _scopes(tree) if _contains(s, node))
        level: Level = "write" if _verbs(scope) else "read"
        uses.append(Use(f"{where}:{getattr(node, 'lineno', 0)}", path, level))
    return uses


def _contains(scope: ast.AST, node: ast.AST) -> bool:
    if isinstance(scope, ast.Module):
        return True
    start, end = getattr(scope, "lineno", 0), getattr(scope, "end_lineno", 0)
    return start <= getattr(node, "lineno", -1) <= (end or 0)


@cache
def pygithub_methods() -> frozenset[str]:
    """Public method names of PyGithub's classes that issue requests."""
    names: set[str] = set()
    for info in pkgutil.iter_modules(github.__path__):
        module = importlib.import_module(f"github.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__.startswith("github"):
                names |= {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}
    return frozenset(name for name in names if _PYGITHUB_PREFIX.match(name))


def _imports_pygithub(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "github" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            imported = (node.module or "").split(".")[0]
            if imported == "github":
                return True
    return False


def pygithub_calls_in(source: str, where: str) -> list[Use]:
    tree = ast.parse(source)
    if not _imports_pygithub(tree):
        return []
    uses = []
    for node in ast.walk(tree):
        method = _called_method(node)
        if method is not None and method in pygithub_methods():
            level = PYGITHUB_CALLS[method][1] if method in PYGITHUB_CALLS else "read"
            uses.append(Use(f"{where}:{getattr(node, 'lineno', 0)}", method, level))
    return uses


def sources() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), path.read_text())
        for package in SCANNED
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def endpoint_for(path: str) -> Endpoint | None:
    """The table row a found path names; a `{}` may span segments (`owner/name`)."""
    pattern = re.compile(
        "".join(".+?" if part == "{}" else re.escape(part) for part in re.split(r"(\{\})", path))
        + "/?"
    )
    matches = [e for e in ENDPOINTS if pattern.fullmatch(e.canonical)]
    return min(matches, key=lambda e: len(e.canonical)) if matches else None


def _granted(permissions: tuple[str, ...], level: Level) -> bool:
    granted = manifest()["default_permissions"]
    if not permissions:
        return True
    return any(LEVELS.get(granted.get(p, ""), 0) >= LEVELS[level] for p in permissions)


# --- the manifest itself -------------------------------------------------------------
def test_manifest_requests_exactly_the_permissions_the_bot_needs() -> None:
    assert manifest()["default_permissions"] == WANTED


def test_manifest_subscribes_to_exactly_the_events_the_receiver_acts_on() -> None:
    acted_on = set(DECODERS) - DELIVERED_UNASKED
    assert set(manifest()["default_events"]) == acted_on == {"pull_request", "issue_comment"}


def test_every_subscribed_event_is_allowed_by_a_granted_permission() -> None:
    granted = manifest()["default_permissions"]
    for event in manifest()["default_events"]:
        assert any(p in granted for p in EVENT_PERMISSIONS[event]), event


def test_manifest_webhook_points_at_the_receivers_route() -> None:
    hook = manifest()["hook_attributes"]
    assert hook["url"].startswith("https://")
    assert hook["url"].endswith("/webhooks/github")
    assert hook["active"] is True
    assert '"/webhooks/github"' in (ROOT / "app" / "webhooks.py").read_text()


def test_manifest_has_the_fields_githubs_manifest_flow_reads() -> None:
    allowed = {
        "name",
        "url",
        "hook_attributes",
        "redirect_url",
        "callback_urls",
        "setup_url",
        "description",
        "public",
        "default_events",
        "default_permissions",
        "request_oauth_on_install",
        "setup_on_update",
    }
    found = manifest()
    assert set(found) <= allowed
    assert {"url", "name", "hook_attributes", "redirect_url"} <= set(found)
    assert found["public"] is False  # a self-hosted bot is installed by its owner only


# --- the manifest covers the endpoints the code calls --------------------------------
def test_path_finder_reads_f_strings_and_skips_other_apis() -> None:
    sample = '''
import httpx
async def post_review(http, o, r, n):
    """Posts to /repos/{o}/{r}/pulls/{n}/reviews (a docstring, not a call)."""
    return await http.post(f"/repos/{o}/{r}/pulls/{n}/reviews?x=1", json={})
async def files(http, base, n):
    return await http.get(f"{base}/pulls/{n}/files")
REVIEW_COMMENTS = "/repos/{owner}/{repo}/pulls/comments/{comment_id}"
async def chat(http, url):
    return await http.post(f"{url}/chat/completions", json={})
'''
    uses = rest_paths_in(sample, "sample.py")
    assert {(u.what, u.level) for u in uses} == {
        ("/repos/{}/{}/pulls/{}/reviews", "write"),
        ("/repos/{}/{}/pulls/{}/files", "read"),
        ("/repos/{}/{}/pulls/comments/{}", "write"),  # module level: the module posts
    }
    assert endpoint_for("/repos/{}") == Endpoint("/repos/{owner}/{repo}", ("metadata",))


def test_every_rest_path_the_code_uses_is_a_known_endpoint() -> None:
    unknown = [
        f"{use.where} {use.what}"
        for where, source in sources()
        for use in rest_paths_in(source, where)
        if endpoint_for(use.what) is None
    ]
    assert not unknown, f"add these to ENDPOINTS with their permission: {unknown}"


def test_manifest_grants_what_every_rest_call_needs() -> None:
    found = [use for where, source in sources() for use in rest_paths_in(source, where)]
    assert any(use.what.startswith("/app/installations/") for use in found), "scan found nothing"
    for use in found:
        endpoint = endpoint_for(use.what)
        assert endpoint is not None
        assert _granted(endpoint.permissions, use.level), (
            f"{use.where} {use.level}s {use.what}: needs {' or '.join(endpoint.permissions)}"
            f": {use.level}, which the manifest does not grant"
        )


def test_every_pygithub_call_is_a_known_endpoint_and_granted() -> None:
    found = [use for where, source in sources() for use in pygithub_calls_in(source, where)]
    for use in found:
        assert use.what in PYGITHUB_CALLS, f"{use.where}: add PyGithub `{use.what}` to the table"
        permissions, level = PYGITHUB_CALLS[use.what]
        assert _granted(permissions, level), f"{use.where} {use.what} needs {permissions}"


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ("/repos/{}/{}/statuses/{}", "write"),
        ("/repos/{}/{}/contents/{}", "write"),
    ],
)
def test_an_ungranted_endpoint_would_be_caught(path: str, level: Level) -> None:
    endpoint = endpoint_for(path)
    assert endpoint is not None
    assert not _granted(endpoint.permissions, level)
