"""Findings rendered for machines: JSON lines, JSON, CSV (people: termview, htmlreport)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO

from deniedwatch.finding import SCHEMA_FIELDS, Finding

# table: deniedwatch.termview; html: deniedwatch.htmlreport
FORMATS = ("table", "jsonl", "json", "csv", "html")


def write_jsonl(findings: Iterable[Finding], out: IO[str]) -> None:
    for f in findings:
        out.write(json.dumps(f.to_dict(), ensure_ascii=False) + "\n")


def write_json(findings: Iterable[Finding], out: IO[str]) -> None:
    json.dump([f.to_dict() for f in findings], out, ensure_ascii=False, indent=2)
    out.write("\n")


# A cell starting with one of these is a formula to Excel / LibreOffice / Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """Attacker text (a userAgent of ``=HYPERLINK(…)``) must not run as a spreadsheet
    formula: such cells get a leading apostrophe (OWASP's CSV-injection advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(findings: Iterable[Finding], out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=SCHEMA_FIELDS, lineterminator="\n")
    writer.writeheader()
    for f in findings:
        writer.writerow({k: csv_cell(v) for k, v in f.to_dict().items()})
