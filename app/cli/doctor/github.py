"""`kimi-review doctor`'s GitHub checks: the App's JWT, its installations, a plain token.

JWT -> `GET /app` proves the App id and private key belong together (a 401
there is a mismatched key or a wrong clock); `GET /app/installations` shows
where the App is installed (none is a warning: nothing will be reviewed).
Every URL is built from GITHUB_API_URL; each check returns a result, never raises.
"""

from __future__ import annotations

import time

import httpx

from app.cli.doctor.report import Check
from worker.config import GitHubSettings
from worker.github.auth import app_headers, make_app_jwt
from worker.github.sansio import error_message
from worker.secrets import Secret, redact_url


async def _get(http: httpx.AsyncClient, url: str, token: Secret, scheme: str) -> httpx.Response:
    return await http.get(url, headers=app_headers(token, scheme=scheme))


def _github_error(response: httpx.Response) -> str:
    message = error_message(response.content)
    return f"HTTP {response.status_code}" + (f": {message}" if message is not None else "")


async def app_checks(
    api_url: str, app_id: int, private_key: Secret, http: httpx.AsyncClient
) -> list[Check]:
    """JWT -> GET /app (who we are) -> GET /app/installations (where we are installed)."""
    root = api_url.rstrip("/")
    token = make_app_jwt(app_id, private_key, now=time.time())
    app_url = f"{root}/app"
    try:
        answer = await _get(http, app_url, token, "Bearer")
    except httpx.TransportError as exc:
        return [
            Check(
                "GitHub App",
                "fail",
                f"GET {redact_url(app_url)}: nothing answered ({type(exc).__name__})",
                "check GITHUB_API_URL and the network",
            )
        ]
    if answer.status_code != 200:
        fix = (
            "GITHUB_APP_ID and the private key must belong to the same App, "
            "and this machine's clock must be right"
            if answer.status_code == 401
            else "check GITHUB_API_URL (the REST API root, e.g. https://api.github.com)"
        )
        return [Check("GitHub App", "fail", f"GET {app_url}: {_github_error(answer)}", fix)]
    app = answer.json()
    shown = f"{app.get('name') or app.get('slug')} (id {app_id})"
    checks = [Check("GitHub App", "pass", f"GET {app_url}: authenticated as {shown}")]
    checks.append(await _installations_check(root, token, http))
    return checks


async def _installations_check(root: str, token: Secret, http: httpx.AsyncClient) -> Check:
    url = f"{root}/app/installations?per_page=100"
    try:
        answer = await _get(http, url, token, "Bearer")
    except httpx.TransportError as exc:
        return Check("GitHub App installations", "fail", f"GET {url}: {type(exc).__name__}")
    if answer.status_code != 200:
        return Check("GitHub App installations", "fail", f"GET {url}: {_github_error(answer)}")
    count = len(answer.json())
    if count == 0:
        return Check(
            "GitHub App installations",
            "warn",
            f"GET {url}: the App is not installed anywhere",
            "install the App on a repository (App settings -> Install App)",
        )
    more = "+" if 'rel="next"' in answer.headers.get("link", "") else ""
    return Check("GitHub App installations", "pass", f"GET {url}: {count}{more} installation(s)")


async def token_check(api_url: str, token: Secret, http: httpx.AsyncClient) -> Check:
    """A plain token (one-shot reviews): GET /user proves GitHub accepts it."""
    url = f"{api_url.rstrip('/')}/user"
    try:
        answer = await _get(http, url, token, "Bearer")
    except httpx.TransportError as exc:
        return Check("GITHUB_TOKEN", "fail", f"GET {url}: {type(exc).__name__}")
    if answer.status_code != 200:
        return Check(
            "GITHUB_TOKEN",
            "fail",
            f"GET {url}: {_github_error(answer)}",
            "create a new token with read access to the repositories to review",
        )
    return Check("GITHUB_TOKEN", "pass", f"GET {url}: accepted")


async def github_checks(
    github: GitHubSettings, left_out: set[str], http: httpx.AsyncClient
) -> list[Check]:
    """App auth when configured; else GITHUB_TOKEN (if any) and a ✗: the App is missing."""
    app_vars = {"GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_PRIVATE_KEY_PATH"}
    if github.app_id is not None and github.private_key is not None:
        return await app_checks(github.api_url, github.app_id, github.private_key, http)
    checks: list[Check] = []
    if github.token is not None:
        checks.append(await token_check(github.api_url, github.token, http))
    if left_out & app_vars:
        checks.append(Check("GitHub App", "fail", "not checked: an App variable above is invalid"))
    else:
        checks.append(
            Check(
                "GitHub App",
                "fail",
                "not configured: `serve` and `worker` authenticate as the GitHub App",
                "set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_PATH)",
            )
        )
    return checks
