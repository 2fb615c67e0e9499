"""The one typed Settings object, read from the environment at startup.

Nothing here runs at import time: `load_settings(os.environ)` is called by the
command line once, and the result is passed down. Variable names follow
the README's Configuration ("Fixed Mode", Kodus-compatible for the LLM
block). Every problem in the environment is reported at once, each naming its variable; secrets are
wrapped in `Secret` so reprs and logs never show them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from worker.envparse import EnvReader, SettingsError
from worker.secrets import Secret
from worker.settings.read import DECLARED, DeclaredEnv, declared_int, declared_seconds

Provider = Literal["openai_compatible", "anthropic"]
Thinking = Literal["enabled", "disabled", "auto"]
ContextMode = Literal["targeted", "off"]
Plan = Literal["kimi_code", "moonshot", "moonshot_cn", "anthropic", "custom"]
Command = Literal["serve", "worker", "review", "review_diff", "doctor", "usage", "eval"]

ANTHROPIC_URL = "https://api.anthropic.com"
# The computed default of the caps (declared as a rule; the plan needs the URL).
KIMI_CODE_CAP = 30
DEFAULT_CAP = 50
# Spend limits on by default: any stranger can open a PR of 3,000 files x 512 KiB.
DEFAULT_REVIEW_MAX_TOKENS = declared_int("API_LLM_REVIEW_MAX_TOKENS")
DEFAULT_UNTRUSTED_MAX_LINES = declared_int("REVIEW_UNTRUSTED_MAX_LINES")
# The severities of a finding: the model's answer (worker.model_answer) and the
# posting threshold share this one vocabulary.
Severity = Literal["critical", "high", "medium", "low"]
DEFAULT_MIN_SEVERITY: Final = cast(Severity, DECLARED["REVIEW_MIN_SEVERITY"].default)


def detect_plan(base_url: str, provider: Provider) -> Plan:
    """Which Moonshot product a base URL belongs to (drives defaults and advice)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if provider == "anthropic":
        return "anthropic"
    if host == "api.kimi.com" and parts.path.startswith("/coding"):
        return "kimi_code"
    if host == "api.moonshot.cn":
        return "moonshot_cn"
    if host == "api.moonshot.ai":
        return "moonshot"
    return "custom"


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """One model behind one key: the main model or the fallback."""

    role: Literal["main", "fallback"]
    provider: Provider
    model: str
    base_url: str
    api_key: Secret
    max_concurrent: int  # 0 = no cap
    plan: Plan

    @property
    def key_id(self) -> str:
        """Stable, non-secret id of (provider, URL, key): names the gate and breaker."""
        digest = hashlib.sha256(
            f"{self.provider}\0{self.base_url}\0{self.api_key.reveal()}".encode()
        )
        return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PassSettings:
    """How many times each chunk is reviewed, and whether its findings are then checked.

    Measured on held-out PRs: a second finder pass merged in raises recall and
    lowers precision; a verifier that drops only what the shown code refutes
    wins the precision back. Each costs calls: `passes` per chunk, plus one
    verifying call per chunk that has findings.
    """

    passes: int = declared_int("API_LLM_REVIEW_PASSES")
    """API_LLM_REVIEW_PASSES: independent finder passes per chunk, merged (1-5)."""
    verify: bool = True
    """API_LLM_VERIFY: one more call per chunk with findings drops the refuted ones."""


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """How the main model is called (Kimi specifics apply to openai_compatible only)."""

    main: ModelEndpoint | None  # None only when the key is missing (doctor reports it)
    fallback: ModelEndpoint | None
    thinking: Thinking = "enabled"
    reasoning_override: dict[str, Any] | None = None
    temperature_override: float | None = None
    max_completion_tokens: int = declared_int("API_LLM_MAX_COMPLETION_TOKENS")
    chunk_tokens: int = declared_int("API_LLM_CHUNK_TOKENS")
    review_max_tokens: int | None = DEFAULT_REVIEW_MAX_TOKENS  # None: no ceiling
    request_timeout: int = declared_int("API_LLM_TIMEOUT")
    breaker_cooldown: int = declared_int("API_LLM_BREAKER_COOLDOWN")
    context: ContextMode = "targeted"  # code from the head revision beside each chunk's diff
    passes: PassSettings = field(default_factory=PassSettings)


