"""CloudTrail log files: local files and folders, and s3://bucket/prefix.

Files are ``{"Records": [...]}``, gzip-compressed (``.json.gz``) or plain
(``.json``). Digest and Insights files are recognised by path and skipped on
purpose. Decoding uses ISA-L and a msgspec decoder that reads only the fields a
Finding needs when they are installed, and the stdlib otherwise. Every read and
inflate is capped (``bounded.MAX_FILE_BYTES``); a file the fast decoder refuses is
read record by record, so one bad record costs only itself.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import Any

from deniedwatch.sources import bounded
from deniedwatch.sources.bounded import MAX_FILE_BYTES
from deniedwatch.sources.recover import BadItem, read_item, recover

try:
    import msgspec
except ImportError:  # pragma: no cover
    msgspec = None  # type: ignore[assignment]


class BadFile(ValueError):
    """A file that is corrupt or not a CloudTrail log: warn with its path, go on."""


@dataclass(frozen=True, slots=True)
class TrailFile:
    location: str  # a local path or s3://bucket/key
    size: int | None = None
    explicit: bool = False  # named itself, not found by walking a folder or prefix

    @property
    def remote(self) -> bool:
        """In S3 (the parent process reads it), else on local disk."""
        return is_s3(self.location)


# .../CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<ts>_<id>.json.gz
_DATED = re.compile(r"(?:^|/)(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/")
_SKIP_KINDS = (("CloudTrail-Digest", "digest"), ("CloudTrail-Insight", "insight"))


# Names read when a folder or prefix is walked: CloudTrail's own, and JSON Lines exports.
LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")


def skip_reason(location: str, explicit: bool = False) -> str | None:
    """Why a path is knowingly not read ('digest', 'insight', 'not a log file'), or None.

    A file named ``explicitly`` (on the command line, not found by walking a folder)
    is read whatever its name: the user said so, and an export saved as ``one.txt``
    must not be skipped in silence."""
    for marker, kind in _SKIP_KINDS:
        if marker in location:
            return kind
    if not explicit and not location.rsplit("/", 1)[-1].endswith(LOG_SUFFIXES):
        return "not a log file"
    return None


@dataclass(frozen=True, slots=True)
class PathInfo:
    account: str | None
    region: str | None
    day: date | None


def path_info(location: str) -> PathInfo:
    """Account, region and day from the standard CloudTrail key layout, where present."""
    m = _DATED.search(location)
    if not m:
        return PathInfo(None, None, None)
    try:
        day = date(int(m.group(3)), int(m.group(4)), int(m.group(5)))
    except ValueError:
        day = None
    return PathInfo(m.group(1), m.group(2), day)


_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PathFilter:
    """Prunes files by the account, region and day in their path; unknown parts pass."""

    since: date | None = None
    until: date | None = None
    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def wants(self, location: str) -> bool:
        return self.left_out_by(location) is None

    def left_out_by(self, location: str) -> str | None:
        """The filter that leaves this file unread ('--account', '--region',
        '--since/--until'), or None."""
        info = path_info(location)
        if self.accounts and info.account and info.account not in self.accounts:
            return "--account"
        if self.regions and info.region and info.region not in self.regions:
            return "--region"
        if info.day and self.since and info.day < self.since:
            return "--since/--until"
        # The day in a path is the delivery day, and a file holds events from before
        # its delivery (minutes, usually): keep one more day after `until`.
        if info.day and self.until and info.day > self.until + _ONE_DAY:
            return "--since/--until"
        return None


def is_s3(source: str) -> bool:
    return source.startswith("s3://")


def split_s3(url: str) -> tuple[str, str]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{url}: no bucket name")
    return bucket, prefix


def list_source(source: str, s3_client: Callable[[], Any]) -> Iterator[TrailFile]:
    """The files a source names: the one place that tells S3 from local disk."""
    return list_s3(s3_client(), source) if is_s3(source) else list_local(source)


def read(tf: TrailFile, s3_client: Callable[[], Any], limit: int = MAX_FILE_BYTES) -> bytes:
    if tf.remote:
        return read_s3(s3_client(), tf.location, limit, tf.size)
    return read_local(tf.location, limit)


def list_local(source: str) -> Iterator[TrailFile]:
    """A file, or every file below a folder (sorted, so output is stable)."""
    path = Path(source)
    if path.is_file():
        yield TrailFile(str(path), path.stat().st_size, explicit=True)
    elif path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            yield TrailFile(str(child), child.stat().st_size)
    else:
        raise FileNotFoundError(f"{source}: no such file or folder")


def list_s3(client: Any, source: str) -> Iterator[TrailFile]:
    """Every object under s3://bucket/prefix, by paginated listing."""
    bucket, prefix = split_s3(source)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            yield TrailFile(f"s3://{bucket}/{key}", obj.get("Size"), explicit=key == prefix)


