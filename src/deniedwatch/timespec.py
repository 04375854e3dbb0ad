"""``--since`` / ``--until`` values: an ISO date or time, or a span back from now (``7d``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DATE_ONLY = re.compile(r"^\s*\d{4}-?\d{2}-?\d{2}\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """'7d' -> now minus 7 days; '2026-11-01' or '2026-11-01T12:00Z' -> that instant (UTC).

    With ``end_of_day`` (for ``--until``) a bare date means the last instant of that day,
    so ``--until 2026-11-20`` includes the 20th, as people read it.
    """
    if m := _SPAN.match(text):
        try:  # 999999999d is past timedelta's range, 99999d past datetime's year 1
            return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        except OverflowError:
            raise ValueError(f"{text.strip()!r} reaches back before the year 1") from None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-11-01, 2026-11-01T12:00:00Z) "
            "or a span (30m, 12h, 7d, 2w)"
        ) from None
    if end_of_day and _DATE_ONLY.match(text):
        when += timedelta(days=1, microseconds=-1)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# CloudTrail's eventTime: "2026-11-20T09:01:10Z" (UTC, to the second), and the same with
# fractional seconds (".123Z"), which some exports and CloudTrail Lake write. Nothing else
# is a time: a record's eventTime is caller-reachable text (a forged or redacted record,
# a tool's "2025-02-14 19:43:09.000000000 UTC"), so it is checked before it is shown or
# compared. Ranges are checked by the pattern (month 01-12, day 01-31, 00:00:00-23:59:60);
# EVENT_TIME is a compiled pattern so a scan can check every record in C (map).
EVENT_TIME = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?Z"
)


def event_time(value: object) -> str | None:
    """``value`` when it is a CloudTrail eventTime (see EVENT_TIME), else None."""
    if type(value) is str and EVENT_TIME.fullmatch(value):
        return value
    return None


def is_event_time(value: object) -> bool:
    return event_time(value) is not None
