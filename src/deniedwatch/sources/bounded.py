"""Bounded input: gzip inflated under a hard output limit, files read under a size cap.

A gzip bomb (a few MB that inflate to gigabytes) or a huge file must end as a clear
error in bounded memory, never as an out-of-memory kill. The limits live here, once:

- ``MAX_FILE_BYTES`` (64 MiB): the most a CloudTrail log file may hold, on disk and
  inflated. CloudTrail writes a file per account and region every few minutes, so real
  files are at most a few tens of MB uncompressed; 64 MiB leaves room for a very busy
  account while a bomb stops well inside a 300 MB process (measured in
  ``make reliability``).
  ``deniedwatch scan --max-file-mb`` raises it for an unusual export.
- ``MAX_PAYLOAD_BYTES`` (8 MiB): the most a CloudWatch Logs subscription payload may
  inflate to. A PutLogEvents batch is at most 1,048,576 bytes of messages
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html)
  and JSON-escaping a record grows it by well under 2x; 8 MiB is 8x that, and keeps
  the decoded batch inside the function's 256 MB.

Stdlib only (the Lambda imports it); ISA-L is used when installed (the scan).
"""

from __future__ import annotations

import zlib
from typing import Any

MiB = 2**20
MAX_FILE_BYTES = 64 * MiB
MAX_PAYLOAD_BYTES = 8 * MiB

GZIP_MAGIC = b"\x1f\x8b"

try:  # optional accelerator (the scan): ~3.5x faster than zlib for one-member files
    from isal import igzip_lib as _igzip_lib
except ImportError:  # pragma: no cover - exercised where isal is absent (the Lambda)
    _igzip_lib = None


class TooLarge(ValueError):
    """Input past its limit: a bomb, or not what AWS writes."""


class CorruptGzip(ValueError):
    """Not a readable gzip stream (truncated, bad checksum, trailing garbage)."""


def mib(n: int) -> str:
    """A byte count as people read limits: '64 MiB', '1.5 MiB'."""
    return f"{n / MiB:.4g} MiB"


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data`` inflated, at most ``limit`` bytes in all.

    Raises TooLarge as soon as the output passes ``limit`` (memory never holds more
    than ``limit`` + one member's header of output), CorruptGzip when unreadable.
    Zero padding after the last member (some writers pad blocks) is allowed.
    """
    if _igzip_lib is not None:
        text = _isal_one_member(data, limit)
        if text is not None:
            return text
    return _inflate_members(data, limit)


def _isal_one_member(data: bytes, limit: int) -> bytes | None:
    """One-member gzip (what CloudTrail writes) in one ISA-L call into one buffer of the
    size the gzip trailer announces (~3.5x faster than a stream reader growing its output
    block by block). None when the file is anything else (more members, corrupt, a
    trailer that lies): the general path then reads it or names the problem."""
    assert _igzip_lib is not None
    announced = int.from_bytes(data[-4:], "little")  # ISIZE (RFC 1952), mod 2**32
    size = min(announced, len(data) * 1032, limit) + 1  # 1032: deflate's largest ratio
    inflater = _igzip_lib.IgzipDecompressor(flag=_igzip_lib.DECOMP_GZIP)
    try:
        text = inflater.decompress(data, size)
    except _igzip_lib.IsalError:
        return None
    if len(text) > limit:
        raise TooLarge(f"inflates past {mib(limit)}")
    if not inflater.eof or inflater.unused_data.strip(b"\0"):
        return None
    return text


def _inflate_members(data: bytes, limit: int) -> bytes:
    """The general path: zlib, member by member, each call capped at what is left."""
    parts: list[bytes] = []
    used = 0
    rest = data
    while True:
        inflater: Any = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # gzip: CRC + size checked
        try:
            part = inflater.decompress(rest, limit - used + 1)
        except zlib.error as exc:
            raise CorruptGzip(f"corrupt gzip: {exc}") from None
        used += len(part)
        if used > limit:
            raise TooLarge(f"inflates past {mib(limit)}")
        parts.append(part)
        if not inflater.eof:
            raise CorruptGzip("corrupt gzip: truncated (the stream ends early)")
        rest = inflater.unused_data.lstrip(b"\0")
        if not rest:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if rest[:2] != GZIP_MAGIC:
            raise CorruptGzip("corrupt gzip: data after the end of the gzip stream")


def read_capped(stream: Any, limit: int, size: int | None = None) -> bytes:
    """At most ``limit`` bytes from a binary stream (a file, an S3 body); TooLarge past it.

    ``size``, when known (stat, an S3 listing), is checked first so nothing is read;
    the read itself is capped too, for a file that grows or lies about its size.
    """
    if size is not None and size > limit:
        raise TooLarge(f"{size:,} bytes, over the {mib(limit)} limit")
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"over the {mib(limit)} limit")
    return data
