"""Every key shape this product handles is masked, in every quoting, in diffs and PR text.

The example keys are written by hand from each provider's documented format
(prefix, alphabet, length), not derived from the masking patterns; their
lengths are checked against those formats below. Each is assembled at run
time so the repository itself holds no secret-shaped literal.
"""

from __future__ import annotations

import pytest

from worker.diff.masking import MASK, mask_secrets, mask_text
from worker.diff.model import ChangedFile
from worker.diff.parse import ParsedFile, parse_file

# Moonshot: "sk-" and 48 letters and digits.
MOONSHOT = "sk-" + "Jd83KqLm20XpVn7RtYs5WcAb9HeFg4Zu6NoPi1QrMkTx8vLe"
# Kimi Code (kimi.com/code): "sk-kimi-" then the key.
KIMI_CODE = "sk-" + "kimi-" + "Rw7QpL2sVn9XtKd4HmB6yJc8FgZ3aUe5NoTi0PrMkDsWq1Yh"
# Anthropic: "sk-ant-api03-", 93 URL-safe base64 characters, "AA".
ANTHROPIC = (
    "sk-" + "ant-api03-"
    "Xk2mP9qR_vL7tN4wY8zB3cF6hJ1dG5sA-eU0iO2kM7nQ4rT9vW3xZ6yB8cD1fH5jL0pS2uA7eG9iK3mN6qR4tV8wX1zY5"
    "AA"
)
# OpenAI project key: "sk-proj-", URL-safe characters with "T3BlbkFJ" inside.
OPENAI_PROJECT = (
    "sk-" + "proj-"
    "Ab3dEf7hIj0kLm4nOp8qRs2tUv6wXy9zAB1cDE5fGH_ij-KL7mNO3pQR9sTU2vWX6yZa4bC8dE0fG"
    "T3BlbkFJh1iJ5kL9mN3oP7qR1sT5uV9wX3yZ7aB1cD5eF9gH3iJ7kL1mN5oP9qR3sT7uV1wYz"
)
# OpenAI legacy user key: "sk-", 20, "T3BlbkFJ", 20.
OPENAI_LEGACY = "sk-" + "Zx4Cv8Bn2Mq6Wr0Ty5Ui" + "T3BlbkFJ" + "Op9As3Df7Gh1Jk5LzQwE"
# GitHub classic tokens: a 3-letter kind, "_", 36 base62 characters.
GITHUB_BODY = "R8f2Kd9LmQ3xV7nT1wB5yH4cJ6sZ0aE2pGu9"
GITHUB_CLASSIC = {kind: kind + "_" + GITHUB_BODY for kind in ("ghp", "gho", "ghu", "ghs", "ghr")}
# Fine-grained PAT: "github_pat_", 22 characters, "_", 59 characters.
GITHUB_FINE = (
    "github" + "_pat_" + "11AJQ7ZYI0mK8Vd2Rt5LpX" + "_"
    "q9Wn3Hs7Fb1Gc5Jd8Ke2Lm4Np6Qr0St3Uv7Wx9Yz1Ab5Cd8Ef2Gh4Ij6Kl0"
)
# The example token of jwt.io (RFC 7519's shape: header.payload.signature).
JWT = (
    "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

KEYS = {
    "moonshot": MOONSHOT,
    "kimi code": KIMI_CODE,
    "anthropic": ANTHROPIC,
    "openai project": OPENAI_PROJECT,
    "openai legacy": OPENAI_LEGACY,
    **{f"github {kind}": token for kind, token in GITHUB_CLASSIC.items()},
    "github fine-grained": GITHUB_FINE,
    "jwt": JWT,
}
QUOTINGS = {
    "bare": "{key}",
    "double quotes": 'API_KEY = "{key}"',
    "single quotes": "client(api_key='{key}')",
    "backticks": "Use `{key}` for the demo.",
    "bearer": 'headers = {{"Authorization": "Bearer {key}"}}',
    "after =": "export KEY={key}",
    "after :": "token: {key}",
    "url query": "https://api.example.com/v1/chat?key={key}&stream=1",
    "url userinfo": "git clone https://x-access-token:{key}@github.com/o/r.git",
}


def test_the_example_keys_follow_the_documented_formats() -> None:
    assert len(MOONSHOT) == 3 + 48
    assert len(ANTHROPIC) == len("sk-ant-api03-") + 93 + 2
    assert len(OPENAI_LEGACY) == 3 + 20 + 8 + 20
    assert all(len(token) == 4 + 36 for token in GITHUB_CLASSIC.values())
    assert len(GITHUB_FINE) == len("github_pat_") + 22 + 1 + 59
    assert JWT.count(".") == 2


def _one_line_file(text: str) -> ParsedFile:
    patch = "@@ -0,0 +1,3 @@\n+import os\n+" + text + "\n+print(1)"
    return parse_file(ChangedFile(path="app/config.py", status="added", patch=patch, additions=3))


@pytest.mark.parametrize("quoting", QUOTINGS)
@pytest.mark.parametrize("name", KEYS)
def test_every_key_shape_is_masked_in_every_quoting(name: str, quoting: str) -> None:
    """Kimi Code keys (`sk-kimi-…`) did not match the `sk-` pattern and reached
    the model verbatim after `Bearer ` or in backticks; fine-grained GitHub
    tokens were caught only when the entropy check happened to fire."""
    key = KEYS[name]
    result = mask_secrets([_one_line_file(QUOTINGS[quoting].format(key=key))])
    texts = [line.text for hunk in result.files[0].hunks for line in hunk.lines]
    sent = "\n".join(texts)
    assert key not in sent
    assert key[-12:] not in sent  # not only a prefix masked: the whole key
    assert MASK in texts[1]
    assert texts[0] == "import os"
    assert [(m.path, m.line) for m in result.maskings] == [("app/config.py", 2)]


@pytest.mark.parametrize("name", KEYS)
def test_keys_in_a_pull_requests_text_are_masked_and_located(name: str) -> None:
    key = KEYS[name]
    text = f"Fixes the client.\n\nTo try it: `curl -H 'Authorization: Bearer {key}' …`\n"
    masked, maskings = mask_text(text, where="PR description")
    assert key not in masked
    assert key[-12:] not in masked
    assert masked.startswith("Fixes the client.\n\n")
    assert [(m.path, m.line) for m in maskings] == [("PR description", 3)]


def test_ordinary_words_with_sk_and_gh_prefixes_are_left_alone() -> None:
    text = "task-runner-configuration-file = ask-the-user-first-please; ghp_short; risk-assessment"
    masked, maskings = mask_text(text, where="PR title")
    assert (masked, maskings) == (text, [])
