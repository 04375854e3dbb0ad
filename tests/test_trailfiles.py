"""CloudTrail log files: what is skipped, path pruning, decoding and every way a file is bad."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.finding import Finding
from deniedwatch.rules import Ruleset
from deniedwatch.sources import trailfiles
from deniedwatch.sources.trailfiles import BadFile, PathFilter, PathInfo
from dwtest import EXAMPLES

LOG_KEY = (
    "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/"
    "111122223333_CloudTrail_eu-west-1_20261120T0905Z_a1.json.gz"
)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (LOG_KEY, None),
        ("s3://b/" + LOG_KEY, None),
        ("exports/a.json", None),
        (
            "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/"
            "111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20261120T100000Z.json.gz",
            "digest",
        ),
        (
            "s3://b/AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2026/11/20/x.json.gz",
            "insight",
        ),
        ("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/notes.txt", "not a log file"),
        ("AWSLogs/111122223333/CloudTrail/", "not a log file"),  # an S3 "folder" marker
        ("a.json.gz.tmp", "not a log file"),
    ],
)
def test_skip_reason(location: str, reason: str | None) -> None:
    assert trailfiles.skip_reason(location) == reason


def test_path_info() -> None:
    assert trailfiles.path_info("s3://b/prefix/" + LOG_KEY) == PathInfo(
        "111122223333", "eu-west-1", date(2026, 11, 20)
    )
    assert trailfiles.path_info("some/file.json") == PathInfo(None, None, None)
    bad_day = LOG_KEY.replace("2026/11/20", "2026/13/40")
    assert trailfiles.path_info(bad_day) == PathInfo("111122223333", "eu-west-1", None)


@pytest.mark.parametrize(
    ("keep", "wanted"),
    [
        (PathFilter(), True),
        (PathFilter(accounts=frozenset({"111122223333"})), True),
        (PathFilter(accounts=frozenset({"444455556666"})), False),
        (PathFilter(regions=frozenset({"eu-west-1", "us-east-1"})), True),
        (PathFilter(regions=frozenset({"us-east-1"})), False),
        (PathFilter(since=date(2026, 11, 20)), True),
        (PathFilter(since=date(2026, 11, 21)), False),
        (PathFilter(until=date(2026, 11, 20)), True),
        # delivered on the 20th, so it may hold events of the 19th shortly before midnight
        (PathFilter(until=date(2026, 11, 19)), True),
        (PathFilter(until=date(2026, 11, 18)), False),
    ],
)
def test_path_filter(keep: PathFilter, wanted: bool) -> None:
    assert keep.wants(LOG_KEY) is wanted


def test_path_filter_lets_unknown_layouts_through() -> None:
    keep = PathFilter(
        since=date(2030, 1, 1), accounts=frozenset({"000000000000"}), regions=frozenset({"x"})
    )
    assert keep.wants("my-export/today.json")


def test_list_local(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    for name in ["b/c/2.json", "a.json.gz", "b/1.json"]:
        (tmp_path / name).write_bytes(b"x")
    found = [
        Path(tf.location).relative_to(tmp_path).as_posix()
        for tf in trailfiles.list_local(str(tmp_path))
    ]
    assert found == ["a.json.gz", "b/1.json", "b/c/2.json"]
    single = list(trailfiles.list_local(str(tmp_path / "a.json.gz")))
    assert [(Path(tf.location).name, tf.size) for tf in single] == [("a.json.gz", 1)]
    with pytest.raises(FileNotFoundError, match="no-such"):
        list(trailfiles.list_local(str(tmp_path / "no-such")))


def test_split_s3() -> None:
    assert trailfiles.split_s3("s3://bucket") == ("bucket", "")
    assert trailfiles.split_s3("s3://bucket/AWSLogs/1/") == ("bucket", "AWSLogs/1/")
    with pytest.raises(ValueError, match="no bucket"):
        trailfiles.split_s3("s3:///key")


# ---- decoding ------------------------------------------------------------------------

RECORDS = [
    {"eventID": "1", "eventName": "GetObject", "errorCode": "AccessDenied", "extra": {"a": [1]}},
    {"eventID": "2", "eventName": "ListBuckets"},
]


def _gz(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


def _plain(records: list[Any]) -> bytes:
    return json.dumps({"Records": records}).encode()


def test_gzip_and_plain_decode_alike() -> None:
    plain = trailfiles.decode_records(_plain(RECORDS))
    packed = trailfiles.decode_records(_gz(_plain(RECORDS)))
    assert [r.get("eventID") for r in plain] == [r.get("eventID") for r in packed] == ["1", "2"]


def test_candidates_are_the_records_with_an_error_code() -> None:
    decoded = trailfiles.decode_candidates(_gz(_plain(RECORDS)))
    assert decoded.count == 2
    assert [r.get("eventID") for r in decoded.records] == ["1"]
    assert decoded.bad == []


def test_items_that_are_not_objects_are_named_by_index() -> None:
    decoded = trailfiles.decode_candidates(_plain([*RECORDS, "oops", 7, None]))
    assert decoded.count == 5
    assert [r.get("eventID") for r in decoded.records] == ["1"]
    assert [str(b) for b in decoded.bad] == [
        "record 2: not a JSON object (str)",
        "record 3: not a JSON object (int)",
        "record 4: not a JSON object (NoneType)",
    ]


def test_empty_records_list_is_fine() -> None:
    assert trailfiles.decode_records(_gz(_plain([]))) == []


def test_multi_member_gzip() -> None:
    body = _plain(RECORDS)
    data = _gz(body[:10]) + _gz(body[10:])
    assert len(trailfiles.decode_records(data)) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (_gz(b""), "not JSON"),
        (_gz(_plain(RECORDS))[:-12], "corrupt gzip"),  # truncated download
        (_gz(_plain(RECORDS))[:40] + b"\x00" * 40, "corrupt gzip"),
        (b"\x1f\x8b" + b"garbage" * 10, "corrupt gzip"),
        (b"this is not json", "not JSON"),
        (_gz(b"{'Records': []}"), "not JSON"),
        (b'{"Records": [', "not JSON"),
        (_gz(json.dumps({"awsAccountId": "1", "logFiles": []}).encode()), "not a CloudTrail"),
        (b"[1, 2, 3]", "not a CloudTrail"),
        (b'"Records"', "not a CloudTrail"),
        (b'{"Records": {"a": 1}}', '"Records" is not a list'),
        (b'{"Records": null}', '"Records" is not a list'),
    ],
    ids=[
        "empty",
        "empty-gzip",
        "truncated-gzip",
        "zeroed-gzip",
        "gzip-magic-then-garbage",
        "text",
        "python-repr",
        "cut-json",
        "digest-content",
        "json-array",
        "json-string",
        "records-object",
        "records-null",
    ],
)
def test_bad_files(data: bytes, reason: str) -> None:
    with pytest.raises(BadFile, match=reason):
        trailfiles.decode_records(data)


def _example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.json.gz") if trailfiles.skip_reason(str(p)) is None)


def test_fast_and_plain_decoding_give_the_same_findings() -> None:
    """The msgspec struct path (raw nested objects) must read records like plain dicts."""
    files = _example_files()
    assert len(files) == 5
    checked = 0
    for path in files:
        data = path.read_bytes()
        fast = trailfiles.decode_records(data)
        plain = json.loads(gzip.decompress(data))["Records"]
        assert len(fast) == len(plain)
        for struct, record in zip(fast, plain, strict=True):
            assert Finding.from_record(struct) == Finding.from_record(record)
            assert Ruleset().evaluate(struct) == Ruleset().evaluate(record)
            checked += 1
    assert checked == 33


def test_null_and_odd_nested_values_in_the_fast_path() -> None:
    records = [
        {"errorCode": "AccessDenied", "userIdentity": None, "resources": None},
        {"errorCode": "AccessDenied", "userIdentity": "x", "resources": {"ARN": 1}},
        {"errorCode": "AccessDenied", "userIdentity": [], "resources": [None]},
        {"errorCode": 5, "awsRegion": ["x"]},
    ]
    for struct, record in zip(trailfiles.decode_records(_plain(records)), records, strict=True):
        assert Finding.from_record(struct) == Finding.from_record(record)
