"""The shapes a log file comes in, read by the real `deniedwatch scan`: a bare JSON array
(issue 24 item 1), ``{"Records": …}`` and JSON Lines give the same findings; a bad
eventTime is never the scan's time range (item 7); one mismatched bracket costs only its
own record (issue 20 item 8); a file of tiny records is read under the record limit
(issue 20 item 7; its memory is measured in tests/reliability/test_rel_hostile.py)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.sources import slices, trailfiles
from deniedwatch.sources.bounded import MiB
from dwtest import CliResult
from live_support import denial

Cli = Callable[..., CliResult]


def _records(n: int, pad: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        rec = (
            denial(user=f"u{i % 7}", eventID=f"e-{i}")
            if i % 3 == 0
            else dict(denial(user="ok", eventID=f"e-{i}"), errorCode=None, errorMessage=None)
        )
        rec["eventTime"] = f"2026-11-20T09:{i % 60:02d}:{i % 60:02d}Z"
        if pad:
            rec["requestParameters"] = {"note": "x" * pad}
        out.append(rec)
    return out


def _shapes(records: list[dict[str, Any]]) -> dict[str, bytes]:
    return {
        "records.json": json.dumps({"Records": records}).encode(),
        "array.json": json.dumps(records, indent=1).encode(),  # as detonation logs publish it
        "lines.jsonl": "\n".join(json.dumps(r) for r in records).encode(),
    }


def _findings(cli: Cli, path: Path) -> tuple[int, list[dict[str, Any]], str]:
    out = path.parent / (path.name + ".out.jsonl")
    got = cli("scan", path, "-f", "jsonl", "-o", out, "-j", "1")
    lines = out.read_text().splitlines() if out.exists() else []
    return got.exit_code, [json.loads(line) for line in lines], got.stderr


@pytest.mark.parametrize(
    ("count", "pad"),
    [(30, 0), (1500, 1200)],  # small: decoded whole; ~2 MiB: past WHOLE_BYTES, in slices
    ids=["small", "sliced"],
)
def test_bare_array_records_and_json_lines_give_the_same_findings(
    cli: Cli, tmp_path: Path, count: int, pad: int
) -> None:
    records = _records(count, pad)
    results = {}
    for name, data in _shapes(records).items():
        path = tmp_path / (name + ".gz")
        path.write_bytes(gzip.compress(data, 1))
        if pad:
            assert len(data) > trailfiles.WHOLE_BYTES
        code, findings, stderr = _findings(cli, path)
        assert code == 0, stderr
        results[name] = findings
    expected = {f"e-{i}" for i in range(0, count, 3)}
    assert {f["event_id"] for f in results["records.json"]} == expected
    assert results["array.json"] == results["records.json"] == results["lines.jsonl"]


def test_bare_array_of_not_records_is_a_bad_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text("[1, 2, 3]")
    code, findings, stderr = _findings(cli, path)
    assert code == 3 and findings == [] and "array without records" in stderr


@pytest.mark.parametrize(
    "bad", ["redacted", "2025-02-14 19:43:09.000000000 UTC", 1739562189, {"t": 1}]
)
def test_a_bad_event_time_is_counted_and_never_the_time_range(
    cli: Cli, tmp_path: Path, bad: Any
) -> None:
    """Issue 24 item 7: the record is still reported; its eventTime is a bad field."""
    records = _records(3)
    records[0]["eventTime"] = bad  # a denial
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Records": records}))
    code, findings, stderr = _findings(cli, path)
    assert [f["event_id"] for f in findings] == ["e-0"]
    assert findings[0]["event_time"] is None
    assert "eventTime is not a CloudTrail time" in stderr and code == 3
    assert "redacted UTC" not in stderr and "000000000 UTC" not in stderr
    if "the events read are from" in stderr:
        assert "2026-11-20" in stderr.split("the events read are from", 1)[1].split("\n")[0]


def test_fractional_seconds_are_a_time() -> None:
    records = _records(2)
    records[1]["eventTime"] = "2026-11-20T09:01:01.250Z"
    decoded = trailfiles.decode_candidates(json.dumps({"Records": records}).encode())
    assert decoded.bad == [] and decoded.time_range()[2] == "2026-11-20T09:01:01.250Z"


# ---- issue 20 item 8: one mismatched bracket --------------------------------------------


def _named(name: str) -> str:
    return json.dumps(denial(user=name, eventID=name))


@pytest.mark.parametrize("bare", [False, True], ids=["records", "bare-array"])
def test_a_mismatched_bracket_costs_only_its_own_record(
    cli: Cli, tmp_path: Path, bare: bool
) -> None:
    """`[alice, {"eventVersion":"1.10","y":[1,2,}, bob, carol]`: bob and carol are read,
    the broken one is counted bad (before: only alice, and no bad record)."""
    broken = '{"eventVersion":"1.10","y":[1,2,}'
    items = f"{_named('alice')}, {broken}, {_named('bob')}, {_named('carol')}"
    path = tmp_path / "flip.json"
    path.write_text(f"[{items}]" if bare else f'{{"Records": [{items}]}}')
    code, findings, stderr = _findings(cli, path)
    assert [f["principal_name"] for f in findings] == ["alice", "bob", "carol"]
    assert code == 3 and "record 1:" in stderr


def test_junk_between_records_resynchronises_at_the_next_record() -> None:
    junk = _named("alice") + "}}"  # two stray closers after a good record
    text = '{"Records": [' + f"{junk}, {_named('bob')}, {_named('carol')}" + "]}"
    decoded = trailfiles.decode_candidates(text.encode())
    assert [r.get("eventID") for r in decoded.records] == ["alice", "bob", "carol"]
    assert [b.index for b in decoded.bad] == [0]


def test_every_unreadable_item_is_counted() -> None:
    items = [_named("a"), "{oops", _named("b"), '{"x": [}', "7", _named("c")]
    decoded = trailfiles.decode_candidates(("[" + ", ".join(items) + "]").encode())
    assert [r.get("eventID") for r in decoded.records] == ["a", "b", "c"]
    assert decoded.count == 6 and {b.index for b in decoded.bad} == {1, 3, 4}


# ---- issue 20 item 7: the record limit ------------------------------------------------------


@pytest.mark.parametrize("bare", [False, True], ids=["records", "bare-array"])
def test_a_file_of_tiny_records_is_read_up_to_the_record_limit(bare: bool) -> None:
    limit = 4 * MiB  # max_records(4 MiB) = 8,192
    n = 3 * MiB // 3  # ~1 million "{}," in 3 MiB
    body = b"{}," * n + b"{}"
    text = b"[" + body + b"]" if bare else b'{"Records":[' + body + b"]}"
    decoded = trailfiles.decode_candidates(gzip.compress(text, 1), limit)
    most = trailfiles.max_records(limit)
    assert decoded.count == most and decoded.records == []
    assert decoded.bad[0].reason == f"past the {most:,}-record limit: not read"


def test_denials_past_the_limit_are_not_read_but_said() -> None:
    unit = json.dumps({"errorCode": "AccessDenied", "eventTime": "2026-11-20T09:01:10Z"})
    text = ('{"Records": [' + ",".join([unit] * 50_000) + "]}").encode()
    limit = 8 * MiB
    decoded = trailfiles.decode_candidates(text, limit)
    most = trailfiles.max_records(limit)
    assert len(text) > trailfiles.WHOLE_BYTES and most < 50_000
    assert decoded.count == most == len(decoded.records) == len(decoded.times)
    assert "past the" in decoded.bad[0].reason


def test_slices_cut_only_at_record_boundaries() -> None:
    """A `},{` inside a record (a nested list of objects, a string) is never a cut."""
    tricky = dict(denial(user="t"), resources=[{"ARN": "a"}, {"ARN": "b"}], note='"},{"')
    records = [dict(tricky, eventID=f"e-{i}") for i in range(4000)]
    text = json.dumps({"Records": records}).encode()
    assert len(text) > slices.SLICE_BYTES * 4
    decoded = trailfiles.decode_candidates(text)
    assert decoded.count == 4000 and decoded.bad == []
    assert [r.get("eventID") for r in decoded.records] == [f"e-{i}" for i in range(4000)]
