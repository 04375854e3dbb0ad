"""Attacker text made safe to show: invisible and control characters, length limits,
Slack escaping, plain push previews, defanged URLs.

userAgent, errorMessage, principal names and request parameters are written by
whoever made the call. Every renderer (Slack, email, the scan's table, CSV and JSON,
warnings) passes them through here, so there is one definition of "safe".
"""

from __future__ import annotations

import json
import re

ELLIPSIS = "…"

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters a
# renderer shows as nothing when it has no glyph, so "c\u034fd" reads as "cd". Copied
# from the regex module's Unicode tables (a maintained table; Python's unicodedata
# has no such property); tests/test_text_safety.py fails when they differ.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)
# Shows as a blank cell, yet is a symbol (So), neither ignorable nor a space.
BLANK_SYMBOLS = "\u2800"  # BRAILLE PATTERN BLANK
_INVISIBLE = re.compile(
    "[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in DEFAULT_IGNORABLE) + BLANK_SYMBOLS + "]"
)


def is_unsafe(ch: str) -> bool:
    """Whether one character must not reach a reader as itself.

    ``str.isprintable`` (unicodedata's categories) is False for C0/C1 controls (Cc:
    ESC, BEL, U+009B CSI...), format characters (Cf: bidi overrides, zero-width
    joiners), lone surrogates (Cs), private-use and unassigned code points, line and
    paragraph separators and every space but U+0020; the rest are the ignorables above.
    """
    return not ch.isprintable() or _INVISIBLE.match(ch) is not None


def _is_clean(text: str) -> bool:
    return text.isprintable() and _INVISIBLE.search(text) is None


