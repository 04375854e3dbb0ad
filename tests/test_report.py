"""Renderings of Findings that need no CLI (the CSV cases table: tests/test_text_safety.py)."""

from __future__ import annotations

import csv
import io

from deniedwatch.finding import Finding
from deniedwatch.report import write_csv


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
