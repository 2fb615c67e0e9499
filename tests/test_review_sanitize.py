"""Model text made safe to post: no pings, images, hidden HTML, bot commands, open fences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.github_render import mentions_github_would_link, rendered_problems
from worker.review.links import link_allowed, web_host
from worker.review.sanitize import (
    code_span,
    contains_marker,
    fence_for,
    sanitize_line,
    sanitize_markdown,
    unclosed_fence,
)

GITHUB = "github.com"


def _rendered_problems(markdown: str) -> list[str]:
    """What GitHub would render from `markdown` that the bot must never post."""
    return rendered_problems(markdown, host=GITHUB)


def test_mentions_are_put_in_code_so_nobody_is_pinged() -> None:
    out = sanitize_markdown("Ask @alice or @acme/security-team to look.")
    assert out == "Ask `@alice` or `@acme/security-team` to look."


def test_email_addresses_are_not_taken_for_mentions() -> None:
    assert sanitize_markdown("Mail dev@example.com") == "Mail dev@example.com"


def test_images_become_links_and_foreign_ones_code() -> None:
    out = sanitize_markdown("Look: ![pixel](https://evil.example/p.png)", link_host=GITHUB)
    assert out == "Look: image: pixel (`https://evil.example/p.png`)"
    ours = sanitize_markdown("![shot](https://github.com/o/r/x.png)", link_host=GITHUB)
    assert ours == "[image: shot](https://github.com/o/r/x.png)"


def test_a_mention_after_any_non_word_character_is_quoted() -> None:
    """`docs/@octocat` and `@@octocat` were posted live (GitHub pings after `/` and `@`)."""
    for text in ("docs/@octocat", "@@octocat", "a.@octocat", "x-@octocat", "_em_@octocat"):
        out = sanitize_markdown(text)
        assert _rendered_problems(out) == [], (text, out)
    assert sanitize_markdown("docs/@octocat") == "docs/`@octocat`"
    assert sanitize_markdown("@@octocat") == "@`@octocat`"


def test_links_to_another_host_are_shown_as_code_in_every_form() -> None:
    """An injected answer's phishing links were posted clickable under the bot's name."""
    forms = [
        "[Sign in to fix](https://phish.example/login)",
        "see https://phish.example/x now",
        "<https://phish.example>",
        "www.phish.example/x",
        "[Sign in][1]\n\n[1]: https://phish.example/login",
        "[Sign in]\n\n[sign in]: <https://phish.example/login>",
        "![pixel](https://phish.example/p.png)",
        '<a href="https://phish.example">fix</a>',
        "[fix](//phish.example/x)",
        "[fix](https://github.com@phish.example/x)",
        "[fix](&#x2F;&#x2F;phish.example)",
        '[fix](https://phish.example "title")',
        "[fix](<https://phish.example>)",
        "HTTPS://PHISH.EXAMPLE/x",
    ]
    for text in forms:
        assert _rendered_problems(text), f"the oracle misses {text!r}"
        out = sanitize_markdown(text, link_host=GITHUB)
        assert _rendered_problems(out) == [], (text, out)
    out = sanitize_markdown("[Sign in to fix](https://phish.example/login)", link_host=GITHUB)
    assert out == "Sign in to fix (`https://phish.example/login`)"


def test_links_to_the_github_host_and_relative_links_keep_working() -> None:
    text = (
        "See [the handler](https://github.com/octo/widgets/blob/main/app/handlers.py#L3), "
        "[the models](app/models.py) and https://github.com/octo/widgets/pull/7"
    )
    assert sanitize_markdown(text, link_host=GITHUB) == text
    assert _rendered_problems(text) == []


def test_without_a_link_host_only_relative_links_are_kept() -> None:
    assert sanitize_markdown("[m](app/models.py)") == "[m](app/models.py)"
    assert sanitize_markdown("[g](https://github.com/x)") == "g (`https://github.com/x`)"


def test_the_web_host_follows_github_api_url() -> None:
    assert web_host("https://api.github.com") == "github.com"
    assert web_host("https://ghe.example/api/v3") == "ghe.example"
    assert web_host("https://api.octocorp.ghe.com") == "octocorp.ghe.com"
    assert web_host("http://127.0.0.1:8123") == "127.0.0.1"
    assert link_allowed("https://ghe.example/o/r", "ghe.example")
    assert not link_allowed("https://github.com/o/r", "ghe.example")


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
    assert sanitize_markdown("a\u202eb") == "a\\[U+202E]b"  # renders as a[U+202E]b


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
     "[", "](", ")", "*", "_", ".", "&", "#64;", "#x40;", "commat;", "\u202e", "> ", "suggestion",
     "docs", "octocat", "@@", "https://", "www.", "phish.example", "github.com", "]: ", "][",
     "(", ":", "#x2F;", "//", "javascript:", '"']
)  # fmt: skip
# Word characters and every character around which GitHub decides a mention.
_ALPHABET = st.sampled_from(list("@/-_.\\`aZ09 \n[]()<>!:&#;*~"))


@settings(max_examples=400)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_no_live_mention_html_or_image_survives_rendering(text: str) -> None:
    out = sanitize_markdown(text, link_host=GITHUB)
    assert _rendered_problems(out) == []
    assert "\u202e" not in out
    assert unclosed_fence(out) is None


@settings(max_examples=400)
@given(st.text(_ALPHABET, max_size=60))
def test_no_mention_github_would_link_survives_any_text(text: str) -> None:
    assert _rendered_problems(sanitize_markdown(text, link_host=GITHUB)) == []
    assert _rendered_problems(sanitize_line(text, link_host=GITHUB)) == []


def test_the_mention_reference_follows_githubs_rule() -> None:
    """The oracle, written from GitHub's rule, not from the sanitizer's regex."""
    assert mentions_github_would_link("docs/@octocat") == ["/@octocat"]
    assert mentions_github_would_link("@@octocat") == ["@@octocat"]
    assert mentions_github_would_link("hi @a-b.") == ["@a-b"]
    assert mentions_github_would_link("@org/team") == ["@org/team"]
    for plain in ("dev@example.com", "a_@octocat", "@octocat_x", "@octocat/", "@-x"):
        assert mentions_github_would_link(plain) == [], plain


def test_the_renderer_check_sees_what_the_sanitiser_removes() -> None:
    """The property above is only as good as its oracle: it must flag raw input."""
    assert _rendered_problems("hi @bob ![x](y) <b>")
    assert _rendered_problems("_x_@bob")  # emphasis ends a text node
    assert not _rendered_problems("`@bob` [x](https://github.com/x) [y](src/y.py)")


def test_an_escaped_mention_glued_to_a_word_is_quoted_too() -> None:
    """Hypothesis found `@a\\@a`: the escape ended one text node, `@a` was live in the next."""
    out = sanitize_markdown("@a\\@a")
    assert _rendered_problems(out) == []
    assert sanitize_markdown("mail a@b.c") == "mail a@b.c"  # e-mail addresses stay as they are
