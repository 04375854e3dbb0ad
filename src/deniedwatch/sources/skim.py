"""A log file that needs no parse (prefilter.py: no denial can be in it), and what the
scan's summary still says of it: the times of its first and last record.

Its events are not counted: counting them costs another pass over the bytes (a third
of the inflate, measured), and the summary says how many files were left unparsed
(``scan --parse-all`` parses and counts every file). Only whole CloudTrail log files
(``{"Records": [...]}``) of ASCII text are skimmed: other shapes, truncated files and
files with other bytes (one that is not UTF-8 among them) are parsed, and their bad
records named. A record broken in another way inside a skimmed file (a syntax error,
nesting too deep) is not noticed: it cannot hold a denial, and only a parse would see it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_START = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_END = re.compile(rb"\][ \t\r\n]*\}[ \t\r\n]*\Z")
_TIME_KEY = b'"eventTime"'
_TIME = re.compile(rb'"eventTime"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')


@dataclass(frozen=True, slots=True)
class Skimmed:
    first_time: str | None  # the earlier of the first and the last record's eventTime
    last_time: str | None


def skim(text: bytes) -> Skimmed | None:
    """What a CloudTrail log file's bytes say cheaply, or None when it must be parsed (it
    does not start with ``{"Records": [`` and end with ``]}``, or is not all ASCII)."""
    if not _START.match(text) or not _END.search(text, max(0, len(text) - 64)):
        return None  # other shapes, and truncated files, are parsed (and named)
    if not text.isascii():  # parsed, so a byte that is not UTF-8 is named (8% of the inflate)
        return None
    first = _time_at(text, text.find(_TIME_KEY, 0, 65536))
    last = _time_at(text, text.rfind(_TIME_KEY, max(0, len(text) - 65536)))
    times = [t for t in (first, last) if t]
    return Skimmed(min(times, default=None), max(times, default=None))


def _time_at(text: bytes, pos: int) -> str | None:
    m = _TIME.match(text, pos) if pos >= 0 else None
    if m is None or not m.group(1).isascii():
        return None
    return m.group(1).decode()
