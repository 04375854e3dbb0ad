"""`deniedwatch scan`: options and wiring; the work is in deniedwatch.scan."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from deniedwatch.cli._app import EXIT_BAD_INPUT, EXIT_FINDINGS, app, err, fail, load_cli_settings
from deniedwatch.cli.athena_cmd import client_factory
from deniedwatch.sources.bounded import MAX_FILE_BYTES, MiB

ATHENA = "Athena (--engine athena)"


@app.command()
def scan(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="CloudTrail log files, folders (walked recursively) or s3://bucket/prefix.",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only events at or after this: 2026-11-01, 2026-11-01T12:00Z or 7d, 12h."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Only events at or before this (same forms as --since; "
            "a bare date includes that whole day)."
        ),
    ] = None,
    account: Annotated[
        list[str] | None, typer.Option(help="Only this account id (repeatable).")
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(help="Only events in this AWS region (repeatable); not the S3 client region."),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table | jsonl | json | csv. Default: table on a terminal, jsonl otherwise.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write findings to this file.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Settings file (TOML). Default: $DENIEDWATCH_CONFIG or ./deniedwatch.toml."
        ),
    ] = None,
    include_suppressed: Annotated[
        bool,
        typer.Option(
            "--include-suppressed", help="Also output denials that suppressions would hide."
        ),
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=0, help="Files decoded in parallel (0: one per CPU).")
    ] = 0,
    max_file_mb: Annotated[
        int,
        typer.Option(
            "--max-file-mb",
            min=1,
            help="Largest log file read, on disk and decompressed (MiB); a bigger one is "
            "named as a bad file. Real CloudTrail files are a few tens of MB at most; "
            "the cap stops gzip bombs in bounded memory.",
        ),
    ] = MAX_FILE_BYTES // MiB,
    fail_on_findings: Annotated[
        bool,
        typer.Option(
            "--fail-on-findings", help=f"Exit {EXIT_FINDINGS} when anything is found (for CI)."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    notify: Annotated[
        bool,
        typer.Option(
            "--notify",
            help="Also send the findings as grouped alerts, routed like the Lambda does: to "
            "the settings' [[destinations]], else to Slack (and to the SNS topic in "
            "$DENIEDWATCH_SNS_TOPIC_ARN, if set).",
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="files: read log files (SOURCES). athena: query the CloudTrail table "
            "(see `deniedwatch athena create-table`).",
            rich_help_panel=ATHENA,
        ),
    ] = "files",
    database: Annotated[
        str, typer.Option(help="Glue database of the table.", rich_help_panel=ATHENA)
    ] = "deniedwatch",
    table: Annotated[
        str, typer.Option(help="The CloudTrail table.", rich_help_panel=ATHENA)
    ] = "cloudtrail_logs",
    workgroup: Annotated[
        str,
        typer.Option(help="Workgroup (its bytes-scanned limit applies).", rich_help_panel=ATHENA),
    ] = "primary",
    output_location: Annotated[
        str | None,
        typer.Option(
            help="s3://… for query results (default: the workgroup's).",
            rich_help_panel=ATHENA,
            show_default=False,
        ),
    ] = None,
    all_time: Annotated[
        bool,
        typer.Option(
            "--all-time",
            help="Allow a query without --since (it reads, and bills, the whole history).",
            rich_help_panel=ATHENA,
        ),
    ] = False,
    print_sql: Annotated[
        bool,
        typer.Option(
            "--print-sql", help="Print the query and exit (no AWS).", rich_help_panel=ATHENA
        ),
    ] = False,
    slack_webhook_url: Annotated[
        str | None,
        typer.Option(
            "--slack-webhook-url",
            envvar="SLACK_WEBHOOK_URL",
            show_default=False,
            help="Incoming webhook for --notify (default: $SLACK_WEBHOOK_URL).",
        ),
    ] = None,
) -> None:
    """Find denied AWS API calls in CloudTrail log files on disk or in S3.

    Exit status: 0 done, 1 findings with --fail-on-findings, 2 usage or AWS error,
    3 some input could not be read (each bad file is named on stderr).
    """
    from deniedwatch import report
    from deniedwatch.scan import FileSource, FindingFilter, ScanRequest, ScanSummary
    from deniedwatch.sources.trailfiles import is_s3, split_s3
    from deniedwatch.timespec import parse_when

    settings = load_cli_settings(config)
    fmt = output_format or ("table" if output is None and sys.stdout.isatty() else "jsonl")
    if fmt not in report.FORMATS:
        fail(escape(f"--format must be one of {', '.join(report.FORMATS)}, not {fmt!r}"))
    now = datetime.now(UTC)
    try:
        start = parse_when(since, now) if since else None
        end = parse_when(until, now, end_of_day=True) if until else None
    except ValueError as exc:
        fail(escape(f"--since/--until: {exc}"))
    if start and end and start > end:
        fail("--since is after --until")
    topic_arn = os.environ.get("DENIEDWATCH_SNS_TOPIC_ARN")
    if notify and not (slack_webhook_url or topic_arn or settings.destinations):
        fail(
            "--notify needs [[destinations]] in the settings, --slack-webhook-url, "
            "SLACK_WEBHOOK_URL or DENIEDWATCH_SNS_TOPIC_ARN"
        )

    for source in sources or ():  # a malformed s3:// URL is a usage error, found early
        if is_s3(source):
            try:
                split_s3(source)
            except ValueError as exc:
                fail(escape(str(exc)))
    wanted = FindingFilter(start, end, frozenset(account or ()), frozenset(region or ()))
    if engine not in ("files", "athena"):
        fail(f"--engine must be files or athena, not {engine!r}")
    if print_sql and engine != "athena":
        fail("--print-sql needs --engine athena")
    summary = ScanSummary()
    doing = "running the Athena query…" if engine == "athena" else "listing log files…"
    working = err.status(doing, spinner="dots")
    if engine == "athena":
        from deniedwatch.cli.athena_cmd import athena_source

        source = athena_source(
            sources, wanted, settings.ruleset, include_suppressed, all_time, working,
            database=database, table=table, workgroup=workgroup, output_location=output_location,
        )  # fmt: skip
        if print_sql:
            print(source.plan.sql)
            for name in source.plan.after_query:  # names are settings text: one line each
                print(f"-- then on the returned rows: suppression {name!r} (no exact SQL form)")
            return
        if not quiet:
            err.print(f"athena: partitions {source.plan.partition_range()}", highlight=False)
    else:
        if not sources:
            fail("give log files, folders or s3:// URLs to scan (or --engine athena)")
        request = ScanRequest(tuple(sources), wanted, include_suppressed, jobs, max_file_mb * MiB)
        source = FileSource(request, settings.ruleset, client_factory("s3"))
    with working if not quiet and err.is_terminal else _null():
        total = source.prepare(summary)

    findings = []
    alertable = []  # --notify: never the suppressed ones
    progress = _progress(quiet, total or 0)
    with progress:
        task = progress.add_task("scanning", total=total)
        for result in source.results():
            summary.add(result)
            for problem in _problems(result):
                # paths and reasons are data, never markup; one line each, to grep
                progress.console.print(f"[yellow]warning:[/] {escape(problem)}", soft_wrap=True)
            findings.extend(result.findings)
            alertable.extend(result.findings)
            findings.extend(result.suppressed_findings)
            progress.advance(task)

    findings.sort(key=lambda f: (f.event_time or "", f.event_id or ""))
    _write(fmt, findings, output, settings.ruleset.account_labels)
    if not quiet and engine == "athena":
        err.print(source.report(summary), highlight=False, soft_wrap=True)
    elif not quiet:
        _print_summary(summary, len(findings))
    if notify:
        from deniedwatch.cli.alert_cmd import report_delivery, send_alerts

        sent = send_alerts(alertable, settings, webhook_url=slack_webhook_url, topic_arn=topic_arn)
        report_delivery(sent)
    if fail_on_findings and summary.findings:
        raise typer.Exit(EXIT_FINDINGS)
    if summary.bad_input:
        raise typer.Exit(EXIT_BAD_INPUT)


def _write(fmt: str, findings: list, output: Path | None, labels: dict[str, str]) -> None:
    if output is None:
        _render(fmt, findings, sys.stdout, labels)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as out:
            _render(fmt, findings, out, labels)
    except OSError as exc:  # a folder, no permission, no such directory, disk full
        fail(escape(f"--output {output}: {exc.strerror or exc}"))


def _render(fmt: str, findings: list, out: Any, labels: dict[str, str]) -> None:
    from deniedwatch import report

    if fmt == "table":
        from rich.console import Console

        if out is sys.stdout:
            console = Console(width=max(Console().width, 160) if not sys.stdout.isatty() else None)
        else:
            console = Console(file=out, width=200)
        if findings:
            console.print(report.table(findings, labels, now=time.time()))
        else:
            console.print("No denied API calls found.")
        return
    writer = {"jsonl": report.write_jsonl, "json": report.write_json, "csv": report.write_csv}[fmt]
    writer(findings, out)


BAD_RECORDS_SHOWN = 5  # per file; the rest are counted


def _problems(result: Any) -> list[str]:
    """A file's warning lines: why it is bad, or which of its records are (by index)."""
    if result.error:
        return [f"{result.location}: {result.error}"]
    lines = [f"{result.location}: {bad}" for bad in result.bad_records[:BAD_RECORDS_SHOWN]]
    if len(result.bad_records) > BAD_RECORDS_SHOWN:
        more = len(result.bad_records) - BAD_RECORDS_SHOWN
        lines.append(f"{result.location}: {more} more bad records")
    return lines


def _progress(quiet: bool, total: int) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal or total < 2,
    )


def _print_summary(summary: Any, shown: int) -> None:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items()))
    suppressed = sum(summary.suppressed.values())
    parts = [
        f"{summary.files} files read" + (f" ({skipped} skipped)" if skipped else ""),
        f"{summary.events} events",
        f"{summary.findings} findings",
        f"{suppressed} suppressed",
    ]
    if summary.bad_files:
        parts.append(f"[yellow]{len(summary.bad_files)} bad files[/]")
    if summary.bad_records:
        parts.append(f"[yellow]{summary.bad_records} bad records[/]")
    err.print("scan: " + ", ".join(parts), highlight=False, soft_wrap=True)
    if summary.files_with_bad_records:
        named = ", ".join(summary.files_with_bad_records)
        err.print(f"  bad records in: {escape(named)}", highlight=False, soft_wrap=True)
    if suppressed:
        detail = ", ".join(f"{rule} {n}" for rule, n in summary.suppressed.most_common())
        err.print(f"  suppressed by: {detail}", highlight=False, soft_wrap=True)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
