"""What GitHub would ping or link in markdown: a reference written from GitHub's own rules.

Written apart from the sanitizer and without its regexes, so a test cannot
pass by sharing the code's own blind spots.

- Mentions: GitHub's rendering pipeline links `@name` in every HTML text node
  that is not inside `a`, `code`, `pre`, `style` or `script`, when the `@`
  starts the node or follows a non-word character (html-pipeline's
  MentionFilter: `(?:^|\\W)@name`, `\\W` being Ruby's ASCII `[^a-zA-Z0-9_]`,
  the name `[a-z0-9][a-z0-9-]*` case-insensitive, not followed by `/`, and
  followed by a non-word character other than `.`, by dots then a non-word
  character, or by the end); a team mention is `@org/team` (TeamMentionFilter).
- Links: an inline, reference-style or autolink (`link_open`), and the GFM
  autolinks extension: `http://`, `https://`, `ftp://` and `www.` in text
  become links (https://github.github.com/gfm/#autolinks-extension-). An
  `<img>` is shown whatever its host. Raw HTML is a problem on its own.

markdown-it-py (CommonMark) stands in for GitHub's parser: its text tokens
are the HTML text nodes, joined as the DOM joins them.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MARKDOWN = MarkdownIt("commonmark").enable(["strikethrough", "table"])
_USER_MENTION = re.compile(
    r"(?:^|\W)@(?>[a-z0-9][a-z0-9-]*)(?!/)(?=\.+[ \t\W]|\.+$|[^0-9a-zA-Z_.]|$)",
    re.I | re.A | re.M,
)
_TEAM_MENTION = re.compile(r"(?:^|\W)@[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9_-]*\b", re.I | re.A)
# cmark-gfm: a scheme not glued to letters before it; `www.` at the start,
# after whitespace or after `*`, `_`, `~`, `(`.
_AUTOLINK_START = re.compile(r"(?i)(?<![a-z])(?:https?|ftp)://|(?:^|(?<=[\s*_~(]))www\.")
# The bot's own hidden markers (HTML comments it writes, never the model).
_BOT_MARKER = re.compile(r"<!-- kimi-review:[^<>]*-->")
# Where GitHub's web page that shows the comment lives: relative links resolve here.
_PAGE = "https://{host}/octo/widgets/pull/7"


def mentions_github_would_link(text_node: str) -> list[str]:
    """The `@name` / `@org/team` GitHub would turn into a ping in one text node."""
    return [m.group().lstrip() for m in (*_USER_MENTION.finditer(text_node),
                                         *_TEAM_MENTION.finditer(text_node))]  # fmt: skip


def opens_host(href: str, host: str) -> str | None:
    """The host a click on `href` goes to, from a page on `host` (browsers' reading)."""
    # Browsers drop tabs and newlines and read `\` as `/` in http(s) URLs.
    cleaned = re.sub(r"[\t\n\r]", "", href.strip()).replace("\\", "/")
    target = urlsplit(urljoin(_PAGE.format(host=host), cleaned))
    if target.scheme not in ("http", "https"):
        return f"{target.scheme}:"
    return (target.hostname or "").lower()


def rendered_problems(markdown: str, *, host: str = "github.com") -> list[str]:
    """Every ping, foreign link, image or raw HTML GitHub would render from `markdown`."""
    problems: list[str] = []
    for block in _MARKDOWN.parse(markdown):
        if block.type == "html_block" and not _BOT_MARKER.fullmatch(block.content.strip()):
            problems.append(f"raw html {block.content!r}")
        problems += _inline_problems(block.children or [], host)
    return problems


def _inline_problems(children: list[Token], host: str) -> list[str]:
    problems: list[str] = []
    in_link = 0
    node = ""
    for child in [*children, Token("end", "", 0)]:
        if child.type in ("text", "softbreak", "hardbreak") and not in_link:
            node += "\n" if child.type != "text" else child.content
            continue
        problems += [f"mention {m!r} in {node!r}" for m in mentions_github_would_link(node)]
        problems += _autolink_problems(node, host)
        node = ""
        if child.type == "link_open":
            in_link += 1
            href = str(child.attrs.get("href", ""))
            if opens_host(href, host) != host:
                problems.append(f"link to {href!r}")
        elif child.type == "link_close":
            in_link -= 1
        elif child.type == "image" or (
            child.type == "html_inline" and not _BOT_MARKER.fullmatch(child.content)
        ):
            problems.append(f"{child.type} {child.content!r}")
    return problems


def _autolink_problems(node: str, host: str) -> list[str]:
    problems = []
    for start in _AUTOLINK_START.finditer(node):
        url = re.split(r"[\s<]", node[start.start() :], maxsplit=1)[0]
        full = url if "://" in url else f"http://{url}"
        if (urlsplit(full).hostname or "").lower() != host or "@" in url:
            problems.append(f"autolinked {url!r}")
    return problems
