"""Attacker text made safe to show: control characters, length limits, Slack escaping.

userAgent, errorMessage, principal names and request parameters are written by
whoever made the call. Every renderer (Slack, email) passes them through here,
so there is one definition of "safe".
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# C0/C1 controls (newlines included: they could forge lines in an email or a
# Slack quote) and the Unicode bidi overrides that can make text read backwards.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def width(text: str) -> int:
    """Length as Slack counts it (UTF-16 code units), never below Python's len."""
    return len(text.encode("utf-16-le")) // 2


def clean(value: object) -> str:
    """One line of printable text: unsafe characters become \\xNN / \\uNNNN escapes."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


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