@dataclass(frozen=True, slots=True)
class GitHubSettings:
    """GitHub App identity (or a plain token for the one-shot review) and API root."""

    api_url: str = "https://api.github.com"
    app_id: int | None = None
    app_slug: str | None = None
    private_key: Secret | None = None
    webhook_secret: Secret | None = None
    token: Secret | None = None


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """Token budget per rolling window for the main key (Kimi plans: 7-day cycles)."""

    tokens: int | None = None
    window_seconds: int = declared_seconds("API_LLM_QUOTA_WINDOW")
    anchor: datetime | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the product reads from the environment."""

    llm: LLMSettings
    github: GitHubSettings = field(default_factory=GitHubSettings)
    quota: QuotaSettings = field(default_factory=QuotaSettings)
    redis_url: Secret = field(default_factory=lambda: Secret("redis://localhost:6379/0"))
    log_format: Literal["json", "console"] = "json"
    metrics_port: int | None = None
    review_max_comments: int = declared_int("REVIEW_MAX_COMMENTS")
    # Findings below this severity are not posted (a repository's `min_severity`
    # chooses its own); `high` gave the best F1 on the development set, `medium`
    # the best recall (README, "How good are the reviews").
    review_min_severity: Severity = DEFAULT_MIN_SEVERITY
    # Changed lines above which a PR from outside the repository (author not
    # OWNER, MEMBER or COLLABORATOR) waits for a maintainer's `/review`; 0 = no limit.
    review_untrusted_max_lines: int = DEFAULT_UNTRUSTED_MAX_LINES
    job_timeout: int = declared_int("WORKER_JOB_TIMEOUT")
    # Seconds a review's lease lasts unrenewed: a dead worker's review resumes after it.
    review_lease: int = declared_int("WORKER_REVIEW_LEASE")
    max_reviews: int = declared_int("WORKER_MAX_REVIEWS")  # reviews one worker runs at once
    # Seconds after which an unfinished review is abandoned.
    give_up_after: int = declared_seconds("WORKER_REVIEW_GIVE_UP_AFTER")
    judge: ModelEndpoint | None = None  # `kimi-review eval`'s judge (API_LLM_JUDGE_*)

    def secret_values(self) -> list[str]:
        """Every secret's raw value, for the log scrubber."""
        found = [self.redis_url.reveal()]
        for endpoint in (self.llm.main, self.llm.fallback, self.judge):
            if endpoint is not None:
                found.append(endpoint.api_key.reveal())
        for secret in (self.github.private_key, self.github.webhook_secret, self.github.token):
            if secret is not None:
                found.append(secret.reveal())
        return found

    def require(self, command: Command) -> None:
        """Raise SettingsError when `command` lacks a variable it cannot run without."""
        problems: list[str] = []
        if command == "serve" and self.github.webhook_secret is None:
            problems.append(
                "GITHUB_WEBHOOK_SECRET: required by `serve`; the receiver refuses unsigned "
                "webhooks (set the same value as the App's webhook secret)"
            )
        if command in ("worker", "review", "review_diff", "eval") and self.llm.main is None:
            problems.append("API_OPEN_AI_API_KEY: required: the key for the main model")
        if command == "worker" and (self.github.app_id is None or self.github.private_key is None):
            problems.append(
                "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_PATH): "
                "required by `worker` to authenticate as the GitHub App"
            )
        has_app = self.github.app_id is not None and self.github.private_key is not None
        if command == "review" and self.github.token is None and not has_app:
            problems.append(
                "GITHUB_TOKEN: required by `review <PR URL>` (or the GitHub App variables)"
            )
        if problems:
            raise SettingsError(problems)


