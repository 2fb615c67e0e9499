"""A chunk's context block as the model reads it.

    Context from the head revision (NOT part of the diff: ...)
    SNIPPET src/pkg/mod.py:12-40 (why: enclosing function `handler` of line 57)
    12| def handler(request):
    13|     user = request.user
    ...
    40|     return render(user)
    NOTE: index partial: 3 files skipped (...)

Lines carry their head-revision number and `|`, never a diff marker, so a
context line cannot pass for a diff line; `...` stands for skipped lines (the
diff's own lines, or lines another snippet already shows). The caller fences
the whole text as untrusted data, like the diff.
"""

from __future__ import annotations

from typing import Final

from worker.context.model import ContextBlock, Snippet
from worker.diff.render import display_path

CONTEXT_HEADER: Final = (
    "Context from the head revision of the repository, chosen to explain the diff. "
    "It is NOT part of the diff: never place a finding on these lines; use them only to "
    "understand the changed lines.\n"
)
GAP: Final = "...\n"


def render_snippet(snippet: Snippet) -> str:
    parts = [f"SNIPPET {display_path(snippet.path)}:{snippet.start}-{snippet.end} "]
    parts.append(f"(why: {display_path(snippet.why)})\n")  # paths in it may hold newlines
    previous: int | None = None
    for number, text in snippet.lines:
        if previous is not None and number != previous + 1:
            parts.append(GAP)
        parts.append(f"{number}| {text.rstrip(chr(13))}\n")
        previous = number
    return "".join(parts)


def snippet_chars(snippet: Snippet) -> int:
    """Characters `snippet` adds to the rendered block (what the budget counts)."""
    return len(render_snippet(snippet))


def render_context(block: ContextBlock) -> str:
    """The block's text for the prompt; "" when there is nothing to show."""
    if block.empty:
        return ""
    body = "".join(render_snippet(snippet) for snippet in block.snippets)
    notes = "".join(f"NOTE: {note}\n" for note in block.notes)
    return CONTEXT_HEADER + body + notes