def width(text: str) -> int:
    """Length as Slack counts it (UTF-16 code units), never below Python's len."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def clean(value: object) -> str:
    """One line of printable text: unsafe characters become \\xNN / \\uNNNN escapes.

    The one definition of safe text for every reader: the terminal table, CSV cells,
    warnings and file names on stderr, Slack and email.
    """
    text = value if isinstance(value, str) else str(value)
    if _is_clean(text):
        return text
    return "".join(_escaped(ch) if is_unsafe(ch) else ch for ch in text)


def _escaped(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def clean_json(text: str) -> str:
    """Serialized JSON with the same unsafe characters as JSON escapes (``\\u009b``):
    the data stays exact for a parser, and no raw control reaches a terminal."""
    if _is_clean(text):
        return text
    # a raw newline can only be the serializer's own indentation (it escapes those in strings)
    return "".join(json.dumps(ch)[1:-1] if ch != "\n" and is_unsafe(ch) else ch for ch in text)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` (Slack) characters, marked with an ellipsis."""
    if width(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def cut_middle(text: str, limit: int) -> str:
    """``text`` shortened in the middle to at most ``limit`` characters: identifiers
    (ARNs, names, ids) are told apart by their ends ('arn:aws:s3:::bucket/…/part-0049.csv'),
    so both ends stay; a path keeps its last segment whole when it can."""
    if width(text) <= limit:
        return text
    if limit < 5:
        return cut(text, limit)
    room = limit - 1
    last = text.rsplit("/", 1)[-1] if "/" in text else ""
    tail_len = max(room // 2, min(width(last) + 1, room - 2))
    head, tail = _head(text, room - tail_len), _tail(text, tail_len)
    return head + ELLIPSIS + tail


def _head(text: str, limit: int) -> str:
    if text.isascii():  # one code unit per character
        return text[: max(limit, 0)]
    out, used = [], 0
    for ch in text:
        if used + width(ch) > limit:
            break
        out.append(ch)
        used += width(ch)
    return "".join(out)


def _tail(text: str, limit: int) -> str:
    return _head(text[::-1], limit)[::-1]


def cut_value(text: str, limit: int) -> str:
    """Record text cut to ``limit``: an identifier (no spaces) in the middle, prose at
    the end."""
    return cut_middle(text, limit) if not any(c.isspace() for c in text) else cut(text, limit)


_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; after this no text can ping or link."""
    return text.translate(_MRKDWN)


def literal(value: object, limit: int) -> str:
    """Record text for a mrkdwn field: cleaned, escaped, in an inline code span.

    The code span keeps ``*``, ``_``, ``~`` and URLs from being formatted; a
    backtick inside would end the span, so it is shown as ``ˋ`` (U+02CB). The
    result, span included, is at most ``limit`` characters: the cut happens
    before escaping grows the text, one character at a time.
    """
    text = clean(value).replace("`", "ˋ")
    escaped = escape_mrkdwn(text)
    budget = limit - 2
    if width(escaped) > budget and not any(c.isspace() for c in text):
        # an identifier: keep both ends (cut before escaping, then check the escaped size)
        size = budget
        while size > 4 and width(escape_mrkdwn(cut_middle(text, size))) > budget:
            size -= max(1, width(escape_mrkdwn(cut_middle(text, size))) - budget)
        escaped = escape_mrkdwn(cut_middle(text, size))
    if width(escaped) > budget:
        out: list[str] = []
        used = 0
        for ch in text:
            piece = escape_mrkdwn(ch)
            if used + width(piece) > budget - 1:
                break
            out.append(piece)
            used += width(piece)
        escaped = "".join(out) + ELLIPSIS
    return f"`{escaped}`" if escaped else "` `"


# Slack formats *bold*, _italic_, ~strike~ and `code` in a message's top-level text,
# which is also the push notification. Record text there is shown with look-alikes.
_FORMATTING = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})


def plain(text: str) -> str:
    """Text for the push preview: cleaned, escaped, and with no character Slack formats."""
    return escape_mrkdwn(clean(text).translate(_FORMATTING))


# A scheme URL, and any host-like name (labels ending in a letters-only TLD), which
# mail clients turn into links even without a scheme.
_URL = re.compile(r"\b([a-z][a-z0-9+.-]{0,30})://", re.IGNORECASE)
_HOST = re.compile(r"\b(?:[a-z0-9-]+\.)+[a-z]{2,63}\b", re.IGNORECASE)


# Words shown exactly in an email: an ARN (no scheme inside) and an email address. A
# mail client makes a mailto: link of an address at most; an ARN it does not link.
_EXACT = re.compile(
    r"arn:[A-Za-z0-9-]{1,20}:[^\s]*|[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def defang(text: str) -> str:
    """Record text for an email: URLs and host names made unclickable, the usual way
    (``hxxps://signin[.]aws[.]amazon[.]com[.]evil[.]example/console``), while ARNs and
    email addresses stay exact (they are evidence: copied back, they must match)."""
    out, last = [], 0
    for m in _EXACT.finditer(text):
        word = m.group()
        out.append(_defang(text[last : m.start()]))
        # a scheme or a www. inside would still make a link: defang the word then
        out.append(_defang(word) if "://" in word or "www." in word.lower() else word)
        last = m.end()
    out.append(_defang(text[last:]))
    return "".join(out)


def defang_urls(text: str) -> str:
    """Only scheme URLs made unclickable (``hxxps://``): for a one-line subject, where a
    name such as ``a.csv`` must read as itself."""
    text = _WWW.sub(lambda m: m.group()[:-1] + "[.]", text)
    return _URL.sub(lambda m: _defang_scheme(m.group(1)), text)


_WWW = re.compile(r"\bwww\.", re.IGNORECASE)


def _defang(text: str) -> str:
    text = _HOST.sub(lambda m: m.group().replace(".", "[.]"), text)
    return _URL.sub(lambda m: _defang_scheme(m.group(1)), text)


def _defang_scheme(scheme: str) -> str:
    lower = scheme.lower()
    if lower in ("http", "https"):
        return "hxxp" + lower[4:] + "://"
    return scheme + "[://]"


def looks_like_html(body: bytes | str | None) -> bool:
    """A web page (a proxy's, a stand-in's), not a service's answer: services answer JSON,
    XML or plain text, never ``<!doctype``/``<html``."""
    if not body:
        return False
    head = (body[:64].decode("latin-1") if isinstance(body, bytes) else body[:64]).lstrip()
    return head.lower().startswith(("<!doctype", "<html"))


def answer_excerpt(body: object, limit: int = 200) -> str:
    """What to quote of an error answer in one line: an HTML page is named, never shown."""
    text = str(body or "")
    return (
        "(an HTML page, not the service's answer)" if looks_like_html(text) else clean(text)[:limit]
    )
