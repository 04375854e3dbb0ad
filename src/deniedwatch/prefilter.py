"""The denial rule as a byte test: which log files cannot hold a denial, so the scan
need not parse them (most files of a real trail: docs/performance.md).

Rendered from the same ``DenialRule`` as the filter pattern, the event pattern and the
SQL. The test reads the decompressed text at every ``errorCode`` it holds and answers
"maybe" unless each one is, beyond doubt, not a denial under the rule. It never says
"no" for a file whose parse would give a denial, whatever the file's shape (a
CloudTrail file, JSON Lines, ``lookup-events`` output whose records are JSON strings,
a broken file read record by record): a wrong "no" would hide a denial, a wrong
"maybe" only costs a parse. Each case, and the attacker's text it answers:

- the key is found as the literal bytes ``errorCode``. A key spelled with ``\\u``
  escapes (``"\\u0065rrorCode"``) parses to the same key, so a file with any escape
  that decodes to a character of the key, a backslash, ``u`` or a hex digit (what a
  second decoding, a lookup-events string, could turn into an escape) is "maybe";
- after it, the grammar of ``"errorCode" : "value"`` is read with JSON's whitespace,
  at the top level (``"``) or inside a JSON string (``\\"``, ``\\n``). A value with an
  escape in it (``"Access\\u0044enied"``), or any token the grammar does not expect
  where a backslash could be an escape, is "maybe";
- a value read whole is asked ``DenialRule.is_denial`` (extra and ignored codes
  included); a non-string value (null, a number, an object) is never a denial;
- ``errorCode`` followed by anything but a quote is not that key (``errorCodes``).

A nested object's ``errorCode`` or one written inside a string value reads as a
candidate too: those files are parsed, and the parse decides. Pure; stdlib only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from deniedwatch.rules import DenialRule

KEY = b"errorCode"
# Characters an escape must not produce: the key's own, and what a second decoding
# (JSON inside a JSON string) turns into an escape (backslash, u, hex digits).
_DANGER = frozenset(KEY.decode()) | frozenset("\\u0123456789abcdefABCDEF")
_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")
# JSON whitespace, raw or (inside a JSON string, one level down) escaped
_WS = re.compile(rb"(?:[ \t\n\r]|\\[ntr])*")
_PLAIN = re.compile(rb'[^"\\]*')  # string characters without a quote or an escape

# What one errorCode occurrence is
SAFE = 0  # not that key, or a value that is not a denial
DOUBT = 1  # may be a denial (a denial, an escape in the way, a shape not foreseen)


class ByteTest:
    """``may_hold_denial(text)``: False only when no record in ``text`` can be a denial."""

    def __init__(self, rule: DenialRule) -> None:
        self.rule = rule

    def may_hold_denial(self, text: bytes) -> bool:
        if json.detect_encoding(text[:4]) not in ("utf-8", "utf-8-sig"):
            return True  # UTF-16/32: the stdlib parser would read it, the bytes differ
        if b"\\" in text and _escapes_danger(text):  # one byte: memchr, the fast search
            return True
        find = finder(text)
        pos = find(KEY, 0)
        while pos >= 0:
            end = pos + len(KEY)
            if self.occurrence(text, end) == DOUBT:
                return True
            pos = find(KEY, end)
        return False

    def occurrence(self, text: bytes, p: int) -> int:
        """The errorCode whose letters end at ``p``: SAFE or DOUBT."""
        inner = text[p : p + 2] == b'\\"'  # the key's closing quote, one level down
        if not inner and text[p : p + 1] != b'"':
            return DOUBT if text[p : p + 1] == b"\\" else SAFE  # errorCodes, errorCode1
        p = _WS.match(text, p + (2 if inner else 1)).end()  # type: ignore[union-attr]
        c = text[p : p + 1]
        if c != b":":
            return DOUBT if c in (b"\\", b"") else SAFE  # an escaped colon? else a value
        p = _WS.match(text, p + 1).end()  # type: ignore[union-attr]
        if text[p : p + 2] == b'\\"':
            close, p = b'\\"', p + 2
        elif text[p : p + 1] == b'"':
            close, p = b'"', p + 1
        else:  # null, a number, an object: never a denial; an escape: maybe a quote
            return DOUBT if text[p : p + 1] in (b"\\", b"") else SAFE
        stop = _PLAIN.match(text, p).end()  # type: ignore[union-attr]
        if text[stop : stop + len(close)] != close:
            return DOUBT  # an escape inside the value, or the text ends
        value = text[p:stop]
        if not value.isascii() or self.rule.is_denial(value.decode()):
            return DOUBT
        return SAFE


def _libc_memmem() -> Any:
    """glibc's memmem (two-way with a shift table): measured 2.4x faster than
    ``bytes.find`` (CPython 3.11) over CloudTrail text, where this search is most of
    the cost of a skipped file. None where there is no C library to ask."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        memmem = libc.memmem
    except (OSError, AttributeError, TypeError):  # pragma: no cover - no libc memmem
        return None
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return memmem


_MEMMEM = _libc_memmem()


def finder(text: bytes) -> Callable[[bytes, int], int]:
    """``find(needle, start)`` over ``text``, as ``bytes.find``: the offset or -1."""
    if _MEMMEM is None:  # pragma: no cover
        return text.find
    base = ctypes.cast(text, ctypes.c_void_p).value or 0  # text's own buffer (no copy)
    size = len(text)

    def find(needle: bytes, start: int) -> int:
        if start >= size:
            return -1 if needle else size
        hit = _MEMMEM(base + start, size - start, needle, len(needle))
        return hit - base if hit else -1

    return find


def _escapes_danger(text: bytes) -> bool:
    return any(chr(int(m.group(1), 16)) in _DANGER for m in _ESCAPE.finditer(text))


@lru_cache(maxsize=16)
def byte_test(rule: DenialRule) -> ByteTest:
    """The byte test of a rule (one per rule: built once, used for every file)."""
    return ByteTest(rule)
