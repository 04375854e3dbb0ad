"""CloudTrail log files: local files and folders, and s3://bucket/prefix.

Files are ``{"Records": [...]}``, gzip-compressed (``.json.gz``) or plain (``.json``);
a bare ``[...]`` of records (how attack-simulation logs and many exports are published),
JSON Lines and ``lookup-events`` output are read too. Digest and Insights files are
recognised by path and skipped on purpose. Decoding uses ISA-L and a msgspec decoder
that reads only the fields a Finding needs when they are installed, and the stdlib
otherwise. Every read and inflate is capped (``bounded.MAX_FILE_BYTES``); a file the
fast decoder refuses is read record by record, so one bad record costs only itself. A
file larger than ``WHOLE_BYTES`` is decoded a slice at a time (``slices.py``) and holds
at most ``max_records(limit)`` records, so memory stays bounded whatever the records are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import Any

from deniedwatch.sources import bounded, gate, slices
from deniedwatch.sources.bounded import MAX_FILE_BYTES
from deniedwatch.sources.decoded import (
    BAD_TIME,
    CLOUDTRAIL,
    JSON_ARRAY,
    JSON_LINES,
    LOOKUP_EVENTS,
    RECORD_KEYS,
    Decoded,
    array_decoder,
    check_times,
    json_lines,
    log_decoder,
    lookup_events,
    lookup_items,
)
from deniedwatch.sources.recover import BadItem, recover

__all__ = ["BAD_TIME", "CLOUDTRAIL", "JSON_ARRAY", "JSON_LINES", "LOOKUP_EVENTS", "Decoded"]

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


# Up to this size a file is decoded whole (the fastest way); past it, a slice at a time.
# At most 1 MiB of text is ~350,000 values, ~60 MB decoded at worst.
WHOLE_BYTES = bounded.MiB
# The fewest bytes a CloudTrail record takes: real records are ~1-3 KB, so a file at the
# size cap holds well under this many (a 63 MiB file of real denials: ~80,000 records).
_MIN_RECORD_BYTES = 512


def max_records(limit: int = MAX_FILE_BYTES) -> int:
    """The most records a file of at most ``limit`` bytes may hold (131,072 at 64 MiB):
    what keeps a bomb of tiny records (``{"Records":[{},{},…]}``) in bounded memory."""
    return max(1, limit // _MIN_RECORD_BYTES)


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
    if not decoded.filtered:
        records, decoded.records = decoded.records, []
        structs = decoded.format in (CLOUDTRAIL, JSON_ARRAY) and (
            bool(records) and type(records[0]) is not dict
        )  # the fast decoder's output: all structs (other formats may mix in dicts)
        _keep_candidates(records, decoded, structs)
    return decoded


def _keep_candidates(
    records: list[Any], into: Decoded | slices.Kept, structs: bool, first: int = 0
) -> None:
    """The records a rule must look at, and every record's checked eventTime, into
    ``into``. ``structs``: every record is a decoded struct (the fast decoder's)."""
    if structs:
        # The loops over every record run in C (map, compress): a Python comprehension
        # here cost ~10% of the scan. compress keeps truthy codes: an empty or non-string
        # errorCode is never a denial (rules.DenialRule.is_denial).
        times = list(map(_EVENT_TIME, records))
        into.records.extend(compress(records, map(_ERROR_CODE, records)))
    else:
        times = [r.get("eventTime") for r in records]
        into.records.extend(r for r in records if r.get("errorCode") is not None)
    check_times(times, into, first)


def _decode(data: bytes, limit: int) -> Decoded:
    if not data:
        raise BadFile("empty file")
    with gate.large_file_turn() as turn:
        gz = data[:2] == bounded.GZIP_MAGIC
        turn(int.from_bytes(data[-4:], "little") if gz else len(data))  # gzip's ISIZE
        text = inflate(data, limit)
        turn(len(text))
        return _decode_text(text, limit)


def _decode_text(text: bytes, limit: int) -> Decoded:
    most = max_records(limit)
    if len(text) > WHOLE_BYTES:
        return _decode_large(text, most)
    if msgspec is not None:
        try:
            log = log_decoder.decode(text)
        except msgspec.ValidationError:
            if (lookup := lookup_events(text)) is not None:
                return lookup
            try:  # a bare array of records
                records = array_decoder.decode(text)
                return Decoded(len(records), records, format=JSON_ARRAY)
            except (msgspec.DecodeError, RecursionError):
                pass  # other shapes: the generic parser reads them or gives a precise reason
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            return json_lines(text, most) or _one_by_one(text, f"not JSON: {exc}", most)
        else:
            return Decoded(len(log.Records), log.Records)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return json_lines(text, most) or _one_by_one(text, f"not JSON: {exc}", most)
    if isinstance(body, dict) and "Records" not in body:
        if isinstance(body.get("Events"), list):
            return lookup_items(body["Events"])
        if RECORD_KEYS & body.keys():  # JSON Lines of one record
            return Decoded(1, [body], format=JSON_LINES)
    if isinstance(body, list):
        items, shape = body, JSON_ARRAY
    elif isinstance(body, dict) and "Records" in body:
        items, shape = body["Records"], CLOUDTRAIL
        if not isinstance(items, list):
            raise BadFile('"Records" is not a list')
    else:
        raise BadFile(NOT_A_LOG)
    records = [r for r in items if isinstance(r, dict)]
    if items and not records and shape == JSON_ARRAY:
        raise BadFile(f"{NOT_A_LOG}: a JSON array without records")
    bad = [
        BadItem(i, f"not a JSON object ({type(r).__name__})")
        for i, r in enumerate(items)
        if not isinstance(r, dict)
    ]
    return Decoded(len(items), records, bad, format=shape)


NOT_A_LOG = (
    'not a CloudTrail log file (no "Records", "Events", array of records or one record a line)'
)


def _decode_slice(text: bytes) -> list[Any]:
    try:
        return array_decoder.decode(text)
    except RecursionError:
        raise ValueError("nests too deeply") from None


def _decode_large(text: bytes, most: int) -> Decoded:
    """A file past WHOLE_BYTES: a list of records a slice at a time (only the candidates
    and the times are kept), else the other shapes, each under the record limit."""
    bounds = slices.list_bounds(text)
    if bounds is not None and msgspec is not None:
        start, end, bare = bounds

        def keep(records: list[Any], kept: slices.Kept) -> None:
            structs = bool(records) and type(records[0]) is not dict  # a slice is one kind
            _keep_candidates(records, kept, structs, kept.count - len(records))

        kept = slices.read_slices(text, start, end, _decode_slice, keep, most)
        if kept.count and not kept.records and not kept.times and len(kept.bad) >= kept.count:
            raise BadFile(f"{NOT_A_LOG}: no item is a record")
        return Decoded(
            kept.count,
            kept.records,
            kept.bad,
            format=JSON_ARRAY if bare else CLOUDTRAIL,
            times=kept.times,
            filtered=True,
        )
    few_objects = text.count(b"{") <= most * 8  # lookup output decoded whole: bounded
    if msgspec is not None and few_objects and (lookup := lookup_events(text)) is not None:
        return lookup
    return json_lines(text, most) or _one_by_one(text, NOT_A_LOG, most)


def _one_by_one(text: bytes, reason: str, most: int | None = None) -> Decoded:
    """The fast decoder refused the file: read it record by record, or name it bad."""
    recovered = recover(text, max_items=most)
    if recovered is None or not recovered.records:  # nothing readable: the file is bad
        raise BadFile(reason)
    shape = JSON_ARRAY if recovered.bare else CLOUDTRAIL
    return Decoded(recovered.count, recovered.records, recovered.bad, format=shape)
