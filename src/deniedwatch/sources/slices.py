"""A big list of records decoded a slice at a time, so memory stays bounded.

Decoding a whole file at once builds one object per record before any is dropped: a
64 KB gzip of ``{"Records":[{},{},…]}`` (22 million empty records in 63 MiB) took 3.8 GB
that way (issue 20). Here the list between its brackets is cut at record boundaries
into slices of about ``SLICE_BYTES``, each slice is decoded on its own (the fast
decoder, ``[`` + slice + ``]``), the caller keeps what it needs of it (the records a
rule must see, their times) and the rest is freed before the next slice. At most
``max_records`` records are read; past that the rest of the file is one bad item.

A cut is a ``},`` before a ``{`` (one that opens with ``"eventVersion"``, CloudTrail's
first key, preferred). A cut inside a nested list or a string makes the slice invalid
JSON (brackets or quotes unbalanced: a JSON string cannot hold a raw quote), so a slice
that decodes was cut at record boundaries; one that does not is retried up to the next
cut, then read record by record (``recover``), which also names its bad records.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deniedwatch.sources.recover import BadItem, recover

SLICE_BYTES = 256 * 1024  # ~90,000 empty records or ~150 real ones a slice
_RETRIES = 2  # longer slices tried before reading one record by record
_CUT = re.compile(rb'\}[ \t\r\n]*,(?=[ \t\r\n]*\{[ \t\r\n]*"eventVersion")')
_ANY_CUT = re.compile(rb"\}[ \t\r\n]*,(?=[ \t\r\n]*\{)")
_RECORDS_LIST = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_BARE_LIST = re.compile(rb"[ \t\r\n]*\[")
_RECORDS_END = re.compile(rb"\][ \t\r\n]*\}[ \t\r\n]*\Z")
_BARE_END = re.compile(rb"\][ \t\r\n]*\Z")


@dataclass(slots=True)
class Kept:
    """What the caller kept of every slice."""

    count: int = 0  # items seen
    records: list[Any] = field(default_factory=list)
    times: list[Any] = field(default_factory=list)
    bad: list[BadItem] = field(default_factory=list)


def list_bounds(text: bytes) -> tuple[int, int, bool] | None:
    """(start, end) of the items of ``{"Records": [ … ]}`` or of a bare ``[ … ]``, and
    whether it is bare; None for any other shape."""
    for head, tail, bare in ((_RECORDS_LIST, _RECORDS_END, False), (_BARE_LIST, _BARE_END, True)):
        m = head.match(text)
        if m:
            end = tail.search(text, m.end())
            return (m.end(), end.start(), bare) if end else None
    return None


def _cut_after(text: bytes, pos: int, end: int) -> tuple[int, int]:
    """(the end of a slice: just past the ``}`` of the first cut after ``pos``, where the
    next slice starts: past its comma), or (end, end)."""
    window = min(end, pos + SLICE_BYTES)  # never scan the whole file for the preferred cut
    m = _CUT.search(text, pos, window) or _ANY_CUT.search(text, pos, window)
    if m is None and window < end:  # one record longer than a slice: its end, wherever
        m = _ANY_CUT.search(text, window, end)
    return (m.start() + 1, m.end()) if m else (end, end)


def _past_limit(kept: Kept, max_records: int) -> None:
    """First in the list, so a scan that shows only the first few bad records shows it."""
    kept.bad.insert(0, BadItem(max_records, f"past the {max_records:,}-record limit: not read"))


def read_slices(
    text: bytes,
    start: int,
    end: int,
    decode_slice: Callable[[bytes], list[Any]],
    keep: Callable[[list[Any], Kept], None],
    max_records: int,
) -> Kept:
    """Every record of ``text[start:end]`` (the inside of a list), a slice at a time.

    ``decode_slice`` raises ValueError on a slice it cannot read; ``keep`` takes what it
    needs of each decoded slice into the ``Kept`` (records are never all held at once).
    Records read one by one (a slice the fast decoder refused) are dicts."""
    kept = Kept()
    pos = start
    while pos < end:
        if kept.count >= max_records:
            _past_limit(kept, max_records)
            break
        cut, nxt = _cut_after(text, min(pos + SLICE_BYTES, end), end)
        records = None
        for _ in range(_RETRIES + 1):
            try:
                records = decode_slice(b"[" + text[pos:cut] + b"]")
                break
            except ValueError:
                if cut >= end:
                    break
                cut, nxt = _cut_after(text, cut + 1, end)
        room = max_records - kept.count
        if records is None:  # read this slice record by record: it names its bad ones
            recovered = recover(memoryview(text)[pos:cut], max_items=room, inner=True)
            assert recovered is not None  # inner: never None
            limit_hit = [b for b in recovered.bad if b.reason.startswith("past the")]
            kept.bad.extend(
                BadItem(kept.count + b.index, b.reason)
                for b in recovered.bad
                if not b.reason.startswith("past the")
            )
            kept.count += recovered.count
            records = recovered.records
            more = bool(limit_hit) or cut < end
        else:
            more = len(records) > room or cut < end
            records = records[:room]
            kept.count += len(records)
        keep(records, kept)
        if kept.count >= max_records:
            if more:
                _past_limit(kept, max_records)
            break
        pos = nxt
    return kept
