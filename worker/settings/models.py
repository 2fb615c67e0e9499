"""The declarations of the model blocks: main model, fallback, the eval judge.

One `Setting` per variable (worker.settings.spec says what each field means).
`doc` is `.env.example`'s comment, word for word; the tests hold both to it.
"""

from __future__ import annotations

from typing import Final

from worker.settings.spec import CAP_RULE, GROUPS, NONE, PROVIDER_CHOICES, Setting

_M, _F, _J = GROUPS[0], GROUPS[1], GROUPS[2]
_MAIN: Final = "the main model"

MODEL_SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "API_LLM_PROVIDER_MODEL", _M, "text", "Model id sent in every request.", default="kimi-k2.6"
    ),
    Setting(
        "API_OPENAI_FORCE_BASE_URL",
        _M,
        "url",
        "OpenAI-compatible base URL: developer API api.moonshot.ai/v1 (or api.moonshot.cn/v1 in "
        "China).",
        default="https://api.moonshot.ai/v1",
    ),
    Setting(
        "API_OPEN_AI_API_KEY",
        _M,
        "secret",
        "The main model's API key (required by worker and review).",
        rule="required by `worker`, `review`",
        example="sk-replace-with-your-moonshot-key",
        secret=True,
    ),
    Setting(
        "API_LLM_PROVIDER",
        _M,
        "choice",
        "Wire protocol of the main model: openai_compatible or anthropic (never guessed from the "
        "model name).",
        default="openai_compatible",
        choices=PROVIDER_CHOICES,
    ),
    Setting(
        "API_LLM_MAX_CONCURRENT_REQUESTS",
        _M,
        "int",
        "Cap of in-flight main-model calls across ALL workers; 0 = none (default 30 on "
        "api.kimi.com/coding, else 50).",
        rule=CAP_RULE,
        example="50",
        low=0,
        high=10_000,
    ),
    Setting(
        "API_LLM_THINKING",
        _M,
        "choice",
        "Thinking: enabled, disabled, or auto (off for small chunks).",
        default="enabled",
        choices=("enabled", "disabled", "auto"),
    ),
    Setting(
        "API_LLM_REASONING_OVERRIDE",
        _M,
        "json",
        "Raw JSON merged into every request body; wins over API_LLM_THINKING.",
        rule=NONE,
        example='{"thinking":{"type":"enabled","budget_tokens":25000}}',
    ),
    Setting(
        "API_LLM_TEMPERATURE_OVERRIDE",
        _M,
        "number",
        "Temperature to send; Kimi K2.x accepts only 1, so none is sent unless set.",
        rule=NONE,
        example="1",
        low=0.0,
        high=2.0,
    ),
    Setting(
        "API_LLM_MAX_COMPLETION_TOKENS",
        _M,
        "int",
        "max_completion_tokens asked of the model per chunk (256 to 1000000).",
        default="32768",
        low=256,
        high=1_000_000,
    ),
    Setting(
        "API_LLM_CHUNK_TOKENS",
        _M,
        "int",
        "Token budget of one chunk of diff sent to the model (1000 to 1000000).",
        default="24000",
        low=1000,
        high=1_000_000,
    ),
    Setting(
        "API_LLM_REVIEW_MAX_TOKENS",
        _M,
        "int",
        "Ceiling of tokens one review may spend, all calls (the summary names what it left "
        "unreviewed); 0 = none.",
        default="2000000",
        low=0,
    ),
    Setting(
        "API_LLM_REVIEW_PASSES",
        _M,
        "int",
        "Independent finder passes per chunk, merged before verification (1 to 5; each costs one "
        "call per chunk).",
        default="1",
        low=1,
        high=5,
    ),
    Setting(
        "API_LLM_VERIFY",
        _M,
        "choice",
        "on: one more call per chunk with findings drops those the shown code refutes (listed in "
        "the check run); off.",
        default="on",
        choices=("on", "off"),
    ),
    Setting(
        "API_LLM_TIMEOUT",
        _M,
        "int",
        "Seconds a model call may wait for each read (thinking calls take minutes); a whole call "
        "gets 2x this.",
        default="900",
        low=5,
        high=7200,
    ),
    Setting(
        "API_LLM_BREAKER_COOLDOWN",
        _M,
        "int",
        "Seconds a refusing key (quota, auth, coding-agents-only) stays unused by every worker.",
        default="300",
        low=1,
        high=86400,
    ),
    Setting(
        "API_LLM_CONTEXT",
        _M,
        "choice",
        "Repository code beside each chunk's diff (enclosing functions, definitions, callers): "
        "targeted or off.",
        default="targeted",
        choices=("targeted", "off"),
    ),
    # --- fallback: setting API_LLM_FALLBACK_MODEL turns it on
    Setting(
        "API_LLM_FALLBACK_PROVIDER",
        _F,
        "choice",
        "Wire protocol of the fallback: openai_compatible or anthropic (Messages API).",
        default="openai_compatible",
        example="anthropic",
        choices=PROVIDER_CHOICES,
    ),
    Setting(
        "API_LLM_FALLBACK_MODEL",
        _F,
        "text",
        "Fallback model id; setting it turns the fallback on.",
        rule=NONE,
        example="claude-sonnet-4-5",
    ),
    Setting(
        "API_LLM_FALLBACK_BASE_URL",
        _F,
        "url",
        "Fallback base URL (for anthropic: the host root, requests go to /v1/messages).",
        rule=NONE,
        example="https://api.anthropic.com",
    ),
    Setting(
        "API_LLM_FALLBACK_API_KEY",
        _F,
        "secret",
        "The fallback's API key.",
        rule=NONE,
        example="sk-ant-replace-with-your-key",
        secret=True,
    ),
    Setting(
        "API_LLM_FALLBACK_MAX_CONCURRENT_REQUESTS",
        _F,
        "int",
        "Cap of in-flight fallback calls across all workers; 0 = none.",
        rule=CAP_RULE,
        example="50",
        low=0,
        high=10_000,
    ),
    # --- the judge of `kimi-review eval`: each unset one takes the main model's value
    Setting(
        "API_LLM_JUDGE_PROVIDER",
        _J,
        "choice",
        "Wire protocol of the judge: openai_compatible or anthropic.",
        rule=_MAIN,
        example="openai_compatible",
        choices=PROVIDER_CHOICES,
    ),
    Setting(
        "API_LLM_JUDGE_MODEL", _J, "text", "The judge's model id.", rule=_MAIN, example="kimi-k2.6"
    ),
    Setting(
        "API_LLM_JUDGE_BASE_URL",
        _J,
        "url",
        "The judge's base URL; another URL than the main one needs its own API_LLM_JUDGE_API_KEY.",
        rule=_MAIN,
        example="https://api.moonshot.ai/v1",
    ),
    Setting(
        "API_LLM_JUDGE_API_KEY",
        _J,
        "secret",
        "The judge's API key (the main key is lent only to the main model's own URL).",
        rule=_MAIN,
        example="sk-replace-with-your-key",
        secret=True,
    ),
)
