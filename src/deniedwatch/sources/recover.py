"""Record-by-record reading of a log file the fast decoder refused.

One bad record (invalid UTF-8, nesting deeper than a parser's stack, a syntax error)
must not lose the other records of its file, a real denial among them. This reads
``{"Records": [ ... ]}`` one item at a time: the item boundaries are found by a
bracket counter that skips strings whole (no recursion, so any depth), each item is
parsed on its own, and an item that still fails is read field by field, keeping
every top-level field that parses. Slow (pure Python), so only for refused files.

Stdlib only (the Lambda uses ``salvage`` for one bad message).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# a JSON string (escapes included) whole, or one structural character
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_WS = re.compile(r"[ \t\r\n]*")
_START = re.compile(r'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_KEY = re.compile(r'[ \t\r\n]*("[^"\\]*(?:\\.[^"\\]*)*")[ \t\r\n]*:', re.DOTALL)
# A byte that was not UTF-8, kept by the surrogateescape decoding as U+DC80..U+DCFF
# (a JSON "\udc80" escape is six ASCII characters, so it never matches).
_RAW_BYTE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class BadItem:
    """One unreadable (or partly read) record: its index in Records and why."""

    index: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.index}: {self.reason}"


@dataclass(slots=True)
class Recovered:
    count: int = 0  # items in the Records list
    records: list[dict[str, Any]] = field(default_factory=list)  # read, whole or salvaged
    bad: list[BadItem] = field(default_factory=list)


def skip_value(s: str, pos: int) -> int:
    """The end of the JSON value starting at ``pos``, found without parsing it: brackets
    counted, strings skipped whole. Stops before a ``,``/``]``/``}`` at depth 0."""
    depth = 0
    for m in _TOKEN.finditer(s, pos):
        c = m.group()[0]
        if c in "[{":
            depth += 1
        elif c in "]}":
            if depth == 0:
                return m.start()
            depth -= 1
            if depth == 0:
                return m.end()
        elif c == "," and depth == 0:
            return m.start()
    return len(s)


def salvage(text: str) -> tuple[dict[str, Any], list[str]] | None:
    """A JSON object read field by field: (the fields that parse, the names of those that
    do not), or None when ``text`` is not an object at all."""
    pos = _WS.match(text).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "{":
        return None
    pos += 1
    fields: dict[str, Any] = {}
    dropped: list[str] = []
    while True:
        m = _KEY.match(text, pos)
        if not m:
            break
        try:
            key = json.loads(m.group(1))
        except ValueError:
            break
        start = _WS.match(text, m.end()).end()  # type: ignore[union-attr]
        end = skip_value(text, start)
        try:
            fields[key] = json.loads(text[start:end])
        except (ValueError, RecursionError):
            dropped.append(key)
        pos = _WS.match(text, end).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] != ",":
            break
        pos += 1
    return fields, dropped


def read_item(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """One record's text -> (the record or None, why it is bad or None)."""
    reason: str | None = None
    record: Any = None
    try:
        record = json.loads(text)
    except RecursionError:
        reason = "nests too deeply"
    except ValueError as exc:
        reason = f"not JSON: {exc}"
    if _RAW_BYTE.search(text):
        reason = "invalid UTF-8" + (f", {reason}" if reason else "")
    if reason and record is None:
        salvaged = salvage(text)
        if salvaged and salvaged[0]:
            record, dropped = salvaged
            reason += f" (read without {', '.join(dropped)})" if dropped else " (read in part)"
    if record is None:
        return None, reason
    if not isinstance(record, dict):  # as the fast path: any object goes to the rules
        return None, reason or f"not a JSON object ({type(record).__name__})"
    return record, reason


def recover(data: bytes) -> Recovered | None:
    """A ``{"Records": [...]}`` file read item by item; None when it does not start so."""
    s = data.decode("utf-8", "surrogateescape")
    m = _START.match(s)
    if not m:
        return None
    out = Recovered()
    pos = _WS.match(s, m.end()).end()  # type: ignore[union-attr]
    if s[pos : pos + 1] == "]":
        return out
    while True:
        pos = _WS.match(s, pos).end()  # type: ignore[union-attr]
        end = skip_value(s, pos)
        index = out.count
        out.count += 1
        if end == pos:
            out.bad.append(BadItem(index, "empty item"))
        else:
            record, reason = read_item(s[pos:end])
            if record is not None:
                out.records.append(record)
            if reason:
                out.bad.append(BadItem(index, reason))
        pos = _WS.match(s, max(end, pos)).end()  # type: ignore[union-attr]
        nxt = s[pos : pos + 1]
        if nxt == ",":
            pos += 1
        elif nxt == "]":
            return out
        else:  # truncated, or junk after an item: what was read so far is kept
            if not (out.bad and out.bad[-1].index == index):
                out.bad.append(BadItem(out.count, "the file ends before the Records list does"))
            return out
