"""Findings rendered for people and machines: a terminal table, JSON lines, JSON, CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING

from deniedwatch.alerts import wording
from deniedwatch.alerts.wording import who_short, why_details
from deniedwatch.finding import SCHEMA_FIELDS, Finding, history_note

if TYPE_CHECKING:
    from rich.table import Table

FORMATS = ("table", "jsonl", "json", "csv")


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


CONSOLE_HINT = (
    "Event ids link to the CloudTrail console: "
    "https://<region>.console.aws.amazon.com/cloudtrailv2/home?region=<region>#/events/<event id>"
)


def table(
    findings: Iterable[Finding], labels: dict[str, str], *, now: float | None = None
) -> Table:
    """A rich Table; text from records goes in as plain Text, never as markup.

    With ``now``, events Event history no longer shows (older than 90 days) say so.
    """
    from rich.table import Table
    from rich.text import Text

    t = Table(header_style="bold", caption=CONSOLE_HINT, caption_justify="left")
    t.add_column("When (UTC)", no_wrap=True)
    t.add_column("Account / region")
    t.add_column("Who / from", overflow="fold")
    t.add_column("Action / resource", overflow="fold", max_width=48)
    t.add_column("Error", overflow="fold")
    t.add_column("Why / next step", overflow="fold", max_width=36)
    t.add_column("Event", no_wrap=True)
    for f in findings:
        when = (f.event_time or "?").replace("T", " ").removesuffix("Z")
        account = wording.account(f.account_id, labels.get(f.account_id or "")) or "?"
        event = Text(f.event_id or "-")
        if f.console_url:
            event.stylize(f"link {f.console_url}")
        t.add_row(
            Text(when),
            Text(f"{account}\n{f.region or '?'}"),
            Text(f"{who_short(f)}\n{f.source_ip or '?'}"),
            Text(f"{f.action or '?'}\n{f.resource or ''}".rstrip()),
            Text(f.error_code or "?"),
            Text(why_details(f, history_note(f, now))),
            event,
        )
    return t
