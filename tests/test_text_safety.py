"""Attacker text in every output: terminal escapes, invisible characters, CSV formulas,
Slack push previews and links in email. Each test is named after the attack."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from deniedwatch.alerts import email, slack
from deniedwatch.alerts.text import DEFAULT_IGNORABLE, clean, clean_json, defang, is_unsafe
from deniedwatch.finding import Finding
from deniedwatch.report import csv_cell, write_csv, write_json, write_jsonl
from hostile import CSV_CASES, ESC, INVISIBLE, TERMINAL_ATTACKS
from live_support import alert_of, denial


def _raw_unsafe(text: str) -> list[str]:
    """Characters that reached the output as themselves and must not have."""
    return sorted({ch for ch in text if is_unsafe(ch) and ch not in "\n"})


# ---- one definition of unsafe -----------------------------------------------------


def test_ignorable_table_matches_the_maintained_unicode_table() -> None:
    """DEFAULT_IGNORABLE is Unicode's Default_Ignorable_Code_Point as the regex module
    (kept current with Unicode) has it; if this fails, copy the ranges it prints."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    found = [ord(m) for m in regex.findall(r"\p{Default_Ignorable_Code_Point}", every)]
    ranges: list[list[int]] = []
    for c in found:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    expected = tuple((a, b) for a, b in ranges)
    assert expected == DEFAULT_IGNORABLE, [f"(0x{a:04X}, 0x{b:04X})" for a, b in expected]


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_characters_that_render_as_nothing_are_shown_escaped(ch: str) -> None:
    shown = clean(f"c{ch}d")
    assert shown != "cd" and shown.isascii() and shown.startswith("c\\") and shown.endswith("d")


def test_every_control_and_ignorable_is_escaped_and_nothing_else_is() -> None:
    for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]:
        assert clean(chr(c)).startswith("\\"), hex(c)
    for a, b in DEFAULT_IGNORABLE:
        for c in range(a, b + 1):
            assert clean(chr(c)).startswith("\\"), hex(c)
    for text in ("aws-cli/2.17 Python/3.11", "Jürgen 山田 🚫", "arn:aws:iam::1:user/a+b=c,d@e"):
        assert clean(text) == text


# ---- the terminal table and the other formats -------------------------------------


def _findings(value: str) -> list[Finding]:
    record = denial(user=f"u{value}", user_agent=f"ua{value}", message=f"m{value}")
    record["resources"] = [{"ARN": f"arn:aws:s3:::b/{value}"}]
    return [Finding.from_record(record)]


@pytest.mark.parametrize("attack", TERMINAL_ATTACKS, ids=["clear", "osc8", "osc52", "c1", "c0"])
def test_terminal_escape_in_a_resource_arn_never_reaches_the_terminal(
    cli, tmp_path: Path, attack: str
) -> None:
    record = denial(user=f"u{attack}", user_agent=attack, message=f"m{attack}")
    record["resources"] = [{"ARN": f"arn:aws:s3:::b/{attack}"}]
    (tmp_path / "a.json").write_text(json.dumps({"Records": [record]}))
    for fmt in ("table", "jsonl", "json", "csv"):
        result = cli("scan", tmp_path, "--format", fmt, "--jobs", "1")
        assert result.exit_code == 0, result.stderr
        assert _raw_unsafe(result.stdout) == [], (fmt, result.stdout)
        assert ESC not in result.stdout and "\x9b" not in result.stdout


def test_json_keeps_the_exact_value_behind_its_escapes() -> None:
    for writer in (write_jsonl, write_json):
        out = io.StringIO()
        writer(_findings("\x9b\U000e0100\u202e"), out)
        assert _raw_unsafe(out.getvalue()) == []
        assert "\\u009b" in out.getvalue()
        data = json.loads(
            out.getvalue().splitlines()[0] if writer is write_jsonl else out.getvalue()
        )
        row = data if isinstance(data, dict) else data[0]
        assert row["user_agent"] == "ua\x9b\U000e0100\u202e"


