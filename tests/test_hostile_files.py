"""Hostile log files and payloads: gzip bombs, huge files, one bad record among good ones.

Each test is named after the attack. A bomb must end as a named bad file (scan) or a
PayloadError (Lambda) in bounded memory; one bad record must cost only itself, named
by file and index, while every good record of its file is still read.
"""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.rules import Ruleset
from deniedwatch.scan import FindingFilter, scan_bytes
from deniedwatch.sources import bounded, cwlogs, trailfiles
from deniedwatch.sources.bounded import MiB
from deniedwatch.sources.cwlogs import PayloadError
from deniedwatch.sources.recover import recover
from deniedwatch.sources.trailfiles import BadFile
from live_support import denial


def bomb(size: int, unit: bytes = b"\0", *, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """gzip of ``prefix + unit * n + suffix`` (``size`` bytes in all), built a MiB at a time so
    the test itself never holds the inflated size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [packer.compress(prefix)]
    chunk = unit * (MiB // len(unit))
    left = size - len(prefix) - len(suffix)
    while left > 0:
        piece = chunk[: min(left, len(chunk))]
        out.append(packer.compress(piece))
        left -= len(piece)
    out.append(packer.compress(suffix))
    out.append(packer.flush())
    return b"".join(out)


def records_bomb(size: int) -> bytes:
    """A gzip bomb that is a valid CloudTrail file: the same denial over and over."""
    one = json.dumps(denial(user="bomb")).encode() + b","
    return bomb(size, one, prefix=b'{"Records": [', suffix=b"{}]}")


# ---- memory bounds -----------------------------------------------------------------


def test_gzip_bomb_stops_at_the_limit_in_bounded_memory() -> None:
    data = bomb(256 * MiB)  # ~250 KB of gzip
    with pytest.raises(bounded.TooLarge, match="inflates past 8 MiB"):
        bounded.gunzip(data, 8 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(bounded.TooLarge):
            bounded._inflate_members(data, 8 * MiB)  # the zlib path (no ISA-L) alike
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # zlib's output blocks plus the bytes they are joined into: twice the limit, never
    # the 256 MiB the bomb holds
    assert peak < 3 * 8 * MiB


def test_gzip_bomb_with_a_lying_size_trailer_still_stops_at_the_limit() -> None:
    data = bomb(32 * MiB)
    lying = data[:-4] + (5).to_bytes(4, "little")  # ISIZE says 5 bytes
    with pytest.raises(bounded.TooLarge):
        bounded.gunzip(lying, 4 * MiB)


def test_many_member_gzip_bomb_counts_every_member_against_one_limit() -> None:
    member = gzip.compress(b"x" * MiB)
    with pytest.raises(bounded.TooLarge):
        bounded.gunzip(member * 9, 8 * MiB)
    assert len(bounded.gunzip(member * 8, 8 * MiB)) == 8 * MiB


def test_gzip_followed_by_junk_is_corrupt_but_zero_padding_is_fine() -> None:
    packed = gzip.compress(b"abc")
    assert bounded.gunzip(packed + b"\0" * 16, MiB) == b"abc"
    with pytest.raises(bounded.CorruptGzip, match="after the end"):
        bounded.gunzip(packed + b"junk", MiB)


def _payload(raw_json: bytes) -> dict[str, Any]:
    return {"awslogs": {"data": base64.b64encode(raw_json).decode()}}


def test_lambda_payload_bomb_of_valid_json_is_a_payload_error() -> None:
    """12 MB of valid subscription JSON (one huge message) in 12 KB of gzip: no real
    CloudWatch Logs batch inflates past a few MB, so this is refused unread."""
    data = bomb(
        12 * MiB,
        b"A",
        prefix=b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "message": "',
        suffix=b'"}]}',
    )
    assert len(data) < 64 * 1024
    with pytest.raises(PayloadError, match="past 8 MiB: not a CloudWatch Logs batch"):
        cwlogs.decode_payload(_payload(data))


def test_lambda_payload_over_the_limit_before_decoding_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="over the 8 MiB limit"):
        cwlogs.decode_payload({"awslogs": {"data": "A" * (9 * MiB)}})


def test_scan_file_bomb_is_a_bad_file_not_a_memory_blowup() -> None:
    with pytest.raises(BadFile, match=r"too large: inflates past 2 MiB .*--max-file-mb"):
        trailfiles.decode_candidates(records_bomb(40 * MiB), 2 * MiB)


def test_scan_file_bomb_with_a_lying_trailer_is_a_bad_file() -> None:
    data = records_bomb(40 * MiB)
    with pytest.raises(BadFile, match="too large"):
        trailfiles.decode_candidates(data[:-4] + (7).to_bytes(4, "little"), 2 * MiB)


def test_huge_sparse_json_file_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(3 * 2**30)  # 3 GB of holes: no disk used, but read() would fill RAM
    with pytest.raises(BadFile, match=r"3,221,225,472 bytes, over the 64 MiB limit"):
        trailfiles.read_local(str(huge))


def test_file_that_grows_after_stat_is_still_capped() -> None:
    class Growing:
        def read(self, n: int) -> bytes:
            return b" " * n  # a size of 0 was reported, but the stream never ends

    with pytest.raises(bounded.TooLarge):
        bounded.read_capped(Growing(), MiB, size=0)


def test_scan_cli_names_the_bomb_and_exits_3_keeping_other_files(cli, tmp_path: Path) -> None:
    (tmp_path / "bomb.json.gz").write_bytes(records_bomb(8 * MiB))
    good = json.dumps({"Records": [denial(user="alice")]}).encode()
    (tmp_path / "good.json.gz").write_bytes(gzip.compress(good))
    result = cli("scan", tmp_path, "--format", "jsonl", "--max-file-mb", "2", "--jobs", "1")
    assert result.exit_code == 3
    assert [json.loads(x)["principal_name"] for x in result.stdout.splitlines()] == ["alice"]
    assert "bomb.json.gz: too large: inflates past 2 MiB" in result.stderr


# ---- one bad record must not lose its file -----------------------------------------


def _file_with(bad_text: bytes) -> bytes:
    """Two real denials with a damaged record between them, as CloudTrail lays it out."""
    first = json.dumps(denial(user="alice")).encode()
    last = json.dumps(denial(user="bob")).encode()
    return b'{"Records":[' + first + b"," + bad_text + b"," + last + b"]}"


def _scan(data: bytes) -> tuple[list[str | None], list[str], str | None]:
    result = scan_bytes(data, "f.json.gz", Ruleset(), FindingFilter())
    return (
        [f.principal_name for f in result.findings],
        [str(b) for b in result.bad_records],
        result.error,
    )


def deep(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _deep_denial(depth: int) -> bytes:
    text = json.dumps(denial(user="mallory", requestParameters={"x": 1}))
    return text.replace('{"x": 1}', '{"a":' * depth + "1" + "}" * depth).encode()


def test_one_record_nested_1000_deep_does_not_lose_its_file() -> None:
    names, bad, error = _scan(gzip.compress(_file_with(_deep_denial(1000))))
    assert error is None
    # the deep record is itself a denial: read without the field that is too deep
    assert names == ["alice", "mallory", "bob"]
    assert bad == ["record 1: nests too deeply (read without requestParameters)"]


def test_one_invalid_utf8_byte_does_not_lose_its_file() -> None:
    damaged = json.dumps(denial(user="mallory", user_agent="curl/8")).encode()
    damaged = damaged.replace(b"curl/8", b"curl\xff8")
    names, bad, error = _scan(_file_with(damaged))
    assert error is None
    assert names == ["alice", "mallory", "bob"]
    assert bad == ["record 1: invalid UTF-8"]


def test_one_record_with_broken_syntax_costs_only_itself() -> None:
    names, bad, error = _scan(_file_with(b'{"eventVersion": "1.08", "errorCode": tru}'))
    assert error is None
    assert names == ["alice", "bob"]
    assert len(bad) == 1 and bad[0].startswith("record 1: not JSON")


def test_truncated_file_keeps_the_records_before_the_cut() -> None:
    whole = _file_with(json.dumps(denial(user="carol")).encode())
    names, bad, error = _scan(whole[: len(whole) - 40])
    assert error is None
    assert names[:2] == ["alice", "carol"]
    assert bad and bad[0].startswith("record 2: ")


def test_recovery_skips_strings_holding_brackets_and_escaped_quotes() -> None:
    tricky = json.dumps(denial(user='a"]},{[', user_agent='\\"}]')).encode()
    text = b'{"Records": [' + tricky + b', {"eventVersion": "x", "n": \xff}, ' + tricky + b"]}"
    got = recover(text)
    assert got is not None
    names = [r.get("userIdentity", {}).get("userName") for r in got.records]
    assert names == ['a"]},{[', None, 'a"]},{[']  # the middle one read without "n"
    assert got.count == 3 and [b.index for b in got.bad] == [1]
    assert got.bad[0].reason.startswith("invalid UTF-8, not JSON: Expecting value")
    assert got.bad[0].reason.endswith("(read without n)")


def test_file_with_nothing_readable_is_still_a_bad_file() -> None:
    with pytest.raises(BadFile, match="not JSON"):
        trailfiles.decode_candidates(b'{"Records": [{"a": \xff}]}')


def test_scan_cli_names_file_and_index_of_each_bad_record(cli, tmp_path: Path) -> None:
    (tmp_path / "mixed.json").write_bytes(_file_with(_deep_denial(1000)))
    result = cli("scan", tmp_path, "--format", "jsonl", "--jobs", "1")
    assert result.exit_code == 3  # some input could not be read whole
    names = [json.loads(x)["principal_name"] for x in result.stdout.splitlines()]
    assert sorted(names) == ["alice", "bob", "mallory"]
    location = str(tmp_path / "mixed.json")
    assert f"warning: {location}: record 1: nests too deeply" in result.stderr
    assert "1 bad records" in result.stderr
    assert f"bad records in: {location}" in result.stderr


def test_pool_workers_apply_the_same_size_cap(cli, tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"big{i}.json").write_bytes(b" " * (2 * MiB + 1))
    result = cli("scan", tmp_path, "--format", "jsonl", "--max-file-mb", "2", "--jobs", "2")
    assert result.exit_code == 3
    assert result.stderr.count("over the 2 MiB limit") == 3, result.stderr
