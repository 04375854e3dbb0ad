"""Hostile CloudTrail files for the prefilter's equivalence test (tests/test_prefilter.py).

Everything after the caller's identity is the caller's: this writes log files the way
someone who wants a denial to go unseen would shape them, in every form a JSON parser
reads as the same record. Each file comes from one seed (``hostile_file(seed)``), so a
failure names the seed that reproduces it.

- JSON written by hand: random whitespace around ``:`` and ``,``; keys and string
  values with random ``\\u`` escapes (either hex case), the ``errorCode`` key among them;
- denial codes of every family, extra and ignored codes of the settings, other errors,
  non-string codes (null, numbers, objects), duplicate ``errorCode`` keys;
- a planted ``"errorCode":"AccessDenied"`` inside string values, nested objects with an
  ``errorCode`` key, the text ``errorCode`` in messages;
- the other file shapes the scan reads: ``lookup-events`` output (each record a JSON
  string: escapes one level down), JSON Lines, broken records read one by one,
  truncated files, invalid UTF-8, UTF-16, gzip or plain.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from deniedwatch.rules import DENIAL_EXACT, DENIAL_PREFIXES, DENIAL_SUFFIXES

# codes a settings file may add or ignore (rules.ERROR_CODE_SHAPE); some overlap families
EXTRA_POOL = ("InvalidClientTokenId", "Blocked.By-Policy_1", "AccessDeniedException", "Throttled")
IGNORED_POOL = ("AccessDenied", "Client.UnauthorizedOperation", "ForbiddenException", "Foo")
OTHER_CODES = ("ThrottlingException", "NoSuchKey", "ValidationException", "InvalidRequest")


@dataclass(frozen=True)
class HostileFile:
    data: bytes
    extra_codes: frozenset[str]
    ignored_codes: frozenset[str]
    shape: str


def _code(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.35:
        kind = rng.randrange(3)
        if kind == 0:
            return rng.choice(DENIAL_PREFIXES) + rng.choice(("", "Exception", ".x", "é"))
        if kind == 1:
            return rng.choice(("", "Client.", "s3:", "Ø")) + rng.choice(DENIAL_SUFFIXES)
        return rng.choice(DENIAL_EXACT)
    if roll < 0.5:
        return rng.choice(EXTRA_POOL + IGNORED_POOL)
    if roll < 0.8:
        return rng.choice(OTHER_CODES)
    return rng.choice((None, 0, 7.5, "", {"code": "AccessDenied"}, ["AccessDenied"], True))


def _record(rng: random.Random, n: int) -> list[tuple[str, Any]]:
    """One record as (key, value) pairs: order kept, duplicates possible."""
    user = rng.choice(("alice", "mallory", "ci-bot"))
    pairs: list[tuple[str, Any]] = [
        ("eventVersion", "1.10"),
        (
            "userIdentity",
            {
                "type": rng.choice(("IAMUser", "AssumedRole", "AWSService")),
                "arn": f"arn:aws:iam::111122223333:user/{user}",
                "accountId": "111122223333",
                "userName": user,
            },
        ),
        ("eventTime", f"2026-10-01T00:{n % 60:02d}:{rng.randrange(60):02d}Z"),
        ("eventSource", rng.choice(("s3.amazonaws.com", "ec2.amazonaws.com"))),
        ("eventName", rng.choice(("GetObject", "HeadBucket", "RunInstances"))),
        ("awsRegion", "eu-west-1"),
        ("sourceIPAddress", "203.0.113.9"),
        ("userAgent", rng.choice(("aws-cli/2", 'errorCode":"AccessDenied', "x\\u0041"))),
        ("eventID", f"{rng.getrandbits(64):016x}-{n}"),
        ("recipientAccountId", "111122223333"),
    ]
    if rng.random() < 0.75:
        pairs.append(("errorCode", _code(rng)))
        pairs.append(("errorMessage", rng.choice(("denied", "errorCode AccessDenied", ""))))
    if rng.random() < 0.15:  # a second errorCode key: parsers keep one of the two
        pairs.append(("errorCode", _code(rng)))
    params: dict[str, Any] = {"bucketName": "b"}
    roll = rng.random()
    if roll < 0.2:  # a nested object with an errorCode key
        params["tags"] = {"errorCode": _code(rng), "eventVersion": "1.10"}
    elif roll < 0.4:  # planted inside a string value
        params["note"] = '{"errorCode":"AccessDenied","eventTime":"1999-01-01T00:00:00Z"}'
    elif roll < 0.5:
        params["list"] = [{"errorCode": "UnauthorizedOperation"}, "errorCode", None]
    pairs.append(("requestParameters", params))
    rng.shuffle(pairs) if rng.random() < 0.1 else None
    return pairs


def _ws(rng: random.Random) -> str:
    if not _SPACED[0] or rng.random() < 0.7:
        return ""
    return "".join(rng.choice(" \t\n\r") for _ in range(rng.randrange(1, 4)))


def _string(rng: random.Random, s: str, escape_rate: float) -> str:
    """A JSON string literal of ``s`` with random escapes (always for what must be)."""
    if escape_rate == 0 or not s:  # the common case, written in C
        return json.dumps(s, ensure_ascii=rng.random() < 0.2)
    count = min(len(s), int(len(s) * escape_rate + rng.random()))
    out, last = ['"'], 0
    for i in sorted(rng.sample(range(len(s)), count)):
        out.append(_plain(s[last:i]))
        out.append(_escape(rng, s[i]))
        last = i + 1
    out.append(_plain(s[last:]))
    out.append('"')
    return "".join(out)


def _plain(segment: str) -> str:
    return encode_basestring(segment)[1:-1]  # what must be escaped, the C way


def _escape(rng: random.Random, ch: str) -> str:
    code = ord(ch)
    if ch in '"\\' and rng.random() < 0.5:
        return "\\" + ch
    if ch == "/" and rng.random() < 0.5:
        return "\\/"
    if code > 0xFFFF:
        code -= 0x10000
        return _u(rng, 0xD800 + (code >> 10)) + _u(rng, 0xDC00 + (code & 0x3FF))
    return _u(rng, code)


def _u(rng: random.Random, code: int) -> str:
    text = f"\\u{code:04x}"
    return text.upper().replace("\\U", "\\u") if rng.random() < 0.5 else text


def dumps(rng: random.Random, value: Any, escape_rate: float) -> str:
    """JSON text of ``value`` (a record is a list of pairs) written by hand."""
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        items = [
            _ws(rng)
            + _string(rng, k, escape_rate)
            + _ws(rng)
            + ":"
            + _ws(rng)
            + dumps(rng, v, escape_rate)
            + _ws(rng)
            for k, v in value
        ]
        return "{" + ",".join(items) + "}"
    if isinstance(value, dict):
        return dumps(rng, list(value.items()), escape_rate) if value else "{}"
    if isinstance(value, list):
        return "[" + ",".join(_ws(rng) + dumps(rng, v, escape_rate) for v in value) + "]"
    if isinstance(value, str):
        return _string(rng, value, escape_rate)
    return json.dumps(value)


_SPACED = [False]  # whether this file's JSON has whitespace between tokens


def hostile_file(seed: int) -> HostileFile:
    """One small hostile log file and the settings' codes it is read with."""
    rng = random.Random(seed)
    _SPACED[0] = rng.random() < 0.4
    escape_rate = rng.choice((0.0, 0.0, 0.02, 0.2))
    records = [_record(rng, i) for i in range(rng.randrange(0, 4))]
    shape = rng.choices(("records", "lookup", "lines", "broken"), (10, 2, 2, 2))[0]
    if shape == "lookup":  # each record a JSON string: every escape one level down
        events = [[("CloudTrailEvent", dumps(rng, r, escape_rate))] for r in records]
        text = dumps(rng, [("Events", events)] if events else {"Events": []}, escape_rate)
    elif shape == "lines":
        text = "\n".join(dumps(rng, r, escape_rate).replace("\n", " ") for r in records)
    else:
        body = ",".join(_ws(rng) + dumps(rng, r, escape_rate) for r in records)
        text = "{" + _ws(rng) + '"Records"' + _ws(rng) + ":" + _ws(rng) + "[" + body + "]}"
        text += _ws(rng)
    data = text.encode("utf-8", "surrogatepass")
    if shape == "broken" and data:
        cut = rng.randrange(len(data))
        damage = rng.choice((b"", b"\xff", b"}", b"\x00", b',"x":'))
        data = data[:cut] + damage + data[cut + rng.randrange(0, 3) :]
    roll = rng.random()
    if roll < 0.03:
        data = text.encode("utf-16")
    elif roll < 0.06:
        data = b"\xef\xbb\xbf" + data
    if rng.random() < 0.3:
        data = gzip.compress(data, compresslevel=1, mtime=0)
    extra = frozenset(rng.sample(EXTRA_POOL, rng.randrange(0, 3)))
    ignored = frozenset(rng.sample(IGNORED_POOL, rng.randrange(0, 3)))
    return HostileFile(data, extra, ignored, shape)
