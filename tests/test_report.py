"""Renderings of Findings that need no CLI (the CSV cases table: tests/test_text_safety.py)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import deniedwatch
from deniedwatch.finding import Finding
from deniedwatch.report import write_csv

SAMPLE_RECORD = Path(deniedwatch.__file__).parent / "data" / "sample_record.json"


def test_csv_output_carries_the_defused_user_agent() -> None:
    record = {
        "eventID": "e1",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "errorCode": "AccessDenied",
        "userAgent": '=HYPERLINK("http://evil","click")',
    }
    out = io.StringIO()
    write_csv([Finding.from_record(record)], out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["user_agent"] == "'" + record["userAgent"]
    assert row["event_name"] == "GetObject"


def test_a_reader_that_leaves_early_is_not_a_crash(tmp_path: Path) -> None:
    # `deniedwatch scan … | head -1`, with a real pipe: the console script must not
    # print a BrokenPipeError traceback when the reader closes the pipe (click turns EPIPE
    # into a quiet exit). 2,000 findings
    # (~2 MB of JSON lines) overflow the pipe's buffer, so the writer does hit EPIPE.
    sample = json.loads((SAMPLE_RECORD).read_text())
    records = [{**sample, "eventID": f"id-{i}"} for i in range(2000)]
    (tmp_path / "big.json.gz").write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    script = Path(sys.executable).with_name("deniedwatch")
    proc = subprocess.Popen(
        [str(script), "scan", str(tmp_path), "--format", "jsonl", "-q", "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert json.loads(first)["event_id"]
    assert "Traceback" not in stderr
