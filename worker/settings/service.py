"""The declarations of GitHub, Redis, the quota window, operations and Compose.

One `Setting` per variable (worker.settings.spec says what each field means).
`doc` is `.env.example`'s comment, word for word; the tests hold both to it.
"""

from __future__ import annotations

from typing import Final

from worker.settings.spec import GROUPS, NONE, Setting

_G, _R, _Q, _O, _C = GROUPS[3], GROUPS[4], GROUPS[5], GROUPS[6], GROUPS[7]
_WORKER: Final = "required by `worker`"
_OFFLINE: Final = "(deploy/offline-images.sh)"

SERVICE_SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "GITHUB_APP_ID",
        _G,
        "int",
        'The App\'s numeric id (App settings page, "App ID").',
        rule=_WORKER,
        example="123456",
        low=1,
    ),
    Setting(
        "GITHUB_APP_SLUG",
        _G,
        "text",
        "The App's slug (github.com/apps/<slug>), bot login <slug>[bot]; "
        "unset = workers learn it from GET /app.",
        rule="learned from GitHub",
        example="kimi-review",
    ),
    Setting(
        "GITHUB_APP_PRIVATE_KEY_PATH",
        _G,
        "text",
        "Path of the App's private key file (.pem, PKCS#1 or PKCS#8); "
        "with deploy/compose.yaml leave it unset.",
        rule=_WORKER,
        example="./github-app.private-key.pem",
    ),
    Setting(
        "GITHUB_APP_PRIVATE_KEY",
        _G,
        "secret",
        "Or the key itself as text with \\n escapes; "
        "set either this or GITHUB_APP_PRIVATE_KEY_PATH, not both.",
        rule=_WORKER,
        secret=True,
        example="-----BEGIN RSA PRIVATE KEY-----\\nMIIE...\\n-----END RSA PRIVATE KEY-----",
    ),
    Setting(
        "GITHUB_WEBHOOK_SECRET",
        _G,
        "secret",
        "The App's webhook secret; `serve` refuses to start without it "
        '(python3 -c "import secrets; print(secrets.token_hex(32))").',
        rule="required by `serve`",
        example="replace-with-a-long-random-secret",
        secret=True,
    ),
    Setting(
        "GITHUB_TOKEN",
        _G,
        "secret",
        "A personal access token for the one-shot `kimi-review review <PR URL>` instead of the "
        "App.",
        rule=NONE,
        example="github_pat_replace-with-your-token",
        secret=True,
    ),
    Setting(
        "GITHUB_API_URL",
        _G,
        "url",
        "REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise "
        "Server.",
        default="https://api.github.com",
    ),
    Setting(
        "REDIS_URL",
        _R,
        "redis",
        "Queue, gate, locks, checkpoints and usage; redis://, rediss:// (TLS) or unix://. "
        "Compose sets its own.",
        default="redis://localhost:6379/0",
    ),
    Setting(
        "API_LLM_QUOTA_TOKENS",
        _Q,
        "int",
        "Token budget per window for the main key; unset = no budget.",
        rule=NONE,
        example="50000000",
        low=1,
    ),
    Setting("API_LLM_QUOTA_WINDOW", _Q, "duration", "Window length: 7d, 5h, 30m ...", default="7d"),
    Setting(
        "API_LLM_QUOTA_ANCHOR",
        _Q,
        "timestamp",
        "The day the plan was activated; windows roll from it (default: first use).",
        rule="first use",
        example="2026-11-01",
    ),
    Setting(
        "LOG_FORMAT",
        _O,
        "choice",
        "Log lines as json (for collectors) or console (for people).",
        default="json",
        choices=("json", "console"),
    ),
    Setting(
        "METRICS_PORT",
        _O,
        "int",
        "Port of a worker's Prometheus endpoint; unset = none (the receiver serves GET /metrics "
        "itself).",
        rule=NONE,
        example="9100",
        low=1,
        high=65535,
    ),
    Setting(
        "REVIEW_MAX_COMMENTS",
        _O,
        "int",
        "Default cap of inline comments per review (0 to 200; a repo's .kimi-review.toml may "
        "lower it).",
        default="25",
        low=0,
        high=200,
    ),
    Setting(
        "REVIEW_MIN_SEVERITY",
        _O,
        "choice",
        "Findings below this severity (critical, high, medium, low) are not posted; "
        "a repo's .kimi-review.toml may choose its own.",
        default="high",
        choices=("critical", "high", "medium", "low"),
    ),
    Setting(
        "REVIEW_UNTRUSTED_MAX_LINES",
        _O,
        "int",
        "Changed lines above which a PR by a non-OWNER/MEMBER/COLLABORATOR waits for a "
        "maintainer's /review; 0 = no limit.",
        default="2000",
        low=0,
        high=100_000_000,
    ),
    Setting(
        "WORKER_JOB_TIMEOUT",
        _O,
        "int",
        "arq job timeout in seconds; reviews are checkpointed, "
        "so a short one lets a dead worker's job resume fast.",
        default="60",
        low=5,
        high=3600,
    ),
    Setting(
        "WORKER_REVIEW_LEASE",
        _O,
        "int",
        "Seconds a review's lease lasts unrenewed; a killed worker's review resumes elsewhere "
        "after it.",
        default="20",
        low=2,
        high=300,
    ),
    Setting(
        "WORKER_MAX_REVIEWS",
        _O,
        "int",
        "Reviews one worker process runs at once (model calls are capped by the gate, not by "
        "this).",
        default="10",
        low=1,
        high=1000,
    ),
    Setting(
        "WORKER_REVIEW_GIVE_UP_AFTER",
        _O,
        "duration",
        "A review still unfinished this long after its webhook (models down, budget spent) "
        "is abandoned with a PR comment.",
        default="8d",
    ),
    # --- substituted by deploy/compose.yaml only
    Setting(
        "KIMI_REVIEW_REDIS_PASSWORD",
        _C,
        "secret",
        "Password of the compose Redis; letters, digits, - and _ only, as it goes into REDIS_URL "
        "(openssl rand -hex 32).",
        example="replace-with-a-long-random-hex-password",
        secret=True,
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_PRIVATE_KEY_FILE",
        _C,
        "text",
        "Host path of the App's private key, mounted into the workers as a file (relative to "
        "deploy/).",
        default="../github-app.private-key.pem",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_WORKERS",
        _C,
        "int",
        "Number of worker containers (any number of machines may add more against the same Redis).",
        default="2",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_PORT",
        _C,
        "int",
        "Host port the webhook receiver is published on.",
        default="8080",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_REDIS_MAXMEMORY",
        _C,
        "text",
        "Memory ceiling of the compose Redis; it refuses writes beyond it instead of evicting "
        "jobs.",
        default="512mb",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_IMAGE",
        _C,
        "text",
        "Image tag built and run by compose.",
        default="kimi-review:local",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_REDIS_IMAGE",
        _C,
        "text",
        f"Redis image of the compose stack; with no registry, one of your own {_OFFLINE}.",
        default="redis:7.4-alpine",
        product=False,
    ),
    Setting(
        "PYTHON_IMAGE",
        _C,
        "text",
        f"Base image of the build; with no registry, one of your own {_OFFLINE}.",
        default="python:3.12-slim-bookworm",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_EXTRA_CA",
        _C,
        "text",
        "CA bundle the build trusts behind a TLS-intercepting proxy (a BuildKit secret, kept in "
        "no image).",
        example="/etc/ssl/certs/ca-certificates.crt",
        rule="/dev/null",
        product=False,
    ),
    Setting(
        "KIMI_REVIEW_ENV_FILE",
        _C,
        "text",
        "The env file handed to the containers (relative to deploy/), for a second stack beside "
        "this one.",
        default="../.env",
        product=False,
    ),
)
