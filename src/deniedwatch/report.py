"""Findings rendered for people and machines: a terminal table, JSON lines, JSON, CSV.

Record text is attacker text: every table and CSV cell goes through ``text.clean``
(controls and invisible characters shown escaped), JSON through ``text.clean_json``
(the same characters as JSON escapes), CSV cells are defused against formulas.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING

from deniedwatch.alerts import wording
from deniedwatch.alerts.text import clean, clean_json
from deniedwatch.alerts.wording import who_short, why_short
from deniedwatch.finding import SCHEMA_FIELDS, Finding

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

FORMATS = ("table", "jsonl", "json", "csv")


def write_jsonl(findings: Iterable[Finding], out: IO[str]) -> None:
    for f in findings:
        out.write(clean_json(json.dumps(f.to_dict(), ensure_ascii=False)) + "\n")


def write_json(findings: Iterable[Finding], out: IO[str]) -> None:
    out.write(clean_json(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2)))
    out.write("\n")


# OWASP, CSV Injection (https://owasp.org/www-community/attacks/CSV_Injection): a cell
# starting with = + - @ tab or CR is a formula to Excel / LibreOffice / Sheets; so is
# one where only whitespace, controls or a field separator (which starts a new cell
# in a locale that splits on it) come first. Such cells get a leading apostrophe, and
# every cell is quoted so no separator inside one can split it.
_FORMULA_START = frozenset("=+-@")
_TAB_OR_CR = ("\t", "\r")
_SEPARATORS_AND_QUOTES = frozenset(",;|\"'")
# Inside a cell: a separator, then spaces or quotes, then a formula start. A reader that
# splits on that separator (quoting is no help once it does) would start a new cell
# there, so the formula gets its apostrophe too. No tab is left after clean().
_SPLIT_FORMULA = re.compile(r"([,;|][ \"']*)(?=[=+\-@])")


def csv_cell(value: object) -> object:
    """A CSV cell of record text: cleaned (no raw controls, so no tab or newline left to
    split it in a tab-separated import), and defused against formulas (OWASP)."""
    if not isinstance(value, str):
        return value
    text = _SPLIT_FORMULA.sub(r"\1'", clean(value))
    if value.startswith(_TAB_OR_CR) or _formula_after_filler(value):
        return "'" + text
    return text


def _formula_after_filler(value: str) -> bool:
    for ch in value:
        if ch.isspace() or not ch.isprintable() or ch in _SEPARATORS_AND_QUOTES:
            continue
        return ch in _FORMULA_START
    return False


def write_csv(findings: Iterable[Finding], out: IO[str]) -> None:
    writer = csv.DictWriter(
        out, fieldnames=SCHEMA_FIELDS, lineterminator="\n", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    for f in findings:
        writer.writerow({k: csv_cell(v) for k, v in f.to_dict().items()})


CONSOLE_HINT = (
    "Event ids link to the CloudTrail console: "
    "https://<region>.console.aws.amazon.com/cloudtrailv2/home?region=<region>#/events/<event id>"
)


def table(findings: Iterable[Finding], labels: dict[str, str]) -> Table:
    """A rich Table; text from records goes in as plain Text, never as markup."""
    from rich.table import Table

    t = Table(header_style="bold", caption=CONSOLE_HINT, caption_justify="left")
    t.add_column("When (UTC)", no_wrap=True)
    t.add_column("Account / region")
    t.add_column("Who / from", overflow="fold")
    t.add_column("Action / resource", overflow="fold", max_width=48)
    t.add_column("Error", overflow="fold")
    t.add_column("Why", overflow="fold")
    t.add_column("Event", no_wrap=True)
    for f in findings:
        when = (f.event_time or "?").replace("T", " ").removesuffix("Z")
        account = wording.account(f.account_id, labels.get(f.account_id or "")) or "?"
        event = cell(f.event_id or "-")
        if f.console_url:  # built by Finding from a checked region and the event id
            event.stylize(f"link {f.console_url}")
        t.add_row(
            cell(when),
            cell(account, f.region or "?"),
            cell(who_short(f), f.source_ip or "?"),
            cell(f.action or "?", *([f.resource] if f.resource else [])),
            cell(f.error_code or "?"),
            cell(why_short(f)),
            event,
        )
    return t


def cell(*lines: str) -> Text:
    """A table cell: each line cleaned (no escape sequence reaches the terminal: rich
    itself strips only a few controls), as plain Text, never markup."""
    from rich.text import Text

    return Text("\n".join(clean(line) for line in lines))
