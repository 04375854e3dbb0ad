"""How a log file's text is read: the fields decoded, the shapes a file comes in
(JSON Lines, ``lookup-events`` output, one record), the result (``Decoded``) and the
check of every record's eventTime. trailfiles.py decides which shape a file is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from deniedwatch.sources.recover import BadItem, read_item
from deniedwatch.timespec import EVENT_TIME

try:
    import msgspec
except ImportError:  # pragma: no cover
    msgspec = None  # type: ignore[assignment]


if msgspec is not None:
    # gc=False: decoded records hold only strings and JSON values, never a cycle, and
    # 2,000 tracked objects a file made the cyclic GC run constantly (measured: ~40% of
    # the decode time). The two nested objects stay raw JSON (a slice of the text)
    # until a denial asks for them: building their dicts for every record was the
    # other half (profiles: bench/bench_scan.py --profile).
    class _Record(msgspec.Struct, gc=False):
        """Only the fields a Finding reads; msgspec skips the rest without building it."""

        eventVersion: Any = None
        eventID: Any = None
        eventTime: Any = None
        eventSource: Any = None
        eventName: Any = None
        awsRegion: Any = None
        sourceIPAddress: Any = None
        userAgent: Any = None
        errorCode: Any = None
        errorMessage: Any = None
        userIdentity: msgspec.Raw = None  # type: ignore[assignment]
        recipientAccountId: Any = None
        resources: msgspec.Raw = None  # type: ignore[assignment]
        # explain.py / finding.py: the Event-history note, the VPC endpoint, the resource
        # named in the request (raw until a denial without a resource asks for it)
        eventCategory: Any = None
        eventType: Any = None
        vpcEndpointId: Any = None
        requestParameters: msgspec.Raw = None  # type: ignore[assignment]

        def get(self, key: str, default: Any = None) -> Any:
            """Mapping-style access, so the rules read a decoded struct like a dict."""
            value = getattr(self, key, None)
            if type(value) is msgspec.Raw:
                value = msgspec.json.decode(value)
            return default if value is None else value

    class _LogFile(msgspec.Struct, gc=False):
        Records: list[_Record]

    class _LookupEvent(msgspec.Struct, gc=False):
        CloudTrailEvent: Any = None  # the record, as a JSON string

    class _LookupOutput(msgspec.Struct, gc=False):
        """`aws cloudtrail lookup-events` output (LookupEvents' response shape):
        https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
        """

        Events: list[_LookupEvent]

    log_decoder = msgspec.json.Decoder(_LogFile)
    array_decoder = msgspec.json.Decoder(list[_Record])
    record_decoder = msgspec.json.Decoder(_Record)
    lookup_decoder = msgspec.json.Decoder(_LookupOutput)
else:  # pragma: no cover - the stdlib path reads every shape (json.loads)
    log_decoder = array_decoder = record_decoder = lookup_decoder = None


# The shapes a file is read in; a scan says when it met one other than CLOUDTRAIL.
CLOUDTRAIL = "CloudTrail log file"
JSON_ARRAY = "JSON array of records"
JSON_LINES = "JSON Lines"
LOOKUP_EVENTS = "aws cloudtrail lookup-events output"
# Keys every CloudTrail record has; a JSON Lines file's first record must have one.
RECORD_KEYS = frozenset({"eventVersion", "eventTime", "eventSource", "eventName", "eventID"})

BAD_TIME = "eventTime is not a CloudTrail time (YYYY-MM-DDTHH:MM:SS[.fff]Z): not used as one"


@dataclass(slots=True)
class Decoded:
    """A log file decoded: how many records it holds, the ones asked for, the bad ones.

    Each record has a dict-like ``get`` (a dict, or a decoded struct). ``bad`` names
    every item that could not be read whole (by index); an item read in part (a
    field that would not parse) is in ``records`` and in ``bad``. ``times``: the
    eventTime of every record (text; from a struct, possibly None or another type: see
    ``time_range``), for the range the data covers.
    """

    count: int
    records: list[Any]
    bad: list[BadItem] = field(default_factory=list)
    format: str = CLOUDTRAIL
    times: list[Any] = field(default_factory=list)

    filtered: bool = False  # records already holds only the candidates (slices)

    def time_range(self) -> tuple[list[str], str | None, str | None]:
        """(the eventTimes, the earliest, the latest): only CloudTrail times (``times`` is
        checked by ``check_times``), so a bad one is never shown as the scan's range."""
        times = self.times
        return times, min(times, default=None), max(times, default=None)


class TimesInto(Protocol):
    times: list[Any]
    bad: list[BadItem]


def check_times(times: list[Any], into: TimesInto, first: int) -> None:
    """``times`` (one per record, in order, the first at index ``first``) into
    ``into.times``, keeping only CloudTrail times; any other is a bad field of its
    record (the record is still read); a missing one is neither. The check runs in C
    (map) unless a time fails it.

    Index: exact for the fast decoder's records; where unreadable items were left out
    (records read one by one), the index counts only the readable ones."""
    try:
        good = all(map(EVENT_TIME.fullmatch, times))
    except TypeError:  # a time that is not text
        good = False
    if good:
        into.times.extend(times)
        return
    for index, t in enumerate(times, first):
        if type(t) is str and EVENT_TIME.fullmatch(t):
            into.times.append(t)
        elif t is not None:  # a missing eventTime is not a wrong one
            into.bad.append(BadItem(index, BAD_TIME))


def one_record(text: bytes) -> tuple[Any, str | None]:
    """One record's JSON text -> (the record or None, why it is bad or None)."""
    if msgspec is not None:
        try:
            return record_decoder.decode(text), None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass  # read_item says precisely why, and salvages what it can
    return read_item(text.decode("utf-8", "surrogateescape"))


def json_lines(text: bytes, most: int | None = None) -> Decoded | None:
    """One record a line (what many tools export), or None when the first non-blank
    line is not a CloudTrail record on its own. Lines are taken one at a time (a split
    would hold one object per line at once), at most ``most`` records."""
    out = Decoded(0, [], format=JSON_LINES)
    pos, number, size = 0, 0, len(text)
    while pos < size:
        nl = text.find(b"\n", pos)
        nl = size if nl < 0 else nl
        line, pos, number = text[pos:nl], nl + 1, number + 1
        if not line.strip():
            continue
        if out.count == 0:  # the first record decides whether this is JSON Lines at all
            try:
                head = json.loads(line)
            except (ValueError, RecursionError):
                return None
            if not (isinstance(head, dict) and RECORD_KEYS & head.keys()):
                return None
        if most is not None and out.count >= most:
            out.bad.insert(0, BadItem(out.count, f"line {number}: past the {most:,}-record limit"))
            break
        record, reason = one_record(line)
        if record is not None:
            out.records.append(record)
        if reason:
            out.bad.append(BadItem(out.count, f"line {number}: {reason}"))
        out.count += 1
    return out if out.count else None


def lookup_events(text: bytes) -> Decoded | None:
    """`aws cloudtrail lookup-events` output read fast, or None if it is not that."""
    try:
        body = lookup_decoder.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return lookup_items([{"CloudTrailEvent": e.CloudTrailEvent} for e in body.Events])


def lookup_items(events: list[Any]) -> Decoded:
    """Events[].CloudTrailEvent: each a CloudTrail record as a JSON string."""
    out = Decoded(len(events), [], format=LOOKUP_EVENTS)
    for index, event in enumerate(events):
        raw = event.get("CloudTrailEvent") if isinstance(event, dict) else None
        if not isinstance(raw, str):
            out.bad.append(BadItem(index, "no CloudTrailEvent text"))
            continue
        record, reason = one_record(raw.encode("utf-8", "surrogatepass"))
        if record is not None:
            out.records.append(record)
        if reason:
            out.bad.append(BadItem(index, reason))
    return out
