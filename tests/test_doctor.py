"""`kimi-review doctor` against the fake model servers, the fake GitHub and real Redis."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from app.cli.doctor.checks import run_doctor
from app.cli.doctor.report import Check, exit_code, render_checklist
from tests.fakes.github_helpers import TEST_APP_ID, AppKeys, generate_app_keys
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_replies import kimi_code_agents_only
from tests.fakes.model_servers import FakeAnthropic, FakeKimi
from tests.support.processes import KIMI_REVIEW
from tests.support.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e

MAIN_KEY = "sk-doctor-main-key-0123456789abcdef"
FALLBACK_KEY = "sk-ant-doctor-fallback-0123456789abcdef"
WEBHOOK_SECRET = "doctor-webhook-secret-0123456789"


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MAIN_KEY) as fake:
        yield fake


@pytest.fixture
def installed_github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo("octo/widgets", installation_id=7)
    return fake_github


def doctor_env(
    kimi: FakeKimi, github: FakeGitHub, keys: AppKeys, redis_url: str, **overrides: str
) -> dict[str, str]:
    env = {
        "API_OPEN_AI_API_KEY": MAIN_KEY,
        "API_OPENAI_FORCE_BASE_URL": kimi.base_url,
        "GITHUB_API_URL": github.url,
        "GITHUB_APP_ID": str(TEST_APP_ID),
        "GITHUB_APP_PRIVATE_KEY": keys.private_pem.reveal(),
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "REDIS_URL": redis_url,
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def run_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KIMI_REVIEW), "doctor"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_good_config_passes_every_check_and_prints_no_secret(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    env = doctor_env(kimi, installed_github, github_app_keys, redis_url)
    done = run_cli(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗" not in done.stdout
    assert f"✓ main model (kimi-k2.6): GET {kimi.base_url}/models" in done.stdout
    assert "✓ GitHub App: GET" in done.stdout
    assert "kimi-review (id 424242)" in done.stdout
    assert "✓ GitHub App installations" in done.stdout
    assert "1 installation(s)" in done.stdout
    assert f"✓ Redis: PING {redis_url}: PONG" in done.stdout
    assert "✓ GITHUB_WEBHOOK_SECRET" in done.stdout
    assert "all 7 checks passed" in done.stdout
    pem_body = github_app_keys.private_pem.reveal().splitlines()[1]
    for secret in (MAIN_KEY, WEBHOOK_SECRET, pem_body):
        assert secret not in done.stdout + done.stderr


def test_failures_exit_1_and_never_print_a_password_or_key(
    kimi: FakeKimi, installed_github: FakeGitHub, redis_url: str
) -> None:
    other_keys = generate_app_keys()  # not the App's key: GitHub answers 401
    password = "redis-password-0123456789"
    dead_redis = f"redis://:{password}@127.0.0.1:{free_port()}/0"
    env = doctor_env(kimi, installed_github, other_keys, dead_redis, API_OPEN_AI_API_KEY="sk-wrong")
    done = run_cli(env)
    assert done.returncode == 1
    assert "✗ Redis: PING redis://:***@127.0.0.1:" in done.stdout
    assert "✗ main model (kimi-k2.6)" in done.stdout
    assert "HTTP 401" in done.stdout
    for secret in ("sk-wrong", password, other_keys.private_pem.reveal().splitlines()[1]):
        assert secret not in done.stdout + done.stderr


async def test_wrong_key_names_the_endpoint_and_the_key_variable(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    env = doctor_env(
        kimi, installed_github, github_app_keys, redis_url, API_OPEN_AI_API_KEY="sk-other-123456"
    )
    checks = await run_doctor(env)
    main = by_name(checks)["main model (kimi-k2.6)"]
    assert main.failed
    assert f"GET {kimi.base_url}/models" in main.detail
    assert main.fix is not None
    assert "API_OPEN_AI_API_KEY" in main.fix
    assert exit_code(checks) == 1
    assert by_name(checks)["Redis"].status == "pass"  # kept going after the failure


async def test_wrong_endpoint_says_which_url_nothing_answered_at(
    installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str, kimi: FakeKimi
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    env = doctor_env(
        kimi, installed_github, github_app_keys, redis_url, API_OPENAI_FORCE_BASE_URL=dead
    )
    main = by_name(await run_doctor(env))["main model (kimi-k2.6)"]
    assert main.failed
    assert f"GET {dead}/models" in main.detail
    assert main.fix is not None
    assert "API_OPENAI_FORCE_BASE_URL" in main.fix


async def test_model_not_listed_fails_and_asks_to_confirm_the_name(
    installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    with FakeKimi(api_key=MAIN_KEY, models=("kimi-k2.5",)) as kimi:
        env = doctor_env(kimi, installed_github, github_app_keys, redis_url)
        checks = await run_doctor(env)
    main = by_name(checks)["main model (kimi-k2.6)"]
    assert main.failed
    assert "model not found" in main.detail
    assert "offered: kimi-k2.5" in main.detail
    assert main.fix is not None
    assert "confirm the model name in API_LLM_PROVIDER_MODEL" in main.fix


async def test_kimi_code_refusal_points_to_the_developer_api(
    installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    with FakeKimi(api_key=MAIN_KEY, models_refusal=kimi_code_agents_only()) as kimi:
        env = doctor_env(kimi, installed_github, github_app_keys, redis_url)
        main = by_name(await run_doctor(env))["main model (kimi-k2.6)"]
    assert main.failed
    assert main.fix is not None
    assert "https://api.moonshot.ai/v1" in main.fix


async def test_fallback_endpoint_is_probed_too(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    with FakeAnthropic(api_key=FALLBACK_KEY) as claude:
        env = doctor_env(
            kimi,
            installed_github,
            github_app_keys,
            redis_url,
            API_LLM_FALLBACK_PROVIDER="anthropic",
            API_LLM_FALLBACK_MODEL="claude-sonnet-4-5",
            API_LLM_FALLBACK_BASE_URL=claude.base_url,
            API_LLM_FALLBACK_API_KEY=FALLBACK_KEY,
        )
        checks = await run_doctor(env)
    fallback = by_name(checks)["fallback model (claude-sonnet-4-5)"]
    assert fallback.status == "pass"
    assert exit_code(checks) == 0


async def test_redis_down_is_a_failure_naming_the_url(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys
) -> None:
    server = RedisServer().start()
    url = f"redis://127.0.0.1:{server.port}/0"
    server.stop()
    checks = await run_doctor(doctor_env(kimi, installed_github, github_app_keys, url))
    check = by_name(checks)["Redis"]
    assert check.failed
    assert f"PING {url}" in check.detail
    assert by_name(checks)["main model (kimi-k2.6)"].status == "pass"


async def test_malformed_private_key_is_reported_and_the_rest_still_checked(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    env = doctor_env(
        kimi,
        installed_github,
        github_app_keys,
        redis_url,
        GITHUB_APP_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nnot a key\n",
        API_LLM_MAX_COMPLETION_TOKENS="lots",
    )
    checks = by_name(await run_doctor(env))
    assert checks["GITHUB_APP_PRIVATE_KEY"].failed
    assert "not a PEM private key" in checks["GITHUB_APP_PRIVATE_KEY"].detail
    assert checks["API_LLM_MAX_COMPLETION_TOKENS"].failed
    assert checks["GitHub App"].detail == "not checked: an App variable above is invalid"
    assert checks["main model (kimi-k2.6)"].status == "pass"
    assert checks["Redis"].status == "pass"
    assert checks["GITHUB_WEBHOOK_SECRET"].status == "pass"


async def test_app_key_of_another_app_is_refused_with_the_clock_hint(
    kimi: FakeKimi, installed_github: FakeGitHub, redis_url: str
) -> None:
    env = doctor_env(kimi, installed_github, generate_app_keys(), redis_url)
    app = by_name(await run_doctor(env))["GitHub App"]
    assert app.failed
    assert "HTTP 401" in app.detail
    assert app.fix is not None
    assert "clock" in app.fix


async def test_app_without_installations_is_a_warning(
    kimi: FakeKimi, fake_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    checks = await run_doctor(doctor_env(kimi, fake_github, github_app_keys, redis_url))
    installations = by_name(checks)["GitHub App installations"]
    assert installations.status == "warn"
    assert installations.fix is not None
    assert "install the App" in installations.fix
    assert exit_code(checks) == 0


async def test_short_webhook_secret_warns_and_a_missing_one_fails(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    short = doctor_env(
        kimi, installed_github, github_app_keys, redis_url, GITHUB_WEBHOOK_SECRET="short"
    )
    assert by_name(await run_doctor(short))["GITHUB_WEBHOOK_SECRET"].status == "warn"
    missing = doctor_env(
        kimi, installed_github, github_app_keys, redis_url, GITHUB_WEBHOOK_SECRET=""
    )
    assert by_name(await run_doctor(missing))["GITHUB_WEBHOOK_SECRET"].failed


async def test_no_app_configured_is_a_failure_for_serve_and_worker(
    kimi: FakeKimi, installed_github: FakeGitHub, github_app_keys: AppKeys, redis_url: str
) -> None:
    env = doctor_env(
        kimi,
        installed_github,
        github_app_keys,
        redis_url,
        GITHUB_APP_ID="",
        GITHUB_APP_PRIVATE_KEY="",
    )
    app = by_name(await run_doctor(env))["GitHub App"]
    assert app.failed
    assert "not configured" in app.detail


def test_checklist_marks_each_status_and_scrubs_known_secrets() -> None:
    checks = [
        Check("Redis", "pass", "PING redis://127.0.0.1:6379/0: PONG"),
        Check("GITHUB_WEBHOOK_SECRET", "warn", "set, but short", "use a longer one"),
        Check("main model (k)", "fail", "server said: hunter2-secret-value", "fix the key"),
    ]
    text = render_checklist(checks, ["hunter2-secret-value"])
    assert text.splitlines() == [
        "kimi-review doctor",
        "✓ Redis: PING redis://127.0.0.1:6379/0: PONG",
        "! GITHUB_WEBHOOK_SECRET: set, but short",
        "    fix: use a longer one",
        "✗ main model (k): server said: ***",
        "    fix: fix the key",
        "1 of 3 checks failed, 1 warning(s): fix the ✗ lines",
    ]
    assert exit_code(checks[:2]) == 0
    assert exit_code(checks) == 1
