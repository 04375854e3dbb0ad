"""The CLI as a new user meets it (issue 23, items 10-14): outputs that do what their
name says, empty results that say why, duplicates counted once, help that keeps every
word, and one clear line when Slack cannot be reached."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from deniedwatch.alerts import retry as retry_module
from deniedwatch.cli import app
from dwtest import EXAMPLE_CONFIG, EXAMPLES

CLI = Path(sys.executable).with_name("deniedwatch")


# ---- 10: outputs that surprise --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("out.html", lambda text: text.lstrip().lower().startswith("<!doctype html")),
        ("out.csv", lambda text: text.startswith('"event_id"')),
        ("out.json", lambda text: isinstance(json.loads(text), list)),
        ("out.jsonl", lambda text: all(json.loads(x) for x in text.splitlines())),
    ],
)
def test_the_output_format_follows_the_extension(cli, tmp_path: Path, name, check) -> None:
    out = tmp_path / name
    result = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    assert check(out.read_text())


def test_a_format_that_contradicts_the_extension_is_refused(cli, tmp_path: Path) -> None:
    result = cli("scan", EXAMPLES, "-o", tmp_path / "out.html", "-f", "jsonl")
    assert result.exit_code == 2
    assert "ends in .html (html) but --format is jsonl" in result.stderr
    assert not (tmp_path / "out.html").exists()


def test_a_closed_pipe_is_not_a_finding_and_the_summary_still_shows() -> None:
    scan = f"'{CLI}' scan '{EXAMPLES}' --config '{EXAMPLE_CONFIG}' -f jsonl | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", scan], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert "scan: " in done.stderr and "Traceback" not in done.stderr


def test_csv_writes_booleans_as_json_does(cli) -> None:
    result = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-f", "csv", "-q")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    shown = {r["denial_explicit"] for r in rows}
    assert shown <= {"true", "false", ""} and "true" in shown
    assert "True" not in result.stdout and "False" not in result.stdout


def test_counts_are_singular_when_one(cli, tmp_path: Path) -> None:
    one = next(
        p
        for p in Path(EXAMPLES).rglob("*.json.gz")
        if "Digest" not in p.name and "Insight" not in p.name
    )
    result = cli("scan", one, "-f", "jsonl")
    assert "1 file read" in result.stderr and "1 files" not in result.stderr


# ---- 11: empty results that look like success ------------------------------------------


def test_a_folder_without_log_files_is_bad_input(cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("scan", tmp_path / "empty", "-f", "table")
    assert result.exit_code == 3
    assert "no CloudTrail log files found in" in result.stderr
    assert "No denied API calls found" not in result.stdout


@pytest.mark.parametrize("bad", ["12345", "1111222233334", "prod"])
def test_an_account_that_is_no_account_id_is_an_error(cli, bad: str) -> None:
    result = cli("scan", EXAMPLES, "--account", bad)
    assert result.exit_code == 2 and "is not an AWS account id (12 digits)" in result.stderr


def test_region_and_account_filters_say_they_left_everything_out(cli, tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"  # no account or region in the path: read, then filtered
    findings = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-f", "jsonl", "-q").stdout
    records = [json.loads(x) for x in findings.splitlines()]
    assert records
    ours = [r for r in _records() if r["eventID"] in {f["event_id"] for f in records}]
    export.write_text("\n".join(json.dumps(r) for r in ours) + "\n")
    result = cli("scan", export, "--region", "ap-south-2", "-f", "table")
    assert result.exit_code == 0
    assert f"{len(ours)} denials left out by --region" in result.stderr
    assert "--since" not in result.stderr
    by_path = cli("scan", EXAMPLES, "--region", "ap-south-2", "-f", "table")
    assert "left unread by --region (named in their paths)" in by_path.stderr
    assert "dated" not in by_path.stderr


def _records() -> list[dict]:
    import gzip

    out: list[dict] = []
    for path in Path(EXAMPLES).rglob("*.json.gz"):
        if "Digest" in path.name or "Insight" in path.name:
            continue
        out += json.loads(gzip.decompress(path.read_bytes()))["Records"]
    return out


# ---- 12: duplicates counted twice ------------------------------------------------------


def test_the_same_events_in_files_and_an_export_are_counted_once(cli, tmp_path: Path) -> None:
    alone = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-f", "jsonl", "-q").stdout
    ids = [json.loads(x)["event_id"] for x in alone.splitlines()]
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(json.dumps(r) for r in _records()) + "\n")
    both = cli("scan", EXAMPLES, export, "--config", EXAMPLE_CONFIG, "-f", "jsonl")
    found = [json.loads(x)["event_id"] for x in both.stdout.splitlines()]
    assert sorted(found) == sorted(ids) and len(found) == len(set(found))
    # every finding was read twice: once from the files, once from the export
    assert f"{len(ids)} duplicates dropped (the same eventID, account and region)" in both.stderr
    assert f"{len(ids)} findings" in both.stderr


# ---- 13: the help loses words ----------------------------------------------------------


def _commands() -> list[tuple[str, click.Command]]:
    group = typer.main.get_command(app)
    ctx = click.Context(group)
    return [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]


@pytest.mark.parametrize("width", [80, 120])
def test_every_help_keeps_its_words_at(cli, monkeypatch, width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    for name, command in _commands():
        text = cli(name, "--help").stdout
        assert text.startswith("Usage:"), (name, text[:200])
        assert "[]" not in text and "\\[" not in text, (name, text)
        assert not re.search(r"<(str|bool|int|float|path|list\[[a-z]+\])>", text), (name, text)
        assert max(len(line) for line in text.splitlines()) <= width, name
        for param in command.params:
            for opt in [*param.opts, *param.secondary_opts]:
                if opt.startswith("-"):
                    assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), (name, opt)
            if isinstance(param, click.Option) and param.envvar:
                for var in [param.envvar] if isinstance(param.envvar, str) else param.envvar:
                    assert var in text, (name, var)


# ---- 14: test-alert with an unreachable webhook ----------------------------------------


def test_unreachable_webhook_is_one_line_that_says_what_to_check(cli, monkeypatch) -> None:
    monkeypatch.setattr(retry_module, "BACKOFF", (0.0, 0.0, 0.0))
    monkeypatch.setattr(retry_module, "POST_INTERVAL", 0.0)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/services/T0/B0/x")
    result = cli("test-alert")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Failed to send a request" not in result.stderr
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Slack unreachable" in errors[0] and "check the webhook URL" in errors[0]
    assert "/services/" not in result.stderr
