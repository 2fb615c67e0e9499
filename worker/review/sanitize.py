"""Make model-written markdown safe to post on GitHub, keeping it readable.

The model's text is untrusted: a pull request can steer it (prompt injection)
into writing things the bot must never post. Outside code, this module:

- wraps `@name` / `@org/team` in a code span wherever GitHub would link it
  (after any character but a letter or digit: `docs/@x`, `@@x`, `_x_@y`),
  so nobody is pinged (GitHub does not link mentions inside code);
- keeps a link clickable only to the GitHub host in use or relative
  (`links.link_allowed`): any other inline link, image, autolink or bare URL
  is shown as code, and every other `[` is escaped, so no reference-style
  link or image can form;
- turns images (`![alt](url)`) into links, so no tracking pixel or picture
  is shown in the bot's name;
- escapes every `<` and `&` (raw HTML such as `<a href>`, `<details>`,
  `<!-- ... -->`; character references such as `&#64;`), which could hide
  text, link elsewhere or rebuild a mention;
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

from worker.review.links import link_allowed

_FENCE_OPEN: Final = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# Code spans on one line only, not after a backslash: anything less certain
# is treated as prose (sanitised), which is safe if less pretty.
_CODE_SPAN: Final = re.compile(
    r"(?<![`\\])(?P<ticks>`+)(?!`)(?P<code>[^\n]+?)(?<!`)(?P=ticks)(?!`)"
)
# GitHub user and team names: alphanumerics and hyphens; a team adds `/slug`.
# GitHub links `@name` at the start of a text node or after any non-word
# character (html-pipeline's MentionFilter: `(?:^|\W)@name`), so only a
# letter or digit right before the `@` keeps it plain (e-mail addresses).
# `_` is a word character, but it may be an emphasis marker that rendering
# removes (`_x_@y`), so it does not protect. Names glued together (`@a@b`)
# are quoted as one. URLs were taken out before (`_LINKISH`).
_NAME: Final = r"@[A-Za-z0-9][A-Za-z0-9-]*(?:/[\w.-]+)?"
# A backslash-escaped `\@name` is quoted whatever comes before it: the
# escape ends one text node and `@name` starts the next, where it is live.
_MENTION: Final = re.compile(
    rf"(?:(?<![A-Za-z0-9\\])|(?<=[A-Za-z0-9])(?=\\))"
    rf"(?P<escapes>\\*)(?P<mention>{_NAME}(?:{_NAME})*)"
)
# Everything that could become a clickable link, in the order tried: an
# inline link or image `[text](dest)` (a plain destination, no title), an
# autolink `<scheme:...>`, a bare URL GitHub autolinks (https://github.github.com/gfm/#autolinks-extension-).
# A `[` or `<` after an odd run of backslashes is escaped, so not a link.
_LINKISH: Final = re.compile(
    r"(?<!\\)(?P<lesc>(?:\\\\)*)(?P<bang>!?)\[(?P<text>[^\[\]\n`\\<]*)\]"
    r"\((?P<dest>[^\s()<>\\`\[\]]*)\)"
    r"|(?<!\\)(?P<aesc>(?:\\\\)*)<(?P<auto>[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>"
    r"|(?<!\\)(?P<besc>\\*)(?P<bare>(?i:(?:https?|ftp)://|(?<![A-Za-z0-9])www\.)[^\s<]*)"
)
_OPEN_BRACKET: Final = re.compile(r"(?<!\\)(?P<escapes>(?:\\\\)*)\[")
_STRAY_BACKTICK: Final = re.compile(r"(?<!\\)(?P<escapes>(?:\\\\)*)`")
# A bot command is read from the start of a line (after indentation or a
# blockquote marker): `/review`, `/lgtm`, `/merge` ...
_COMMAND_LINE: Final = re.compile(r"^(?P<lead>[ \t]*(?:>[ \t]*)*)/(?=[A-Za-z])", re.M)
_BIDI: Final = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_MARKER_IN_CODE: Final = re.compile(r"<!--(?=\s*kimi-review)", re.I)


def sanitize_markdown(text: str, *, link_host: str | None = None) -> str:
    """Model markdown made safe to post: see the module docstring.

    `link_host`: the GitHub web host (`links.web_host`) links may point to;
    None keeps only relative links clickable.
    """
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
                out.append(_sanitize_prose("\n".join(prose), link_host))
                prose = []
            fence = opened["fence"]
            out.append(_opening_fence(opened))
            continue
        out.append(_defang_marker(line))
        if _closes(line, fence):
            fence = None
    if prose:
        out.append(_sanitize_prose("\n".join(prose), link_host))
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


def sanitize_line(text: str, *, link_host: str | None = None, limit: int | None = None) -> str:
    """One-line model text (a title): newlines folded, cut to `limit` characters, sanitised.

    The cut is made on the model's text, before sanitising: cutting the
    sanitised text could split the code span around a mention and make it live.
    """
    folded = " ".join(text.split())
    if limit is not None and len(folded) > limit:
        folded = folded[: limit - 1].rstrip() + "…"
    # A title is never a code block; a leading fence would swallow the body.
    folded = folded.replace("```", "`` `").replace("~~~", "~~ ~")
    return sanitize_markdown(folded, link_host=link_host)


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


def _sanitize_prose(text: str, link_host: str | None) -> str:
    pieces: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_sanitize_plain(text[last : span.start()], link_host))
        pieces.append(_defang_marker(span.group()))
        last = span.end()
    pieces.append(_sanitize_plain(text[last:], link_host))
    return _join(pieces)


def _sanitize_plain(text: str, link_host: str | None) -> str:
    """Prose without code spans: links checked, then everything else made inert."""
    pieces: list[str] = []
    last = 0
    for found in _LINKISH.finditer(text):
        pieces.append(_sanitize_text(text[last : found.start()]))
        pieces.append(_link(found, link_host))
        last = found.end()
    pieces.append(_sanitize_text(text[last:]))
    return _join(pieces)


def _join(pieces: list[str]) -> str:
    """Pieces sanitised apart, joined so that no two code spans touch.

    A code span the sanitiser made (`` `https://x` ``) right before the model's
    (```` ```y``` ````) would merge into one run of backticks, and neither would
    be code any more: a space keeps them apart.
    """
    out = ""
    for piece in pieces:
        if out.endswith("`") and piece.startswith("`"):
            out += " "
        out += piece
    return out


def _link(found: re.Match[str], link_host: str | None) -> str:
    """A link kept if `links.link_allowed`, else its text and its URL as code."""
    if found["dest"] is not None:
        label = _sanitize_plain(found["text"], link_host)
        label = f"image: {label}" if found["bang"] else label
        if link_allowed(found["dest"], link_host):
            return f"{found['lesc']}[{label}]({found['dest']})"
        return f"{found['lesc']}{label} ({code_span(found['dest'])})"
    if found["auto"] is not None:
        if link_allowed(found["auto"], link_host):
            return found.group()
        return f"{found['aesc']}{code_span(found['auto'])}"
    if link_allowed(found["bare"], link_host, bare=True):
        return found.group()
    # An odd run of backslashes would escape the code span's opening backtick
    # (and leave the URL live): one more shows the same backslashes.
    escapes = found["besc"] + ("\\" if len(found["besc"]) % 2 else "")
    return f"{escapes}{code_span(found['bare'])}"


def _quote_mention(found: re.Match[str]) -> str:
    # An odd run of backslashes would escape the opening backtick; the last
    # one only escaped the `@`, which means nothing inside a code span.
    escapes = found["escapes"]
    if len(escapes) % 2:
        escapes = escapes[:-1]
    return f"{escapes}`{found['mention']}`"


def _sanitize_text(text: str) -> str:
    # Every `&` and `<` escaped, not only those that start a reference or a
    # tag: pieces are sanitised apart, and a `<` ending one could meet a
    # letter starting the next. Both render as themselves.
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    # No `[` left could open a link, an image or a reference definition.
    text = _OPEN_BRACKET.sub(r"\g<escapes>\\[", text)
    # A backtick left in prose matched no other one (code spans were cut out
    # before), so it renders as itself; escaping it keeps it from pairing
    # with the backticks put around a mention below.
    text = _STRAY_BACKTICK.sub(r"\g<escapes>\\`", text)
    text = _MENTION.sub(_quote_mention, text)
    return _COMMAND_LINE.sub(lambda m: f"{m['lead']}\\/", text)
