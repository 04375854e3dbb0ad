"""Findings rendered for machines: JSON lines, JSON, CSV (people: termview, htmlreport).

Record text is attacker text: CSV cells go through ``text.clean`` (controls and
invisible characters shown escaped) and are defused against formulas; JSON goes
through ``text.clean_json`` (the same characters as JSON escapes, the data exact).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import IO

from deniedwatch.alerts.text import clean, clean_json
from deniedwatch.finding import SCHEMA_FIELDS, Finding

# table: deniedwatch.termview; html: deniedwatch.htmlreport; ocsf: deniedwatch.report_ocsf
FORMATS = ("table", "jsonl", "json", "csv", "html", "ocsf")
# table: more findings than this and the grouped view is the default (here, not in
# termview, so `scan --help` can say it without importing the terminal renderer)
GROUP_ABOVE = 50


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
# Spreadsheets (Excel with an East Asian input method among them) also read the
# compatibility forms of these characters as the ASCII ones: full-width ＝ ＋ － ＠ ，,
# small ﹦, superscript ⁼. So every check looks at the text NFKC-folded (Unicode's
# compatibility folding, the same one those readers apply), one character at a time so
# positions still line up with the text written.
_FORMULA_START = frozenset("=+-@")
_TAB_OR_CR = ("\t", "\r")
_SEPARATORS_AND_QUOTES = frozenset(",;|\"'")
# Inside a cell: a separator, then spaces or quotes, then a formula start. A reader that
# splits on that separator (quoting is no help once it does) would start a new cell
# there, so the formula gets its apostrophe too. No tab is left after clean().
_SPLIT_FORMULA = re.compile(r"([,;|][ \"']*)(?=[=+\-@])")


def _fold(ch: str) -> str:
    """One character as a spreadsheet may read it: the first character of its NFKC form
    (``＝`` -> ``=``, ``⩵`` -> ``=``), itself when folding removes it."""
    folded = unicodedata.normalize("NFKC", ch)
    return folded[0] if folded else ch


def folded(text: str) -> str:
    """``text`` NFKC-folded character by character: same length, same positions."""
    return text if text.isascii() else "".join(map(_fold, text))


def csv_cell(value: object) -> object:
    """A CSV cell of record text: cleaned (no raw controls, so no tab or newline left to
    split it in a tab-separated import), and defused against formulas (OWASP), also
    when they are written in full-width or other compatibility characters."""
    if isinstance(value, bool):  # as in JSON, not Python's True/False
        return "true" if value else "false"
    if not isinstance(value, str):
        return value
    text = clean(value)
    cuts = [m.end() for m in _SPLIT_FORMULA.finditer(folded(text))]
    for at in reversed(cuts):
        text = text[:at] + "'" + text[at:]
    if value.startswith(_TAB_OR_CR) or _formula_after_filler(folded(value)):
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
