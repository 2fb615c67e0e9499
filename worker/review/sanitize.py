"""Make model-written markdown safe to post on GitHub, keeping it readable.

The model's text is untrusted: a pull request can steer it (prompt injection)
into writing things the bot must never post. Outside code, this module:

- wraps `@name` / `@org/team` in a code span, so nobody is pinged (GitHub does
  not link mentions inside code);
- turns images (`![alt](url)`) into plain links, so no tracking pixel or
  picture is shown in the bot's name;
- escapes raw HTML (`<details>`, `<img>`, `<!-- ... -->`) and character
  references (`&#64;`), which could hide text or rebuild a mention;
- escapes a line that starts with `/word` (`/review`, `/approve`, `/merge`),
  so no bot reads the comment as a command;
- shows bidirectional-override characters (Trojan Source) as `[U+202E]`.

Code spans and fenced code blocks are left as written (they render literally),
except that an unclosed fence is closed, so model text cannot swallow what
the bot appends after it (the fingerprint marker, the rest of the summary).
Suggestion text is not markdown: `fence_for` picks a fence it cannot close.
"""

from __future__ import annotations

import re
from typing import Final

_FENCE_OPEN: Final = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# Code spans on one line only, not after a backslash: anything less certain
# is treated as prose (sanitised), which is safe if less pretty.
_CODE_SPAN: Final = re.compile(
    r"(?<![`\\])(?P<ticks>`+)(?!`)(?P<code>[^\n]+?)(?<!`)(?P=ticks)(?!`)"
)
# GitHub user and team names: alphanumerics and hyphens; a team adds `/slug`.
# A mention needs no letter, digit or slash right before the `@` (so e-mail
# addresses and URLs stay untouched). Names glued together (`@a@b`) are quoted
# as one: the second would otherwise start a fresh text node and be linked.
_NAME: Final = r"@[A-Za-z0-9][A-Za-z0-9-]*(?:/[\w.-]+)?"
# A backslash-escaped `\@name` is quoted whatever comes before it: the
# escape ends one text node and `@name` starts the next, where it is live.
_MENTION: Final = re.compile(
    rf"(?:(?<![A-Za-z0-9/@\\])|(?<=[A-Za-z0-9/@])(?=\\))"
    rf"(?P<escapes>\\*)(?P<mention>{_NAME}(?:{_NAME})*)"
)
_STRAY_BACKTICK: Final = re.compile(r"(?<!\\)(?P<escapes>(?:\\\\)*)`")
_IMAGE: Final = re.compile(r"!\[")
_AUTOLINK: Final = re.compile(r"<(?P<url>https?://[^\s<>]+)>")
_HTML_START: Final = re.compile(r"<(?=[A-Za-z/!?])")
_CHAR_REFERENCE: Final = re.compile(
    r"&(?=#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)"
)
# A bot command is read from the start of a line (after indentation or a
# blockquote marker): `/review`, `/lgtm`, `/merge` ...
_COMMAND_LINE: Final = re.compile(r"^(?P<lead>[ \t]*(?:>[ \t]*)*)/(?=[A-Za-z])", re.M)
_BIDI: Final = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_MARKER_IN_CODE: Final = re.compile(r"<!--(?=\s*kimi-review)", re.I)


def sanitize_markdown(text: str) -> str:
    """Model markdown made safe to post: see the module docstring."""
    text = _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text.replace("\r\n", "\n"))
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            opened = _FENCE_OPEN.match(line)
            if opened is None or (opened["fence"][0] == "`" and "`" in opened["info"]):
                prose.append(line)
                continue
            if prose:
                out.append(_sanitize_prose("\n".join(prose)))
                prose = []
            fence = opened["fence"]
            out.append(_opening_fence(opened))
            continue
        out.append(_defang_marker(line))
        if _closes(line, fence):
            fence = None
    if prose:
        out.append(_sanitize_prose("\n".join(prose)))
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


def sanitize_line(text: str) -> str:
    """One-line model text (a title): newlines folded, then sanitised."""
    folded = " ".join(text.split())
    # A title is never a code block; a leading fence would swallow the body.
    return sanitize_markdown(folded.replace("```", "`` `").replace("~~~", "~~ ~"))


def code_span(text: str) -> str:
    """`text` as an inline code span whatever backticks it holds (paths, names)."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence_for(code: str, *, char: str = "`") -> str:
    """A code fence longer than any run of `char` at the start of a line of `code`.

    A fenced block closes only on a fence at least as long as its opener
    (CommonMark 4.5), so a suggestion holding ``` cannot end ours early.
    """
    longest = 0
    for line in code.split("\n"):
        run = len(line.lstrip(" ")) - len(line.lstrip(" ").lstrip(char))
        longest = max(longest, run)
    return char * max(3, longest + 1)


def contains_marker(text: str) -> bool:
    """True when `text` holds something shaped like one of the bot's markers."""
    return _MARKER_IN_CODE.search(text) is not None


def unclosed_fence(text: str) -> str | None:
    """The fence a code block left open at the end of `text` (to close it), else None."""
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            opened = _FENCE_OPEN.match(line)
            if opened and not (opened["fence"][0] == "`" and "`" in opened["info"]):
                fence = opened["fence"]
        elif _closes(line, fence):
            fence = None
    return fence


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    if len(line) - len(line.lstrip(" ")) > 3 or not stripped:
        return False
    return set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def _opening_fence(opened: re.Match[str]) -> str:
    info = opened["info"]
    # Only the bot decides what is a GitHub suggestion (one that replaces
    # exactly the anchored lines); a ```suggestion in model prose is shown
    # as plain code instead of offering a one-click commit.
    if info.strip().lower().startswith("suggestion"):
        info = ""
    return f"{opened['indent']}{opened['fence']}{_defang_marker(info)}"


def _defang_marker(line: str) -> str:
    # Inside code the text is shown literally, but a line shaped like our
    # hidden marker would still be found by a careless parser; break it with
    # a zero-width space that does not change how the code reads.
    return _MARKER_IN_CODE.sub("<!-\u200b-", line)


def _sanitize_prose(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_sanitize_plain(text[last : span.start()]))
        pieces.append(_defang_marker(span.group()))
        last = span.end()
    pieces.append(_sanitize_plain(text[last:]))
    return "".join(pieces)


def _quote_mention(found: re.Match[str]) -> str:
    # An odd run of backslashes would escape the opening backtick; the last
    # one only escaped the `@`, which means nothing inside a code span.
    escapes = found["escapes"]
    if len(escapes) % 2:
        escapes = escapes[:-1]
    return f"{escapes}`{found['mention']}`"


def _sanitize_plain(text: str) -> str:
    text = _AUTOLINK.sub(r"\g<url>", text)
    text = _CHAR_REFERENCE.sub("&amp;", text)
    text = _HTML_START.sub("&lt;", text)
    text = _IMAGE.sub("[image: ", text)
    # A backtick left in prose matched no other one (code spans were cut out
    # before), so it renders as itself; escaping it keeps it from pairing
    # with the backticks put around a mention below.
    text = _STRAY_BACKTICK.sub(r"\g<escapes>\\`", text)
    text = _MENTION.sub(_quote_mention, text)
    return _COMMAND_LINE.sub(lambda m: f"{m['lead']}\\/", text)
