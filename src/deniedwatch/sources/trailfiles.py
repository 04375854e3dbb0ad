"""CloudTrail log files: local files and folders, and s3://bucket/prefix.

Files are ``{"Records": [...]}``, gzip-compressed (``.json.gz``) or plain
(``.json``). Digest and Insights files are recognised by path and skipped on
purpose. Decoding uses ISA-L and a msgspec decoder that reads only the fields a
Finding needs when they are installed, and the stdlib otherwise.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

try:  # optional accelerators: the scan is several times faster with them
    from isal import igzip as _igzip
    from isal import igzip_lib as _igzip_lib

    def _gunzip(data: bytes) -> bytes:
        """One-member gzip (what CloudTrail writes) in one ISA-L call into one buffer of
        the size the gzip trailer announces: ~3.5x faster than ``igzip.decompress``,
        which goes through a stream reader and grows its output block by block (page
        faults). Anything else (more members, a truncated, corrupt or lying file) goes
        the general way, which also gives the usual error."""
        announced = int.from_bytes(data[-4:], "little")  # ISIZE (RFC 1952), mod 2**32
        limit = min(announced, len(data) * 1032) + 1  # 1032: deflate's largest ratio
        inflater = _igzip_lib.IgzipDecompressor(flag=_igzip_lib.DECOMP_GZIP)
        try:
            text = inflater.decompress(data, limit)
        except _igzip_lib.IsalError:
            return _igzip.decompress(data)
        if not inflater.eof or inflater.unused_data.strip(b"\0"):
            return _igzip.decompress(data)
        return text

except ImportError:  # pragma: no cover - exercised where isal is absent
    _gunzip = gzip.decompress

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

    @property
    def remote(self) -> bool:
        """In S3 (the parent process reads it), else on local disk."""
        return is_s3(self.location)


# .../CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<ts>_<id>.json.gz
_DATED = re.compile(r"(?:^|/)(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/")
_SKIP_KINDS = (("CloudTrail-Digest", "digest"), ("CloudTrail-Insight", "insight"))


def skip_reason(location: str) -> str | None:
    """Why a path is knowingly not read ('digest', 'insight', 'not a log file'), or None."""
    for marker, kind in _SKIP_KINDS:
        if marker in location:
            return kind
    name = location.rsplit("/", 1)[-1]
    if not (name.endswith(".json.gz") or name.endswith(".json")):
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
        info = path_info(location)
        if self.accounts and info.account and info.account not in self.accounts:
            return False
        if self.regions and info.region and info.region not in self.regions:
            return False
        if info.day and self.since and info.day < self.since:
            return False
        # The day in a path is the delivery day, and a file holds events from before
        # its delivery (minutes, usually): keep one more day after `until`.
        return not (info.day and self.until and info.day > self.until + _ONE_DAY)


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


def read(tf: TrailFile, s3_client: Callable[[], Any]) -> bytes:
    return read_s3(s3_client(), tf.location) if tf.remote else read_local(tf.location)


def list_local(source: str) -> Iterator[TrailFile]:
    """A file, or every file below a folder (sorted, so output is stable)."""
    path = Path(source)
    if path.is_file():
        yield TrailFile(str(path), path.stat().st_size)
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
            yield TrailFile(f"s3://{bucket}/{obj['Key']}", obj.get("Size"))


def read_local(location: str) -> bytes:
    return Path(location).read_bytes()


def read_s3(client: Any, location: str) -> bytes:
    bucket, key = split_s3(location)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


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

        def get(self, key: str, default: Any = None) -> Any:
            """Mapping-style access, so the rules read a decoded struct like a dict."""
            value = getattr(self, key, None)
            if type(value) is msgspec.Raw:
                value = msgspec.json.decode(value)
            return default if value is None else value

    class _LogFile(msgspec.Struct, gc=False):
        Records: list[_Record]

    _decoder = msgspec.json.Decoder(_LogFile)


def _decompress(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return _gunzip(data)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise BadFile(f"corrupt gzip: {exc}") from None


def decode_records(data: bytes) -> list[Any]:
    """A log file's bytes -> its records; raises BadFile when the file is unreadable.

    Each record has a dict-like ``get`` (a dict, or a decoded struct); items that
    are not JSON objects come back as they are, for the caller to count as bad.
    """
    return _decode(data)[0]


def decode_candidates(data: bytes) -> tuple[int, list[Any]]:
    """(number of records, the records a rule must look at); raises BadFile like
    decode_records.

    The records left out have no errorCode, so no rule can call them denied; the
    ones kept are those with an errorCode and any item that is not a JSON object
    (for the caller to count as bad). With ~2% errors in real trails this spares
    the per-record Python work for 98% of them.
    """
    records, typed = _decode(data)
    if typed:
        return len(records), [r for r in records if r.errorCode is not None]
    return len(records), [
        r for r in records if not isinstance(r, dict) or r.get("errorCode") is not None
    ]


def _decode(data: bytes) -> tuple[list[Any], bool]:
    """(records, whether they are decoded structs rather than plain JSON values)."""
    if not data:
        raise BadFile("empty file")
    text = _decompress(data)
    if msgspec is not None:
        try:
            log = _decoder.decode(text)
        except msgspec.ValidationError:
            pass  # odd shape: fall back to the generic parser for a precise reason
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise BadFile(f"not JSON: {exc}") from None
        else:
            return log.Records, True
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadFile(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or "Records" not in body:
        raise BadFile('not a CloudTrail log file (no "Records")')
    records = body["Records"]
    if not isinstance(records, list):
        raise BadFile('"Records" is not a list')
    return records, False
