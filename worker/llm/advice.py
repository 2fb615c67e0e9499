"""What the operator is told when a model endpoint refuses us, and the summary's wording.

Pure text built from the endpoint's settings; never includes a key (only the
public shape of Kimi Code keys, which start with `sk-kimi-`).
"""

from __future__ import annotations

from typing import Final

from worker.config import ModelEndpoint, Plan
from worker.llm.classify import ErrorKind
from worker.secrets import redact_url

DEVELOPER_API: Final = "https://api.moonshot.ai/v1"
KIMI_CODE_API: Final = "https://api.kimi.com/coding/v1"
KIMI_CODE_KEY_PREFIX: Final = "sk-kimi-"

AGENTS_ONLY: Final = (
    "The Kimi Code endpoint serves approved coding agents only and refused kimi-review, "
    "which always identifies itself honestly (User-Agent kimi-review/<version>) and will not "
    "pose as another client. A review bot uses the Kimi developer API: set "
    f"API_OPENAI_FORCE_BASE_URL={DEVELOPER_API} with a key from platform.moonshot.ai."
)

PLAN_NAMES: Final[dict[Plan, str]] = {
    "kimi_code": "the Kimi Code Plan endpoint",
    "moonshot": "the Kimi developer API (api.moonshot.ai)",
    "moonshot_cn": "the Kimi developer API, China (api.moonshot.cn)",
    "anthropic": "the Anthropic API",
    "custom": "a custom OpenAI-compatible endpoint",
}

_SHORT: Final[dict[str, str]] = {
    "rate_limited": "rate-limited",
    "quota": "over quota",
    "agents_only": "refused: Kimi Code serves coding agents only",
    "auth": "key refused",
    "server": "server error",
    "transport": "unreachable",
    "context_too_long": "context too long",
    "rejected": "request refused",
}


def short_reason(role: str, kind: ErrorKind | str) -> str:
    """`main over quota`: the wording used in review-summary notes."""
    return f"{role} {_SHORT.get(kind, kind)}"


def key_variable(endpoint: ModelEndpoint) -> str:
    return "API_OPEN_AI_API_KEY" if endpoint.role == "main" else "API_LLM_FALLBACK_API_KEY"


def url_variable(endpoint: ModelEndpoint) -> str:
    return "API_OPENAI_FORCE_BASE_URL" if endpoint.role == "main" else "API_LLM_FALLBACK_BASE_URL"


def auth_advice(endpoint: ModelEndpoint) -> str:
    """Which endpoint refused the key, and whether the key looks like another plan's."""
    looks_kimi_code = endpoint.api_key.reveal().startswith(KIMI_CODE_KEY_PREFIX)
    where = f"{PLAN_NAMES[endpoint.plan]} ({redact_url(endpoint.base_url)})"
    if endpoint.plan in ("moonshot", "moonshot_cn") and looks_kimi_code:
        hint = (
            f"the key looks like a Kimi Code Plan key ({KIMI_CODE_KEY_PREFIX}...), which the "
            "developer API does not accept; a bot needs a developer key from platform.moonshot.ai"
        )
    elif endpoint.plan == "kimi_code" and not looks_kimi_code:
        hint = (
            f"Kimi Code keys start with {KIMI_CODE_KEY_PREFIX}; a developer API key belongs with "
            f"{url_variable(endpoint)}={DEVELOPER_API}"
        )
    elif endpoint.plan == "moonshot_cn":
        hint = "api.moonshot.cn and api.moonshot.ai are separate platforms with separate keys"
    else:
        hint = "check that the key is current and belongs to this endpoint"
    return f"{endpoint.role} model key ({key_variable(endpoint)}) refused by {where}: {hint}"
