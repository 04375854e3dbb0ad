"""Hostile input at full size: bombs and huge files in bounded memory, hostile files
beside good ones, terminal escapes and CSV formulas through every scan format.

Peak memory is measured, not estimated: each scenario runs in a fresh interpreter
started by a small launcher (tests/reliability/peak_rss.py) that reports
``resource.getrusage(RUSAGE_CHILDREN)`` ru_maxrss: the scenario and its pool workers.
The function has 256 MB; everything must stay under 300 MB, the interpreter included.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from figures import record, sizes

from deniedwatch.alerts.text import is_unsafe
from deniedwatch.sources.bounded import MiB
from hostile import (
    CSV_CASES,
    INVISIBLE,
    PAST_EVERY_PARSER,
    TERMINAL_ATTACKS,
    bomb,
    deep_denial,
    records_bomb,
)
from live_support import denial, subscription_payload

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples" / "cloudtrail"
RSS_LIMIT_MIB = 300
EVENT = b'{"id": "1", "timestamp": 1, "message": "{}"},'
PAYLOAD_PREFIX = b'{"messageType": "DATA_MESSAGE", "logEvents": ['


def peak_rss(tmp_path: Path, kind: str, *args: str | Path) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter; its outcome and peak RSS (MiB)."""
    out = tmp_path / f"rss-{len(list(tmp_path.glob('rss-*')))}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DENIEDWATCH_", "SLACK_"))}
    env.update(AWS_REGION="eu-west-1", HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(HERE / "peak_rss.py"), str(out), kind, *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    result["stderr"] = proc.stderr
    result["peak"] = result["peak_mib"]
    return result


def _event_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name}.event.json"
    path.write_text(json.dumps({"awslogs": {"data": base64.b64encode(data).decode()}}))
    return path


