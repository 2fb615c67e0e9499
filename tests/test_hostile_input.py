"""A hostile pull request: over-long lines and keys in the diff, title and description.

In process, against the fake Kimi server: what matters is what the model
received (every request body the fake recorded), and what the summary names.
"""

from __future__ import annotations

import io
import json

import httpx

from app.cli.review_diff import review_diff
from tests.fakes.model_servers import FakeKimi
from tests.fakes.model_stack import MAIN_KEY, build_stack, endpoint, llm_settings
from tests.support.env import MODEL_KEY
from tests.test_diff_secret_shapes import (
    ANTHROPIC,
    GITHUB_CLASSIC,
    GITHUB_FINE,
    KIMI_CODE,
    MOONSHOT,
)
from worker.config import load_settings
from worker.diff.long_lines import MAX_LINE_CHARS, LongLine, long_line_note
from worker.diff.model import ChangedFile
from worker.publish.findings import Placement
from worker.publish.summary import SummaryInput, render_summary
from worker.review.pipeline import MemoryChunkStore, review_chunks
from worker.review.prepare import ReviewOptions, prepare_review

# A 300 KB line (a data blob, say) with a token-shaped value inside it.
LONG_VALUE = "Hx7" * 100_000
LONG_LINE = f'BLOB = "{LONG_VALUE}{GITHUB_CLASSIC["ghs"]}"'
HOSTILE_LINES = [
    "import os",
    LONG_LINE,
    f'KIMI_CODE_KEY = "{KIMI_CODE}"',
    f'HEADERS = {{"Authorization": "Bearer {KIMI_CODE}"}}',
    f"GITHUB_TOKEN = os.environ.get('GITHUB_TOKEN', '{GITHUB_FINE}')",
    f"# Try it with `{MOONSHOT}` locally.",
    "def total(items):",
    "    return sum(items)",
]
SECRETS = [KIMI_CODE, GITHUB_FINE, MOONSHOT, GITHUB_CLASSIC["ghs"], ANTHROPIC]


def _git_diff(path: str, lines: list[str]) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n"
        f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


def _added(path: str, lines: list[str]) -> ChangedFile:
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)
    return ChangedFile(path=path, status="added", patch=patch, additions=len(lines))


def test_an_over_long_line_is_not_sent_and_is_named() -> None:
    """A 300 KB line went to masking (quadratic in its length: minutes of a
    frozen worker, no review) and then to the model; now it is neither."""
    prepared = prepare_review(
        [_added("src/blob.py", HOSTILE_LINES)],
        title="Add blob",
        description="",
        repository="o/r",
        options=ReviewOptions(),
    )
    assert prepared.long_lines == [LongLine("src/blob.py", "RIGHT", 2, len(LONG_LINE))]
    [chunk] = prepared.chunks
    texts = [line.text for f in chunk.files for h in f.hunks for line in h.lines]
    assert len(texts) == len(HOSTILE_LINES)  # every other line is still sent
    assert texts[1] == long_line_note(len(LONG_LINE))
    assert LONG_VALUE[:100] not in "\n".join(texts)
    assert texts[-1] == "    return sum(items)"


def test_the_summary_names_each_line_not_sent() -> None:
    info = SummaryInput(
        head_sha="a" * 40,
        model="kimi-k2.6",
        long_lines=[LongLine("src/blob.py", "RIGHT", 2, 300_011)],
    )
    body = render_summary(Placement(inline=[], in_summary=[]), info)
    limit = f"{MAX_LINE_CHARS:,}"
    assert (
        f"- `src/blob.py:2`: line not sent to the model "
        f"(300,011 characters, over the {limit}-character limit)"
    ) in body


async def test_a_hostile_diff_is_reviewed_and_no_secret_reaches_the_model() -> None:
    """Through `review --diff` as the command runs it, against the fake Kimi."""
    out, err = io.StringIO(), io.StringIO()
    with FakeKimi(api_key=MODEL_KEY) as kimi:
        settings = load_settings(
            {"API_OPEN_AI_API_KEY": MODEL_KEY, "API_OPENAI_FORCE_BASE_URL": kimi.base_url}
        )
        code = await review_diff(
            settings, _git_diff("src/blob.py", HOSTILE_LINES), as_json=True, out=out, err=err
        )
        bodies = [json.dumps(request.body) for request in kimi.requests]
    assert code == 0, err.getvalue()
    assert bodies  # reviewed normally: the model was asked
    for secret in [*SECRETS[:4], LONG_VALUE[:64]]:
        assert all(secret not in body for body in bodies)
    report = json.loads(out.getvalue())
    assert [(m["path"], m["line"]) for m in report["masked"]] == [
        ("src/blob.py", 3),
        ("src/blob.py", 4),
        ("src/blob.py", 5),
        ("src/blob.py", 6),
    ]
    assert [(x["path"], x["line"]) for x in report["long_lines"]] == [("src/blob.py", 2)]


async def test_keys_in_the_title_and_description_never_reach_the_model() -> None:
    """The title and description went into every prompt as written: only the diff was masked."""
    title = f"Rotate key {KIMI_CODE}"
    description = f"Old key was `{ANTHROPIC}`.\n\nDeploy with\n\n    Bearer {GITHUB_FINE}\n"
    prepared = prepare_review(
        [_added("src/app.py", ["def total(items):", "    return sum(items)"])],
        title=title,
        description=description,
        repository="o/r",
        options=ReviewOptions(),
    )
    with FakeKimi(api_key=MAIN_KEY) as kimi:
        async with httpx.AsyncClient() as http:
            stack = build_stack(llm_settings(endpoint("main", kimi.base_url)), http)
            await review_chunks(prepared, stack.reviewer, review_key="k", store=MemoryChunkStore())
        bodies = [json.dumps(request.body) for request in kimi.requests]
    assert bodies
    for secret in (KIMI_CODE, ANTHROPIC, GITHUB_FINE):
        assert all(secret not in body for body in bodies)
    assert all("Rotate key" in body and "Deploy with" in body for body in bodies)
    assert [(m.path, m.line) for m in prepared.masked] == [
        ("PR title", 1),
        ("PR description", 1),
        ("PR description", 5),
    ]


def test_an_over_long_line_of_the_description_is_not_sent_and_is_named() -> None:
    blob = "Qz9" * 5_000
    prepared = prepare_review(
        [_added("src/app.py", ["x = 1"])],
        title="Add data",
        description=f"Data below.\n{blob}\nThanks.",
        repository="o/r",
        options=ReviewOptions(),
    )
    assert prepared.context.description == f"Data below.\n{long_line_note(15_000)}\nThanks."
    assert prepared.long_lines == [LongLine("PR description", "RIGHT", 2, 15_000)]