def test_clean_json_is_valid_json_for_surrogates_and_astral_characters() -> None:
    text = json.dumps({"a": "\ud800x\U000e0100"}, ensure_ascii=False)
    assert json.loads(clean_json(text)) == {"a": "\ud800x\U000e0100"}


def test_file_names_with_escape_sequences_are_escaped_in_warnings(cli, tmp_path: Path) -> None:
    bad = tmp_path / "evil\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J.json"
    bad.write_bytes(b"not json")
    result = cli("scan", tmp_path, "--format", "jsonl", "--jobs", "1")
    assert result.exit_code == 3
    assert ESC not in result.stderr and "\x07" not in result.stderr
    assert "evil\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2J.json: not JSON" in result.stderr


# ---- CSV injection (OWASP) ---------------------------------------------------------


@pytest.mark.parametrize(("value", "written"), CSV_CASES)
def test_csv_injection_cases(value: str, written: str) -> None:
    assert csv_cell(value) == written


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_injection_survives_any_delimiter_a_spreadsheet_picks(delimiter: str) -> None:
    findings = [f for value, _ in CSV_CASES for f in _findings(value)]
    out = io.StringIO()
    write_csv(findings, out)
    text = out.getvalue()
    assert _raw_unsafe(text) == [] and "\t" not in text and "\r" not in text
    # the worst reader: reads compatibility forms as ASCII (NFKC), then splits every
    # line on the delimiter, quotes or not
    for line in text.splitlines():
        for cell in unicodedata.normalize("NFKC", line).split(delimiter):
            first = cell.lstrip(' "')[:1]
            assert first not in ("=", "+", "-", "@"), (delimiter, cell)
    rows = list(csv.DictReader(io.StringIO(text)))  # and a reader that honours quotes
    assert [r["user_agent"] for r in rows] == [csv_cell(f"ua{v}") for v, _ in CSV_CASES]
    # not record text: None stays empty; booleans as JSON writes them (issue 23)
    assert csv_cell(None) is None and csv_cell(True) == "true" and csv_cell(False) == "false"


# ---- Slack push preview and email links --------------------------------------------


def _alert(**kw: Any) -> Any:
    return alert_of(**kw)


def test_push_preview_shows_no_mrkdwn_formatting_from_record_text() -> None:
    payload = slack.render(_alert(user="*bold* _it_ ~strike~ `code`"))
    text = payload["text"]
    assert not any(c in text for c in "*_~`"), text
    assert "bold" in text and "strike" in text


def test_email_defangs_attacker_urls_and_keeps_our_links() -> None:
    evil = "Mozilla/5.0 https://signin.aws.amazon.com.evil.example/console see www.evil.example"
    body = email.body(_alert(user_agent=evil))
    assert "https://signin.aws.amazon.com.evil.example" not in body
    assert "hxxps://signin[.]aws[.]amazon[.]com[.]evil[.]example/console" in body
    assert "www[.]evil[.]example" in body
    links = body.split("LINKS", 1)[1]
    assert "https://eu-west-1.console.aws.amazon.com/cloudtrailv2/" in links
    assert "hxxp" not in links


def test_defang_leaves_versions_and_addresses_readable() -> None:
    text = "aws-cli/2.17.20 Python/3.11.6 Linux/6.1 from 203.0.113.7"
    assert defang(text) == text
    assert defang("ftp://files.evil.example/x") == "ftp[://]files[.]evil[.]example/x"


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _head_by_char(text: str, limit: int) -> str:
    out, used = [], 0
    for ch in text:
        if used + _units(ch) > limit:
            break
        out.append(ch)
        used += _units(ch)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40) | st.text(st.characters(max_codepoint=127), max_size=40),
    st.integers(-2, 45),
)
def test_ascii_fast_paths_cut_as_the_per_character_count_does(value: str, limit: int) -> None:
    """``width`` and ``_head`` skip the UTF-16 count for ASCII text (issue 25): the same
    widths and cuts as counting every character."""
    from deniedwatch.alerts.text import _head, width

    assert width(value) == _units(value)
    assert _head(value, limit) == _head_by_char(value, limit)