@pytest.mark.parametrize(("payload_mib", "file_mib"), sizes(small=(64, 96), full=(1400, 2000)))
def test_bombs_and_huge_files_stay_under_300_mb(
    payload_mib: int, file_mib: int, tmp_path: Path
) -> None:
    full = payload_mib > 64
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    payload_bomb = bomb(payload_mib * MiB, EVENT, prefix=PAYLOAD_PREFIX, suffix=b"{}]}")
    lambda_bomb = _event_file(tmp_path, "bomb", payload_bomb)
    # the size AWS allows an asynchronous invocation: 256 KB of event
    small_bomb = bomb(190 * MiB, EVENT, prefix=PAYLOAD_PREFIX, suffix=b"{}]}")
    real = subscription_payload([json.dumps(denial(user=f"u{i}")) for i in range(50)])
    real_event = tmp_path / "real.event.json"
    real_event.write_text(json.dumps(real))
    records_mib = max(file_mib // 5, 80)  # over the 64 MiB cap at either size
    records = records_bomb(records_mib * MiB)  # denial records: ~180x
    zeros = bomb(file_mib * MiB)  # ~1000x
    (bombs / "records.json.gz").write_bytes(records)
    (bombs / "zeros.json.gz").write_bytes(zeros)
    (bombs / "lying.json.gz").write_bytes(records[:-4] + (5).to_bytes(4, "little"))
    with (bombs / "sparse.json").open("wb") as fh:
        fh.truncate(3 * 2**30 if full else 200 * MiB)
    one = lambda name: bombs / name  # noqa: E731
    scenarios: dict[str, tuple[str, list[Any], str]] = {
        "handler, a real 50-denial payload (baseline)": ("handler", [real_event], "ok"),
        f"handler, {len(small_bomb) // 1024} KB gzip payload bomb (190 MiB inflated)": (
            "handler",
            [_event_file(tmp_path, "small", small_bomb)],
            "PayloadError",
        ),
        f"handler, {len(payload_bomb) // 1024} KB gzip payload bomb ({payload_mib} MiB inflated)": (
            "handler",
            [lambda_bomb],
            "PayloadError",
        ),
        "scan, the sample export (baseline)": ("scan", [EXAMPLES, "-j", "1"], "exit 0"),
        f"scan, {len(records) // 1024} KB .json.gz of denial records "
        f"({records_mib} MiB inflated), jobs 1": (
            "scan",
            [one("records.json.gz"), "-j", "1"],
            "exit 3",
        ),
        f"scan, {len(zeros) // 1024} KB .json.gz ({file_mib} MiB inflated), jobs 1": (
            "scan",
            [one("zeros.json.gz"), "-j", "1"],
            "exit 3",
        ),
        "scan, the denial-records bomb with a gzip trailer saying 5 bytes, jobs 1": (
            "scan",
            [one("lying.json.gz"), "-j", "1"],
            "exit 3",
        ),
        f"scan, a {'3 GB' if full else '200 MiB'} sparse .json, jobs 1": (
            "scan",
            [one("sparse.json"), "-j", "1"],
            "exit 3",
        ),
        "scan, all four in a folder, jobs 2 (pool workers)": ("scan", [bombs, "-j", "2"], "exit 3"),
    }
    if full:  # the largest legitimate file: just under the cap, every record a denial
        under = tmp_path / "under-cap.json.gz"
        unit = json.dumps(denial(user="busy")).encode() + b","
        n = (63 * MiB) // len(unit)
        under.write_bytes(gzip.compress(b'{"Records": [' + unit * n + b"{}]}", 1))
        scenarios[f"scan, a 63 MiB file of {n:,} denials (all read), jobs 1"] = (
            "scan",
            [under, "-j", "1"],
            "exit 0",
        )
    figures: dict[str, str] = {}
    over: list[str] = []
    wrong: list[str] = []
    for name, (kind, args, expected) in scenarios.items():
        extra = ["-f", "jsonl", "-o", tmp_path / "out.jsonl"] if kind == "scan" else []
        got = peak_rss(tmp_path, kind, *args, *extra)
        figures[name] = f"{got['peak']:.0f} MiB ({got['outcome'][:60]})"
        if got["peak"] >= RSS_LIMIT_MIB:
            over.append(name)
        if not got["outcome"].startswith(expected):
            wrong.append(f"{name}: {got['outcome']}")
        if kind == "scan" and expected == "exit 3":
            assert "too large" in got["stderr"], got["stderr"][-500:]
    record(
        "hostile input",
        "gzip bombs and huge files: peak RSS (subprocess, getrusage)",
        tried="handler on payload bombs; deniedwatch scan on bomb / lying / sparse files",
        times=len(scenarios),
        held=f"peak RSS < {RSS_LIMIT_MIB} MB each; PayloadError / named bad file (exit 3)",
        **figures,
    )
    assert wrong == [] and over == [], (wrong, over, figures)


def test_bombs_of_tiny_records_stay_under_300_mb(tmp_path: Path) -> None:
    """Issue 20 item 7: 64 KB of gzip inflating to 63 MiB of ``{"Records":[{},{},…]}``
    (22 million records) peaked at 3.8 GB, times --jobs. Now a file is decoded a slice at
    a time and holds at most trailfiles.max_records records; the rest is one bad item."""
    bombs = tmp_path / "tiny"
    bombs.mkdir()
    inflated_mib = 63
    size = inflated_mib * MiB
    denial_unit = b'{"errorCode":"AccessDenied","eventTime":"2026-11-20T09:01:10Z"},'
    files = {
        "empty-records.json.gz": bomb(size, b"{},", prefix=b'{"Records":[', suffix=b"{}]}"),
        "bare-array.json.gz": bomb(size, b"{},", prefix=b"[", suffix=b"{}]"),
        "tiny-denials.json.gz": bomb(size, denial_unit, prefix=b'{"Records":[', suffix=b"{}]}"),
        "numbers.json.gz": bomb(size, b"1,", prefix=b"[", suffix=b"1]"),
    }
    for name, data in files.items():
        (bombs / name).write_bytes(data)
    scenarios: dict[str, list[Any]] = {
        f"scan, {name} ({len(data) // 1024} KB -> {inflated_mib} MiB), jobs 1": [
            bombs / name,
            "-j",
            "1",
        ]
        for name, data in files.items()
    }
    scenarios["scan, all four in a folder, jobs 2 (pool workers)"] = [bombs, "-j", "2"]
    figures: dict[str, str] = {}
    over: list[str] = []
    for name, args in scenarios.items():
        got = peak_rss(tmp_path, "scan", *args, "-f", "jsonl", "-o", tmp_path / "out.jsonl")
        figures[name] = f"{got['peak']:.0f} MiB ({got['outcome'][:60]})"
        if got["peak"] >= RSS_LIMIT_MIB:
            over.append(name)
        assert got["outcome"] == "exit 3", (name, got["outcome"], got["stderr"][-800:])
        said = "no item is a record" if "numbers" in name else "record limit"
        assert said in got["stderr"], got["stderr"][-800:]
    record(
        "hostile input",
        "gzip bombs of tiny records: peak RSS (subprocess, getrusage)",
        tried="deniedwatch scan on 63 MiB of {} / [] / tiny denials / numbers, jobs 1 and 2",
        times=len(scenarios),
        held=f"peak RSS < {RSS_LIMIT_MIB} MB each; read up to the record limit, exit 3",
        **figures,
    )
    print(figures)
    assert over == [], figures


# ---- hostile files beside good ones --------------------------------------------------


def _good(n: str) -> bytes:
    return json.dumps(denial(user=f"good-{n}")).encode()


def hostile_files(full: bool) -> dict[str, tuple[bytes, int]]:
    """name -> (bytes, good denials that must be found in it)."""

    def around(name: str, bad: bytes) -> bytes:
        return (
            b'{"Records": [' + _good(name + "-a") + b", " + bad + b", " + _good(name + "-b") + b"]}"
        )

    depth = 100_000 if full else 2 * PAST_EVERY_PARSER
    past = PAST_EVERY_PARSER
    files: dict[str, tuple[bytes, int]] = {
        f"deep-{past}.json": (around(f"deep-{past}", deep_denial(past)), 3),  # the deep one too
        f"deep-{depth}.json.gz": (gzip.compress(around(f"deep-{depth}", deep_denial(depth))), 3),
        "bad-utf8.json": (
            around("bad-utf8", _good("utf8-x").replace(b"aws-cli", b"aws\xffcli")),
            3,
        ),
        "bad-utf8-version.json": (around("bad-utf8-version", b'{"eventVersion": "\xff"}'), 2),
        "syntax.json": (around("syntax", b'{"eventVersion": "1.08", "errorCode": tru}'), 2),
        "not-objects.json": (around("not-objects", b'7, "x", null, [1]'), 2),
        "empty-item.json": (around("empty-item", b""), 2),
        "nul.json": (around("nul", b'{"eventVersion": "1.08\x00"}'), 2),
    }
    parts = b", ".join(_good(f"truncated-{s}") for s in "abc")
    whole = b'{"Records": [' + parts + b"]}"
    files["truncated.json"] = (whole[: len(whole) - 30], 3)  # the cut one is salvaged
    return files


@pytest.mark.parametrize("full", sizes(small=False, full=True))
def test_hostile_files_lose_only_themselves(cli, tmp_path: Path, full: bool) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXAMPLES, root)
    day = root / "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/24"
    day.mkdir(parents=True)
    files = hostile_files(full)
    for name, (data, _) in files.items():
        (day / name).write_bytes(data)
    over_cap = {
        "records-bomb.json.gz": records_bomb(80 * MiB),
        "zeros-bomb.json.gz": bomb(200 * MiB),
        "multi-member.json.gz": gzip.compress(b" " * MiB) * 70,
    }
    for name, data in over_cap.items():
        (day / name).write_bytes(data)
    clean = cli("scan", EXAMPLES, "--format", "jsonl", "-j", "1")
    messy = cli("scan", root, "--format", "jsonl", "-j", "2")
    found = [json.loads(x) for x in messy.stdout.splitlines()]
    names = Counter(f["principal_name"] for f in found)
    lost_good = sum(
        names[f"good-{name.removesuffix('.gz').removesuffix('.json')}-{s}"] != 1
        for name in files
        for s in "ab"
    )
    clean_ids = {json.loads(x)["event_id"] for x in clean.stdout.splitlines()}
    lost_sample = len(clean_ids - {f["event_id"] for f in found})
    warnings = [w for w in messy.stderr.splitlines() if w.startswith("warning:")]
    named_files = sum(any(f"/{n}:" in w for w in warnings) for n in [*files, *over_cap])
    too_large = sum(any(f"/{n}: too large" in w for w in warnings) for n in over_cap)
    expected_findings = len(clean_ids) + sum(n for _, n in files.values())
    record(
        "hostile input",
        f"{len(files)} files with bad records + {len(over_cap)} over the size cap, among the "
        "sample export",
        tried="deniedwatch scan --jobs 2 (CLI, in-process)",
        times=len(files) + len(over_cap),
        held="each file named (bad records by index), good records lost == 0, no traceback",
        files_with_bad_records=len(files),
        files_over_the_cap=len(over_cap),
        files_named=named_files,
        bad_records_named=sum(": record " in w for w in warnings),
        findings=len(found),
        findings_expected=expected_findings,
        good_records_lost=lost_good + lost_sample,
        tracebacks=messy.stderr.count("Traceback"),
    )
    assert messy.exit_code == 3 and "Traceback" not in messy.stderr
    assert (lost_good, lost_sample) == (0, 0), (names, messy.stderr)
    assert named_files == len(files) + len(over_cap) and too_large == len(over_cap), warnings
    assert len(found) == expected_findings, messy.stderr


