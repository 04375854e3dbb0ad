"""A log file that needs no parse (prefilter.py: no denial can be in it), and what the
scan's summary still says of it: the times of its first and last record.

Its events are not counted: counting them costs another pass over the bytes (a third
of the inflate, measured), and the summary says how many files were left unparsed
(``scan --parse-all`` parses and counts every file). Only whole CloudTrail log files
(``{"Records": [...]}``) of ASCII text whose first and last records carry a CloudTrail
``eventTime`` are skimmed: other shapes, truncated files, files with other bytes (one
that is not UTF-8 among them) and files whose ends hold no readable time (a bomb of
``{}`` records, a record without one) are parsed, and their bad records named. A record
broken in another way inside a skimmed file (a syntax error, nesting too deep, more
records than trailfiles.max_records, which guards the parse's memory) is not noticed:
it cannot hold a denial, and only a parse would see it. Counting the ``{`` of every
file to find the last of those cost half the inflate (docs/performance.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deniedwatch.timespec import EVENT_TIME

_START = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_END = re.compile(rb"\][ \t\r\n]*\}[ \t\r\n]*\Z")
_TIME_KEY = b'"eventTime"'
_TIME = re.compile(rb'"eventTime"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')


@dataclass(frozen=True, slots=True)
class Skimmed:
    first_time: str  # the earlier of the first and the last record's eventTime
    last_time: str


def skim(text: bytes) -> Skimmed | None:
    """What a CloudTrail log file's bytes say cheaply, or None when it must be parsed (it
    does not start with ``{"Records": [`` and end with ``]}``, is not all ASCII, or
    its first or last 64 KB hold no CloudTrail eventTime)."""
    if not _START.match(text) or not _END.search(text, max(0, len(text) - 64)):
        return None  # other shapes, and truncated files, are parsed (and named)
    if not text.isascii():  # parsed, so a byte that is not UTF-8 is named (8% of the inflate)
        return None
    first = _time_at(text, text.find(_TIME_KEY, 0, 65536))
    last = _time_at(text, text.rfind(_TIME_KEY, max(0, len(text) - 65536)))
    if first is None or last is None:
        return None
    return Skimmed(min(first, last), max(first, last))


def _time_at(text: bytes, pos: int) -> str | None:
    m = _TIME.match(text, pos) if pos >= 0 else None
    time = m.group(1).decode() if m else ""  # the text is ASCII (checked first)
    return time if EVENT_TIME.fullmatch(time) else None