def _private_key(env: DeclaredEnv) -> Secret | None:
    literal = env.raw("GITHUB_APP_PRIVATE_KEY")
    path = env.raw("GITHUB_APP_PRIVATE_KEY_PATH")
    if literal is not None and path is not None:
        env.fail("GITHUB_APP_PRIVATE_KEY_PATH", "set either it or GITHUB_APP_PRIVATE_KEY, not both")
    name = "GITHUB_APP_PRIVATE_KEY"
    if literal is None and path is not None:
        name = "GITHUB_APP_PRIVATE_KEY_PATH"
        try:
            literal = Path(path).read_text()
        except OSError as exc:
            env.fail(name, f"cannot read {path}: {exc.strerror}")
            return None
    if literal is None:
        return None
    pem = literal.replace("\\n", "\n").strip() + "\n"
    try:  # PKCS#1 ("BEGIN RSA PRIVATE KEY") and PKCS#8 ("BEGIN PRIVATE KEY") both load.
        load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        env.fail(name, "is not a PEM private key (download it again from the App's settings)")
        return None
    return Secret(pem)


def _endpoint(env: DeclaredEnv, role: Literal["main", "fallback"]) -> ModelEndpoint | None:
    if role == "main":
        names = ("API_LLM_PROVIDER", "API_LLM_PROVIDER_MODEL", "API_OPENAI_FORCE_BASE_URL")
        key_name, cap_name = "API_OPEN_AI_API_KEY", "API_LLM_MAX_CONCURRENT_REQUESTS"
    else:
        names = ("API_LLM_FALLBACK_PROVIDER", "API_LLM_FALLBACK_MODEL", "API_LLM_FALLBACK_BASE_URL")
        key_name, cap_name = "API_LLM_FALLBACK_API_KEY", "API_LLM_FALLBACK_MAX_CONCURRENT_REQUESTS"
    model = env.text(names[1])
    provider: Provider = env.choice(names[0])  # type: ignore[assignment]
    # Computed defaults (declared as rules): Anthropic's own URL for an anthropic provider.
    base_url = env.url(names[2], ANTHROPIC_URL if provider == "anthropic" else None)
    key = env.secret(key_name)
    if role == "fallback" and model is None:
        for stray in (names[2], key_name):
            if env.raw(stray) is not None:
                env.fail(names[1], f"required when {stray} is set (names the fallback model)")
        return None
    if base_url is None:
        env.fail(names[2], "required for an openai_compatible fallback")
        return None
    if key is None:
        if role == "fallback":
            env.fail(key_name, "required when API_LLM_FALLBACK_MODEL is set")
        return None
    plan = detect_plan(base_url, provider)
    cap = env.integer(cap_name, KIMI_CODE_CAP if plan == "kimi_code" else DEFAULT_CAP)
    if model is None or cap is None:
        return None
    return ModelEndpoint(role, provider, model, base_url, key, cap, plan)


def _review_max_tokens(env: DeclaredEnv) -> int | None:
    """API_LLM_REVIEW_MAX_TOKENS: on by default (a stranger's PR costs no end); 0 = off."""
    value = env.count("API_LLM_REVIEW_MAX_TOKENS")
    if 0 < value < 1000:
        env.fail(
            "API_LLM_REVIEW_MAX_TOKENS", f"must be 0 (no ceiling) or at least 1000, got {value}"
        )
        return DEFAULT_REVIEW_MAX_TOKENS
    return value or None


