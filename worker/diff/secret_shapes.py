"""The key shapes masked by pattern, written so matching is linear in the line.

These are the credentials this product handles itself (Moonshot, Kimi Code,
Anthropic and OpenAI keys, GitHub tokens of every kind, JWTs such as the
App's own) plus a few detect-secrets does not know. Every pattern has the
same form: a guard that the key does not start inside a longer word, a
literal prefix, then POSSESSIVE runs of key characters (`{n,}+`, Python
3.11+), which are never given back. A match attempt therefore starts only
where a run of key characters starts and reads that run once: no
backtracking, so a hostile line costs time proportional to its length. The
guard excludes "-" and "_" too, so `task-…` or `my_sk-…` are not keys.

A key ends where its characters end, so the same key is found bare, in
quotes or backticks, after `Bearer `, `=` or `:`, and inside URLs.

Three detect-secrets patterns are replaced here because they backtrack
(measured quadratic: an `sk-` repeated 8,000 times took 92 ms, "//" repeated
took 147 ms): OpenAI's `sk-[…]*[…]{20}T3BlbkFJ`, JWT's `eyJ[…]+\\.[…]+`
and npm's `//.+/:_authToken=`. Their plugins are left out by class name.
"""

from __future__ import annotations

import re
from typing import Final

# Not inside a longer run of key characters (so each run is tried once).
_GUARD: Final = r"(?<![A-Za-z0-9_-])"
_KEY: Final = r"[A-Za-z0-9_-]"

KEY_SHAPES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    # Kimi Code keys: "sk-kimi-" then the key; the generic "sk-" shape below
    # stops at the second "-", so they need their own.
    ("Kimi Code API key", re.compile(rf"{_GUARD}sk-kimi-{_KEY}{{16,}}+")),
    ("Anthropic API key", re.compile(rf"{_GUARD}sk-ant-{_KEY}{{20,}}+")),
    # https://platform.openai.com/docs/api-reference/authentication: project,
    # service-account and admin keys carry a kind after "sk-".
    ("OpenAI API key", re.compile(rf"{_GUARD}sk-(?:proj|svcacct|admin)-{_KEY}{{20,}}+")),
    # Moonshot keys and OpenAI's legacy user keys: "sk-" and 32+ letters and digits.
    ("sk- API key", re.compile(rf"{_GUARD}sk-[A-Za-z0-9]{{32,}}+")),
    # https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
    # ghp_ personal, gho_ OAuth, ghu_ user-to-server, ghs_ installation, ghr_ refresh.
    ("GitHub token", re.compile(rf"{_GUARD}gh[pousr]_[A-Za-z0-9]{{36,}}+")),
    ("GitHub fine-grained token", re.compile(rf"{_GUARD}github_pat_[A-Za-z0-9_]{{22,}}+")),
    # A JWT's header and payload are base64url JSON objects, so both start "eyJ".
    (
        "JSON Web Token",
        re.compile(
            rf"{_GUARD}eyJ[A-Za-z0-9_=-]{{8,}}+\.eyJ[A-Za-z0-9_=-]{{8,}}+\.[A-Za-z0-9_=-]*+"
        ),
    ),
    ("Google API key", re.compile(rf"{_GUARD}AIza[0-9A-Za-z_-]{{35}}")),
    ("npm token", re.compile(rf"{_GUARD}npm_[A-Za-z0-9]{{36,}}+")),
    # .npmrc: "//registry.example.com/:_authToken=<uuid>"; anchored on the literal.
    ("npm token", re.compile(r":_authToken=[ \t]*+([A-Fa-f0-9-]{36})")),
)

# detect-secrets plugins replaced by KEY_SHAPES (their patterns backtrack).
REPLACED_PLUGINS: Final = frozenset({"OpenAIDetector", "JwtTokenDetector", "NpmDetector"})
