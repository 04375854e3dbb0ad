"""The scan says what happened: files named explicitly are read whatever their name,
JSON Lines and `aws cloudtrail lookup-events` output are read (and said so), events
outside --since/--until and the time range of the data are reported."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.sources import trailfiles
from deniedwatch.sources.decoded import check_times
from dwtest import EXAMPLES, CliResult

Cli = Callable[..., CliResult]
ONE_FILE = next(
    p for p in sorted(EXAMPLES.rglob("*.json.gz")) if "/CloudTrail/eu-west-1/" in p.as_posix()
)
RECORDS: list[dict[str, Any]] = json.loads(gzip.decompress(ONE_FILE.read_bytes()))["Records"]


def ids(result: CliResult) -> set[str]:
    return {json.loads(line)["event_id"] for line in result.stdout.splitlines()}


@pytest.fixture
def as_cloudtrail(cli: Cli) -> set[str]:
    result = cli("scan", ONE_FILE, "-f", "jsonl")
    assert result.exit_code == 0
    assert len(ids(result)) >= 5
    return ids(result)


def test_a_file_named_explicitly_is_read_whatever_its_name(
    cli: Cli, tmp_path: Path, as_cloudtrail: set[str]
) -> None:
    named = tmp_path / "one.txt"
    named.write_bytes(gzip.decompress(ONE_FILE.read_bytes()))
    result = cli("scan", named, "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert ids(result) == as_cloudtrail
    walked = cli("scan", tmp_path, "-f", "jsonl")  # found by walking: not a log file name
    assert walked.stdout == ""
    assert "1 not a log file skipped" in walked.stderr


def test_json_lines_are_read_and_said(cli: Cli, tmp_path: Path, as_cloudtrail: set[str]) -> None:
    lines = [json.dumps(r) for r in RECORDS]
    # an attacker's value cannot forge a record: a newline inside a JSON string is "\n"
    lines[0] = json.dumps({**RECORDS[0], "userAgent": "x\n" + json.dumps(RECORDS[1])})
    text = "\n".join(lines[:3]) + "\n\n{not json\n" + "\n".join(lines[3:]) + "\n"
    (tmp_path / "export.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    result = cli("scan", tmp_path, "-f", "jsonl")
    assert result.exit_code == 3  # one bad line: bad input, named
    assert ids(result) == as_cloudtrail
    assert "export.jsonl.gz: record 3: line 5: not JSON" in result.stderr
    assert "read 1 file as JSON Lines" in result.stderr
    assert f"{len(RECORDS) + 1} events" in result.stderr


def test_lookup_events_output_is_read_and_said(
    cli: Cli, tmp_path: Path, as_cloudtrail: set[str]
) -> None:
    events = [{"EventId": r["eventID"], "CloudTrailEvent": json.dumps(r)} for r in RECORDS]
    events.append({"EventId": "broken", "CloudTrailEvent": "{truncated"})
    events.append({"EventId": "no-text"})
    out = tmp_path / "lookup.json"
    out.write_text(json.dumps({"Events": events, "NextToken": "abc"}, indent=4))
    result = cli("scan", out, "-f", "jsonl")
    assert result.exit_code == 3
    assert ids(result) == as_cloudtrail
    assert "read 1 file as aws cloudtrail lookup-events output" in result.stderr
    assert f"lookup.json: record {len(RECORDS)}: not JSON" in result.stderr
    assert f"lookup.json: record {len(RECORDS) + 1}: no CloudTrailEvent text" in result.stderr


def test_the_usual_format_is_not_mentioned(cli: Cli) -> None:
    result = cli("scan", ONE_FILE, "-f", "jsonl")
    assert "read 1 file as" not in result.stderr


def test_files_pruned_by_the_date_in_their_path_say_their_dates(cli: Cli) -> None:
    result = cli("scan", ONE_FILE, "--since", "2030-01-01", "-f", "table")
    assert result.stdout.strip() == "No denied API calls found."
    assert "0 files read (1 outside the filters skipped)" in result.stderr
    assert "files left unread by the filters are dated 2026-11-20 in their paths" in result.stderr


def test_since_after_all_the_data_says_so(cli: Cli, tmp_path: Path) -> None:
    undated = tmp_path / "export.json.gz"  # no date in the path: read, then filtered
    undated.write_bytes(ONE_FILE.read_bytes())
    result = cli("scan", undated, "--since", "2030-01-01", "-f", "table")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No denied API calls found."
    times = sorted(r["eventTime"] for r in RECORDS)
    first, last = (t.replace("T", " ").removesuffix("Z") for t in (times[0], times[-1]))
    assert f"the events read are from {first} UTC to {last} UTC" in result.stderr
    assert f"{len(RECORDS)} of {len(RECORDS)} events are outside --since/--until" in result.stderr
    assert "denials left out by --since/--until" in result.stderr


def test_a_window_inside_the_data_counts_what_is_outside(cli: Cli) -> None:
    times = sorted(r["eventTime"] for r in RECORDS)
    since = times[len(times) // 2]
    result = cli("scan", ONE_FILE, "--since", since, "-f", "jsonl")
    outside = sum(1 for t in times if t < since)
    assert f"{outside} of {len(RECORDS)} events are outside --since/--until" in result.stderr


def test_a_json_object_that_is_no_trail_is_still_a_bad_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"hello": "world"}\n{"hello": "again"}\n')
    (tmp_path / "y.json").write_text('{"hello": "world"}')
    result = cli("scan", tmp_path, "-f", "jsonl")
    assert result.exit_code == 3
    assert "x.json: not JSON" in result.stderr
    assert 'y.json: not a CloudTrail log file (no "Records", "Events"' in result.stderr


def test_skip_reason_and_explicit_names() -> None:
    assert trailfiles.skip_reason("a/b/one.txt") == "not a log file"
    assert trailfiles.skip_reason("a/b/one.txt", explicit=True) is None
    assert trailfiles.skip_reason("a/CloudTrail-Digest/x.json.gz", explicit=True) == "digest"
    for name in ("x.jsonl", "x.jsonl.gz", "x.ndjson", "x.json", "x.json.gz"):
        assert trailfiles.skip_reason(f"a/{name}") is None


def test_the_time_range_holds_only_cloudtrail_times() -> None:
    """Issue 24 item 7: anything but CloudTrail's time is a bad field, never the range."""
    a, b, c = "2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z", "2026-11-20T11:00:00.5Z"
    cases: list[tuple[list[Any], tuple[str | None, str | None], int]] = [
        ([], (None, None), 0),
        ([None], (None, None), 0),  # missing: neither a time nor a bad one
        ([1, 2.5], (None, None), 2),
        ([b, a, c], (a, c), 0),
        ([None, b, {"x": 1}, a, "redacted", "2025-02-14 19:43:09.000000000 UTC"], (a, b), 3),
    ]
    for times, expected, bad in cases:
        decoded = trailfiles.Decoded(0, [])
        check_times(times, decoded, 0)
        kept, low, high = decoded.time_range()
        assert (low, high) == expected
        assert len(decoded.bad) == bad and all(type(t) is str for t in kept)