def _llm(env: DeclaredEnv) -> LLMSettings:
    return LLMSettings(
        main=_endpoint(env, "main"),
        fallback=_endpoint(env, "fallback"),
        thinking=env.choice("API_LLM_THINKING"),  # type: ignore[arg-type]
        reasoning_override=env.json_object("API_LLM_REASONING_OVERRIDE"),
        temperature_override=env.number("API_LLM_TEMPERATURE_OVERRIDE"),
        max_completion_tokens=env.count("API_LLM_MAX_COMPLETION_TOKENS"),
        chunk_tokens=env.count("API_LLM_CHUNK_TOKENS"),
        review_max_tokens=_review_max_tokens(env),
        request_timeout=env.count("API_LLM_TIMEOUT"),
        breaker_cooldown=env.count("API_LLM_BREAKER_COOLDOWN"),
        context=env.choice("API_LLM_CONTEXT"),  # type: ignore[arg-type]
        passes=PassSettings(
            passes=env.count("API_LLM_REVIEW_PASSES"),
            verify=env.choice("API_LLM_VERIFY") == "on",
        ),
    )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate every variable; raise SettingsError listing all problems.

    Each variable is read through its declaration (worker.settings.read): the
    default, bounds and choices declared there are the ones enforced here.
    """
    reader = EnvReader(environ)
    env = DeclaredEnv(reader)
    llm = _llm(env)
    app_id = env.integer("GITHUB_APP_ID")  # read first, as ever: the problems keep their order
    github = GitHubSettings(
        api_url=env.url("GITHUB_API_URL") or "https://api.github.com",
        app_id=app_id,
        app_slug=env.text("GITHUB_APP_SLUG"),
        private_key=_private_key(env),
        webhook_secret=env.secret("GITHUB_WEBHOOK_SECRET"),
        token=env.secret("GITHUB_TOKEN"),
    )
    quota = QuotaSettings(
        tokens=env.integer("API_LLM_QUOTA_TOKENS"),
        window_seconds=env.duration("API_LLM_QUOTA_WINDOW"),
        anchor=env.timestamp("API_LLM_QUOTA_ANCHOR"),
    )
    settings = Settings(
        llm=llm,
        github=github,
        quota=quota,
        redis_url=env.redis_url("REDIS_URL"),
        log_format=env.choice("LOG_FORMAT"),  # type: ignore[arg-type]
        metrics_port=env.integer("METRICS_PORT"),
        review_max_comments=env.count("REVIEW_MAX_COMMENTS"),
        review_min_severity=env.choice("REVIEW_MIN_SEVERITY"),  # type: ignore[arg-type]
        review_untrusted_max_lines=env.count("REVIEW_UNTRUSTED_MAX_LINES"),
        job_timeout=env.count("WORKER_JOB_TIMEOUT"),
        review_lease=env.count("WORKER_REVIEW_LEASE"),
        max_reviews=env.count("WORKER_MAX_REVIEWS"),
        give_up_after=env.duration("WORKER_REVIEW_GIVE_UP_AFTER"),
        judge=_judge_endpoint(env, llm.main),
    )
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


# --- the judge of `kimi-review eval` (API_LLM_JUDGE_*) ---------------------------------
def _judge_endpoint(env: DeclaredEnv, main: ModelEndpoint | None) -> ModelEndpoint | None:
    """The judge: each unset variable takes the main model's value.

    The main key is lent to the judge only when the judge calls the main
    model's own URL: a key is never sent to another host than its own.
    """
    names = (
        "API_LLM_JUDGE_PROVIDER",
        "API_LLM_JUDGE_MODEL",
        "API_LLM_JUDGE_BASE_URL",
        "API_LLM_JUDGE_API_KEY",
    )
    key_name = names[3]
    provider_raw = env.raw(names[0])
    provider: Provider = env.choice(  # type: ignore[assignment]
        names[0], main.provider if main else "openai_compatible"
    )
    model = env.text(names[1])
    base_url = env.url(names[2])
    key = env.secret(key_name)
    if main is None and None in (model, base_url, key):
        return None  # no main model to complete it with (`Settings.require` says so)
    if base_url is None:
        if main is not None and provider_raw is not None and provider != main.provider:
            env.fail(names[2], f"required when {names[0]} differs from the main provider")
            return None
        base_url = main.base_url if main else None
    if key is None:
        if main is None or base_url != main.base_url:
            env.fail(key_name, f"required when {names[2]} is not the main model's URL")
            return None
        key = main.api_key
    if model is None:
        model = main.model if main else None
    if model is None or base_url is None:
        return None
    cap = main.max_concurrent if main else DEFAULT_CAP
    return ModelEndpoint(
        "main", provider, model, base_url, key, cap, detect_plan(base_url, provider)
    )
