"""`kimi-review doctor`: check every setting and service, keep going after a failure.

The settings are read leniently: each problem `load_settings` reports becomes a
✗ line naming its variable, then the offending variables are left out and the
settings read again, so the model endpoints, GitHub, Redis and the webhook
secret are still checked with what is usable. A check that depends on a
variable left out says so instead of guessing. Each check talks to its
service once, with short timeouts, and never raises: a failure is a result.
Rendering is in app/cli/doctor/report.py; this module only gathers the results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TextIO
from urllib.parse import urlsplit

import httpx
from redis.exceptions import AuthenticationError, RedisError

from app.cli.doctor.github import github_checks
from app.cli.doctor.report import Check, exit_code, render_checklist
from app.cli.exit_codes import ExitCode
from worker.config import ModelEndpoint, Settings, load_settings
from worker.envparse import SettingsError
from worker.llm.advice import url_variable
from worker.llm.probe import probe_endpoint
from worker.redis_client import redis_client
from worker.secrets import Secret, redact_url
from worker.settings.read import secret_names

HTTP_TIMEOUT: Final = httpx.Timeout(15.0, connect=5.0)
REDIS_TIMEOUT: Final = 3.0
WEBHOOK_SECRET_MIN: Final = 16
# Variables whose raw values are secrets: scrubbed from the output even when
# the settings could not be read at all.
SECRET_VARIABLES: Final = secret_names()  # the declared secrets (worker.settings)
_MAX_RELOADS: Final = 5


@dataclass(slots=True)
class LenientSettings:
    """The settings as far as they could be read, and what was left out to read them."""

    settings: Settings | None
    problems: list[str] = field(default_factory=list)
    left_out: set[str] = field(default_factory=set)


def _variable_of(problem: str) -> str:
    return problem.partition(":")[0].strip()


def load_lenient(environ: Mapping[str, str]) -> LenientSettings:
    """Read the settings; on problems, drop the variables they name and read again."""
    env = dict(environ)
    found = LenientSettings(None)
    for _ in range(_MAX_RELOADS):
        try:
            found.settings = load_settings(env)
        except SettingsError as exc:
            if not found.problems:  # later passes only echo the gaps we made ourselves
                found.problems = list(exc.problems)
            dropped = {_variable_of(p) for p in exc.problems} & env.keys()
            if not dropped:
                return found
            for name in dropped:
                del env[name]
            found.left_out |= dropped
        else:
            return found
    return found


def settings_checks(loaded: LenientSettings) -> list[Check]:
    if not loaded.problems:
        return [Check("settings", "pass", "every variable read")]
    checks = []
    for problem in loaded.problems:
        name, _, message = problem.partition(":")
        checks.append(
            Check(name.strip(), "fail", message.strip() or "invalid", "correct this variable")
        )
    if loaded.settings is None:
        checks.append(
            Check(
                "settings",
                "fail",
                "could not be read even with the variables above left out; "
                "the checks that need them were skipped",
                "fix the variables above and run doctor again",
            )
        )
    return checks


def _model_variable(role: str) -> str:
    return "API_LLM_PROVIDER_MODEL" if role == "main" else "API_LLM_FALLBACK_MODEL"


async def endpoint_check(endpoint: ModelEndpoint, http: httpx.AsyncClient) -> Check:
    """GET /models with the key; the configured model must be in the list."""
    result = await probe_endpoint(endpoint, http)
    name = f"{endpoint.role} model ({endpoint.model})"
    if result.problem is not None:
        return Check(name, "fail", f"GET {result.url}: {result.problem}", result.advice)
    if result.note is not None and "is not in the endpoint's list" in result.note:
        return Check(
            name,
            "fail",
            f"GET {result.url}: model not found: {result.note}",
            f"confirm the model name in {_model_variable(endpoint.role)} "
            f"(and that {url_variable(endpoint)} is the endpoint that serves it)",
        )
    if result.note is not None:
        return Check(name, "warn", f"GET {result.url}: key accepted, but {result.note}")
    return Check(name, "pass", f"GET {result.url}: key accepted, model offered")


def _missing_endpoint(role: str, loaded: LenientSettings) -> Check | None:
    if role == "fallback":
        return Check("fallback model", "pass", "not configured (optional)")
    if "API_OPEN_AI_API_KEY" in loaded.left_out or loaded.settings is None:
        return None  # already a ✗ line of its own
    return Check(
        "main model",
        "fail",
        "API_OPEN_AI_API_KEY is not set",
        "set API_OPEN_AI_API_KEY to a Kimi developer API key (platform.moonshot.ai)",
    )


async def model_checks(loaded: LenientSettings, http: httpx.AsyncClient) -> list[Check]:
    if loaded.settings is None:
        return []
    llm = loaded.settings.llm
    checks: list[Check] = []
    for role, endpoint in (("main", llm.main), ("fallback", llm.fallback)):
        if endpoint is not None:
            checks.append(await endpoint_check(endpoint, http))
        else:
            missing = _missing_endpoint(role, loaded)
            if missing is not None:
                checks.append(missing)
    return checks


async def redis_check(url: Secret) -> Check:
    """PING with a short timeout; the URL is shown with its password redacted."""
    shown = redact_url(url.reveal())
    client = redis_client(url.reveal(), connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    try:
        await client.ping()
    except AuthenticationError:
        return Check("Redis", "fail", f"PING {shown}: password refused", "check REDIS_URL")
    except (RedisError, OSError) as exc:
        return Check(
            "Redis",
            "fail",
            f"PING {shown}: no answer ({type(exc).__name__})",
            "start Redis, or point REDIS_URL at it",
        )
    finally:
        await client.aclose()
    return Check("Redis", "pass", f"PING {shown}: PONG")


def webhook_secret_check(loaded: LenientSettings) -> Check | None:
    if loaded.settings is None:
        return None
    secret = loaded.settings.github.webhook_secret
    name = "GITHUB_WEBHOOK_SECRET"
    if secret is None:
        return Check(
            name,
            "fail",
            "not set: `serve` refuses to start without it",
            "set the same value as the App's webhook secret",
        )
    if len(secret.reveal()) < WEBHOOK_SECRET_MIN:
        return Check(
            name,
            "warn",
            f"set, but shorter than {WEBHOOK_SECRET_MIN} characters",
            "use a long random value (openssl rand -hex 32) here and in the App's settings",
        )
    return Check(name, "pass", f"set ({WEBHOOK_SECRET_MIN}+ characters)")


async def run_doctor(environ: Mapping[str, str]) -> list[Check]:
    """Every check, in checklist order; never raises for a failing check."""
    loaded = load_lenient(environ)
    checks = settings_checks(loaded)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
        checks += await model_checks(loaded, http)
        if loaded.settings is not None:
            checks += await github_checks(loaded.settings.github, loaded.left_out, http)
    if loaded.settings is not None and "REDIS_URL" not in loaded.left_out:
        checks.append(await redis_check(loaded.settings.redis_url))
    webhook = webhook_secret_check(loaded)
    if webhook is not None:
        checks.append(webhook)
    return checks


def known_secrets(environ: Mapping[str, str]) -> list[str]:
    """Raw secret values from the environment (even unparseable ones), for scrubbing."""
    found = [environ.get(name, "") for name in SECRET_VARIABLES]
    # The Redis URL itself is shown (redacted); only its password is secret.
    found.append(urlsplit(environ.get("REDIS_URL", "")).password or "")
    pem = environ.get("GITHUB_APP_PRIVATE_KEY", "")
    found += [line for line in pem.replace("\\n", "\n").splitlines() if len(line) >= 16]
    return [value for value in found if value.strip()]


def doctor_main(environ: Mapping[str, str], out: TextIO) -> ExitCode:
    """Run every check, print the checklist, return the exit code (1 on any ✗)."""
    checks = asyncio.run(run_doctor(environ))
    out.write(render_checklist(checks, known_secrets(environ)))
    return exit_code(checks)
