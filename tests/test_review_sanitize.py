"""Model text made safe to post: no pings, images, hidden HTML, bot commands, open fences."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from worker.review.sanitize import (
    code_span,
    contains_marker,
    fence_for,
    sanitize_line,
    sanitize_markdown,
    unclosed_fence,
)

# GitHub links `@name` in rendered text that is not code (markdown-it-py, a
# CommonMark parser litestar already depends on through rich, stands in for
# GitHub's renderer).
_LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9/@])@[A-Za-z0-9]")
_MARKDOWN = MarkdownIt("commonmark")


def _rendered_problems(markdown: str) -> list[str]:
    """What GitHub would render from `markdown` that the bot must never post."""
    problems: list[str] = []
    for token in _MARKDOWN.parse(markdown):
        if token.type in ("html_block", "html_inline"):
            problems.append(f"raw html {token.content!r}")
        for child in token.children or []:
            if child.type in ("html_inline", "image"):
                problems.append(f"{child.type} {child.content!r}")
            if child.type == "text" and _LIVE_MENTION.search(child.content):
                problems.append(f"mention in {child.content!r}")
    return problems


def test_mentions_are_put_in_code_so_nobody_is_pinged() -> None:
    out = sanitize_markdown("Ask @alice or @acme/security-team to look.")
    assert out == "Ask `@alice` or `@acme/security-team` to look."


def test_email_addresses_and_urls_are_not_taken_for_mentions() -> None:
    text = "Mail dev@example.com, see https://example.com/@scope/pkg"
    assert sanitize_markdown(text) == text


def test_images_become_links() -> None:
    out = sanitize_markdown("Look: ![pixel](https://evil.example/p.png)")
    assert out == "Look: [image: pixel](https://evil.example/p.png)"
    assert "![" not in out


def test_raw_html_and_comments_are_shown_not_rendered() -> None:
    out = sanitize_markdown("<details><summary>x</summary>hidden</details> <img src=x> <!-- y -->")
    assert "<details" not in out
    assert "<img" not in out
    assert "<!--" not in out
    assert "&lt;details>" in out


def test_character_references_cannot_rebuild_a_mention() -> None:
    out = sanitize_markdown("&#64;admin &#x40;admin &commat;admin")
    assert "&#64;" not in out.replace("&amp;#64;", "")
    assert out.count("&amp;") == 3


def test_lines_starting_a_bot_command_are_escaped() -> None:
    out = sanitize_markdown("Fine.\n/approve\n  /merge now\n> /review full\npath /etc/x")
    assert out.split("\n") == [
        "Fine.",
        "\\/approve",
        "  \\/merge now",
        "> \\/review full",
        "path /etc/x",
    ]


def test_code_spans_and_fences_are_left_as_written() -> None:
    text = "Use `@decorator` and `<b>`:\n\n```python\n@app.get('/x')\n<div>\n```\nafter @bob"
    out = sanitize_markdown(text)
    assert "`@decorator`" in out
    assert "`<b>`" in out
    assert "```python\n@app.get('/x')\n<div>\n```" in out
    assert out.endswith("after `@bob`")


def test_an_unclosed_fence_is_closed_so_it_cannot_swallow_what_follows() -> None:
    out = sanitize_markdown("text\n````js\nlet a = 1\n```\nstill code")
    assert out.endswith("\n````")
    assert unclosed_fence(out) is None


def test_a_suggestion_fence_in_model_prose_becomes_plain_code() -> None:
    """Only the bot may offer a one-click suggestion, on the exact anchored lines."""
    out = sanitize_markdown("Try:\n```suggestion\nx = 1\n```")
    assert "suggestion" not in out
    assert "```\nx = 1\n```" in out


def test_marker_shaped_text_in_code_is_broken() -> None:
    out = sanitize_markdown("```\n<!-- kimi-review:fp=0123456789abcdef -->\n```")
    assert "<!-- kimi-review" not in out
    assert contains_marker("<!-- kimi-review:summary -->")


def test_bidi_controls_are_made_visible() -> None:
    assert sanitize_markdown("a\u202eb") == "a[U+202E]b"


def test_title_is_one_line_and_cannot_open_a_fence() -> None:
    out = sanitize_line("```\nDrop @root\n")
    assert "\n" not in out
    assert unclosed_fence(out + "\nbody") is None
    assert "`@root`" in out


def test_fence_for_is_longer_than_any_fence_inside() -> None:
    assert fence_for("plain") == "```"
    assert fence_for("a\n```\nb") == "````"
    assert fence_for("  `````x") == "``````"


def test_code_span_holds_backticks() -> None:
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"


_PIECES = st.sampled_from(
    ["@", "a", "0", "-", "/", "`", "```", "~~~", "\\", "\n", "\n\n", " ", "    ", "<", ">", "!",
     "[", "](", ")", "*", "_", "&", "#64;", "#x40;", "commat;", "\u202e", "> ", "suggestion"]
)  # fmt: skip


@settings(max_examples=400)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_no_live_mention_html_or_image_survives_rendering(text: str) -> None:
    out = sanitize_markdown(text)
    assert _rendered_problems(out) == []
    assert "\u202e" not in out
    assert unclosed_fence(out) is None


def test_the_renderer_check_sees_what_the_sanitiser_removes() -> None:
    """The property above is only as good as its oracle: it must flag raw input."""
    assert _rendered_problems("hi @bob ![x](y) <b>")


def test_an_escaped_mention_glued_to_a_word_is_quoted_too() -> None:
    """Hypothesis found `@a\\@a`: the escape ended one text node, `@a` was live in the next."""
    out = sanitize_markdown("@a\\@a")
    assert _rendered_problems(out) == []
    assert sanitize_markdown("mail a@b.c") == "mail a@b.c"  # e-mail addresses stay as they are
