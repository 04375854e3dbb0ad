"""Record-by-record reading of a log file the fast decoder refused.

One bad record (invalid UTF-8, nesting deeper than a parser's stack, a syntax error)
must not lose the other records of its file, a real denial among them. This reads
``{"Records": [ ... ]}`` (or a bare ``[ ... ]`` of records) one item at a time: the item
boundaries are found by a bracket matcher that skips strings whole (no recursion, so any
depth) and matches brackets by type, so one mismatched bracket (a ``]`` flipped to ``}``)
ends only its own item; after junk between items it re-synchronises at the next record.
Each item is parsed on its own, and an item that still fails is read field by field,
keeping every top-level field that parses. Slow (pure Python), so only for refused files.

Stdlib only (the Lambda uses ``salvage`` for one bad message).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any

# a JSON string (escapes included) whole, or one structural character
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_WS = re.compile(r"[ \t\r\n]*")
_START = re.compile(r'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_BARE_START = re.compile(r"[ \t\r\n]*\[")
# Where the next record starts after junk: a comma, then an object (one that opens with
# CloudTrail's first key preferred: a nested object never does).
_NEXT_RECORD = re.compile(r',[ \t\r\n]*(?=\{[ \t\r\n]*"eventVersion")')
_NEXT_OBJECT = re.compile(r",[ \t\r\n]*(?=\{)")
_OPENER = {"]": "[", "}": "{"}
# Brackets deeper than this are counted, not matched by type (no record nests so deep;
# it keeps the matcher's stack small on a file of nothing but "[").
_TYPED_DEPTH = 10_000
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
    bare: bool = False  # a top-level array, not {"Records": [...]}


def skip_value(s: str, pos: int) -> int:
    """The end of the JSON value starting at ``pos``, found without parsing it: brackets
    matched by type, strings skipped whole. Stops before a ``,``/``]``/``}`` at depth 0.

    A closer of the wrong type closes the brackets opened inside its own (``[1,2}`` ends
    the object the list is in); a closer that matches nothing open is skipped; an object
    left open ends where a comma is followed by the next object."""
    stack: list[str] = []
    deeper = 0  # brackets past _TYPED_DEPTH, counted only
    for m in _TOKEN.finditer(s, pos):
        c = m.group()[0]
        if c in "[{":
            if len(stack) < _TYPED_DEPTH:
                stack.append(c)
            else:
                deeper += 1
        elif c in "]}":
            if deeper:
                deeper -= 1
                continue
            if not stack:
                return m.start()
            opener = _OPENER[c]
            if stack[-1] != opener:
                if opener not in stack:
                    continue  # closes nothing open: a stray bracket inside this item
                while stack[-1] != opener:
                    stack.pop()
            stack.pop()
            if not stack:
                return m.end()
        elif c == ",":
            if not stack:
                return m.start()
            if stack == ["{"] and not deeper:
                # an object never follows a comma inside an object: this item was never
                # closed ({"a": 1, {next record}), so it ends here and the next one starts
                after = _WS.match(s, m.end()).end()  # type: ignore[union-attr]
                if s[after : after + 1] == "{":
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


def recover(
    data: bytes | memoryview, max_items: int | None = None, inner: bool = False
) -> Recovered | None:
    """A ``{"Records": [...]}`` file, or a bare ``[...]`` of records, read item by item;
    None when it does not start so. ``inner``: ``data`` is the inside of such a list (a
    slice of one, read without copying it into brackets). At most ``max_items`` items
    are read: past that, the rest of the file is one bad item (memory stays bounded)."""
    s = codecs.decode(data, "utf-8", "surrogateescape")
    out = Recovered()
    if inner:
        if not s.strip():
            return out
        pos = 0
    else:
        m = _START.match(s)
        if not m:
            m = _BARE_START.match(s)
            if not m:
                return None
            out.bare = True
        pos = _WS.match(s, m.end()).end()  # type: ignore[union-attr]
        if s[pos : pos + 1] == "]":
            return out
    while True:
        if max_items is not None and out.count >= max_items:
            # first, so a scan that shows only the first few bad records shows it
            out.bad.insert(0, BadItem(out.count, f"past the {max_items:,}-record limit: not read"))
            return out
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
        elif nxt == "]" or (inner and nxt == ""):
            return out
        else:  # truncated, or junk after an item: go on at the next record, if any
            if not (out.bad and out.bad[-1].index == index):
                out.bad.append(BadItem(index, "junk after the record"))
            resync = _NEXT_RECORD.search(s, pos) or _NEXT_OBJECT.search(s, pos)
            if nxt == "" or resync is None:
                out.bad.append(BadItem(out.count, "the file ends before the Records list does"))
                return out
            pos = resync.end()