def read_local(location: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; BadFile past ``limit`` (checked by size before reading)."""
    with open(location, "rb") as fh:
        return _capped(fh, limit, os.fstat(fh.fileno()).st_size)


def read_s3(
    client: Any, location: str, limit: int = MAX_FILE_BYTES, size: int | None = None
) -> bytes:
    """The object's bytes; BadFile past ``limit`` (the listed size is checked first)."""
    if size is not None and size > limit:
        return _capped(None, limit, size)  # raises before any download
    bucket, key = split_s3(location)
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return _capped(body, limit, None)
    finally:
        body.close()


def _capped(stream: Any, limit: int, size: int | None) -> bytes:
    try:
        return bounded.read_capped(stream, limit, size)
    except bounded.TooLarge as exc:
        raise BadFile(f"too large: {exc} (deniedwatch scan --max-file-mb)") from None


# ---- decoding -------------------------------------------------------------------

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

    _decoder = msgspec.json.Decoder(_LogFile)
    _record_decoder = msgspec.json.Decoder(_Record)
    _lookup_decoder = msgspec.json.Decoder(_LookupOutput)


def inflate(data: bytes, limit: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, gunzipped when gzip, never more than ``limit``; BadFile otherwise."""
    if data[:2] != bounded.GZIP_MAGIC:
        if len(data) > limit:
            raise BadFile(f"too large: over the {bounded.mib(limit)} limit")
        return data
    try:
        return bounded.gunzip(data, limit)
    except bounded.TooLarge as exc:
        raise BadFile(f"too large: {exc} (deniedwatch scan --max-file-mb)") from None
    except bounded.CorruptGzip as exc:
        raise BadFile(str(exc)) from None


# The shapes a file is read in; a scan says when it met one other than CLOUDTRAIL.
CLOUDTRAIL = "CloudTrail log file"
JSON_LINES = "JSON Lines"
LOOKUP_EVENTS = "aws cloudtrail lookup-events output"
# Keys every CloudTrail record has; a JSON Lines file's first record must have one.
_RECORD_KEYS = frozenset({"eventVersion", "eventTime", "eventSource", "eventName", "eventID"})


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

    def time_range(self) -> tuple[list[str], str | None, str | None]:
        """(the eventTimes that are text, the earliest, the latest)."""
        times = self.times
        try:  # all text (CloudTrail's own files): min and max run in C
            low, high = min(times, default=None), max(times, default=None)
            if not times or (type(low) is str and type(high) is str):
                return times, low, high  # text never compares with another JSON type
        except TypeError:
            pass
        times = [t for t in times if type(t) is str]
        return times, min(times, default=None), max(times, default=None)


def decode_records(data: bytes, limit: int = MAX_FILE_BYTES) -> list[Any]:
    """A log file's bytes -> its readable records; raises BadFile when the file is
    unreadable as a whole (bad records inside a readable file are left out)."""
    return _decode(data, limit).records


_EVENT_TIME = attrgetter("eventTime")
_ERROR_CODE = attrgetter("errorCode")


def decode_candidates(data: bytes, limit: int = MAX_FILE_BYTES) -> Decoded:
    """Like decode_records, but ``records`` holds only those a rule must look at.

    The records left out have no errorCode, so no rule can call them denied. With
    ~2% errors in real trails this spares the per-record Python work for 98% of them.
    """
    decoded = _decode(data, limit)
    records = decoded.records
    if decoded.format == CLOUDTRAIL and records and type(records[0]) is not dict:
        # decoded structs, all of them (other formats may mix in salvaged dicts). The
        # loops over every record run in C (map, compress): a Python comprehension here
        # cost ~10% of the scan. compress keeps truthy codes: an empty or non-string
        # errorCode is never a denial (rules.DenialRule.is_denial).
        decoded.times = list(map(_EVENT_TIME, records))
        decoded.records = list(compress(records, map(_ERROR_CODE, records)))
    else:
        decoded.times = [t for r in records if type(t := r.get("eventTime")) is str]
        decoded.records = [r for r in records if r.get("errorCode") is not None]
    return decoded


def _decode(data: bytes, limit: int) -> Decoded:
    if not data:
        raise BadFile("empty file")
    text = inflate(data, limit)
    if msgspec is not None:
        try:
            log = _decoder.decode(text)
        except msgspec.ValidationError:
            if (lookup := _lookup_events(text)) is not None:
                return lookup
            # other shapes: the generic parser reads them or gives a precise reason
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            return _json_lines(text) or _one_by_one(text, f"not JSON: {exc}")
        else:
            return Decoded(len(log.Records), log.Records)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _json_lines(text) or _one_by_one(text, f"not JSON: {exc}")
    if isinstance(body, dict) and "Records" not in body:
        if isinstance(body.get("Events"), list):
            return _lookup_items(body["Events"])
        if _RECORD_KEYS & body.keys():  # JSON Lines of one record
            return Decoded(1, [body], format=JSON_LINES)
    if not isinstance(body, dict) or "Records" not in body:
        raise BadFile('not a CloudTrail log file (no "Records", "Events" or one record a line)')
    items = body["Records"]
    if not isinstance(items, list):
        raise BadFile('"Records" is not a list')
    records = [r for r in items if isinstance(r, dict)]
    bad = [
        BadItem(i, f"not a JSON object ({type(r).__name__})")
        for i, r in enumerate(items)
        if not isinstance(r, dict)
    ]
    return Decoded(len(items), records, bad)


def _one_by_one(text: bytes, reason: str) -> Decoded:
    """The fast decoder refused the file: read it record by record, or name it bad."""
    recovered = recover(text)
    if recovered is None or not recovered.records:  # nothing readable: the file is bad
        raise BadFile(reason)
    return Decoded(recovered.count, recovered.records, recovered.bad)


def _one_record(text: bytes) -> tuple[Any, str | None]:
    """One record's JSON text -> (the record or None, why it is bad or None)."""
    if msgspec is not None:
        try:
            return _record_decoder.decode(text), None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass  # read_item says precisely why, and salvages what it can
    return read_item(text.decode("utf-8", "surrogateescape"))


def _json_lines(text: bytes) -> Decoded | None:
    """One record a line (what many tools export), or None when the first non-blank
    line is not a CloudTrail record on its own."""
    lines = text.split(b"\n")
    first = next((line for line in lines if line.strip()), b"")
    try:
        head = json.loads(first)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(head, dict) and _RECORD_KEYS & head.keys()):
        return None
    out = Decoded(0, [], format=JSON_LINES)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record, reason = _one_record(line)
        if record is not None:
            out.records.append(record)
        if reason:
            out.bad.append(BadItem(out.count, f"line {number}: {reason}"))
        out.count += 1
    return out


def _lookup_events(text: bytes) -> Decoded | None:
    """`aws cloudtrail lookup-events` output read fast, or None if it is not that."""
    try:
        body = _lookup_decoder.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return _lookup_items([{"CloudTrailEvent": e.CloudTrailEvent} for e in body.Events])


def _lookup_items(events: list[Any]) -> Decoded:
    """Events[].CloudTrailEvent: each a CloudTrail record as a JSON string."""
    out = Decoded(len(events), [], format=LOOKUP_EVENTS)
    for index, event in enumerate(events):
        raw = event.get("CloudTrailEvent") if isinstance(event, dict) else None
        if not isinstance(raw, str):
            out.bad.append(BadItem(index, "no CloudTrailEvent text"))
            continue
        record, reason = _one_record(raw.encode("utf-8", "surrogatepass"))
        if record is not None:
            out.records.append(record)
        if reason:
            out.bad.append(BadItem(index, reason))
    return out
