"""Attacker text made safe to show: control characters, length limits, Slack escaping.

userAgent, errorMessage, principal names and request parameters are written by
whoever made the call. Every renderer (Slack, email) passes them through here,
so there is one definition of "safe".
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# C0/C1 controls (newlines included: they could forge lines in an email or a
# Slack quote), line/paragraph separators (U+2028/9: also line breaks) and every
# Unicode format character (category Cf: bidi overrides that make text read
# backwards, zero-width spaces/joiners that make "adm\u200bin" look like "admin"),
# and lone surrogates (JSON "\ud800" escapes: no UTF-8/16 encoder takes them).
_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    r"\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    r"\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f]"
)


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