# ---- terminal escapes and CSV formulas through every format ------------------------

FIELDS = {
    "userAgent": lambda r, s: r.update(userAgent=s),
    "userName": lambda r, s: r["userIdentity"].update(userName=s),
    "errorMessage": lambda r, s: r.update(errorMessage=s),
    "resources[0].ARN": lambda r, s: r.update(resources=[{"ARN": f"arn:aws:s3:::b/{s}"}]),
    "sourceIPAddress": lambda r, s: r.update(sourceIPAddress=s),
    "eventName": lambda r, s: r.update(eventName=s),
    "errorCode": lambda r, s: r.update(errorCode="AccessDenied" + s),
}
FORMULA = ("=", "+", "-", "@")


def _formula_cells(csv_text: str) -> int:
    """Cells a spreadsheet would run, whichever delimiter it splits on, quotes or not."""
    return sum(
        cell.lstrip(' "')[:1] in FORMULA
        for delimiter in (",", ";", "\t", "|")
        for line in csv_text.splitlines()[1:]
        for cell in line.split(delimiter)
    )


@pytest.mark.parametrize("step", sizes(small=4, full=1))
def test_terminal_escapes_and_formulas_never_reach_a_reader(cli, tmp_path: Path, step: int) -> None:
    attacks = [*TERMINAL_ATTACKS, *INVISIBLE, *(value for value, _ in CSV_CASES if value)][::step]
    raw: Counter[str] = Counter()
    formulas = 0
    outputs = 0
    for field, put in FIELDS.items():
        records = []
        for i, attack in enumerate(attacks):
            r = denial(user=f"u{i}", eventID=f"e-{i}")
            put(r, attack)
            records.append(r)
        folder = tmp_path / field.replace("[0]", "")
        folder.mkdir()
        (folder / f"a{TERMINAL_ATTACKS[0]}.json").write_text(json.dumps({"Records": records}))
        for fmt in ("table", "jsonl", "json", "csv"):
            result = cli("scan", folder, "--format", fmt, "-j", "1")
            outputs += 1
            for ch in result.stdout + result.stderr:
                if ch != "\n" and is_unsafe(ch):
                    raw[f"{field} / {fmt}: U+{ord(ch):04X}"] += 1
            if fmt == "csv":
                formulas += _formula_cells(result.stdout)
    record(
        "hostile input",
        "terminal escapes, invisible characters, CSV formulas x record fields -> every format",
        tried=f"{len(attacks)} strings x {len(FIELDS)} fields, scan table/jsonl/json/csv",
        times=outputs,
        held="raw control/invisible characters == 0, formula cells (any delimiter) == 0",
        attack_strings=len(attacks),
        fields=len(FIELDS),
        csv_cases=len(CSV_CASES),
        outputs_checked=outputs,
        raw_characters=sum(raw.values()),
        formula_cells=formulas,
    )
    assert not raw, raw
    assert formulas == 0
