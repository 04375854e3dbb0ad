"""`deniedwatch scan`: options and wiring; the work is in deniedwatch.scan."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from deniedwatch.alerts.text import clean
from deniedwatch.cli import scan_output as shown
from deniedwatch.cli._app import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    WEBHOOK_FLAG_WARNING,
    app,
    err,
    fail,
    load_cli_settings,
    webhook_option,
)
from deniedwatch.cli.athena_cmd import client_factory, report_athena
from deniedwatch.cli.scan_output import escape
from deniedwatch.report import GROUP_ABOVE
from deniedwatch.sources.bounded import MAX_FILE_BYTES, MiB

ATHENA = "Athena (--engine athena)"
_PARSE_ALL = "Parse every file, even those whose bytes hold no denial code (skipped by default)."


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
            help="table | jsonl | json | csv | html (one self-contained page, with -o) | "
            "ocsf (OCSF 1.5.0 Detection Findings, JSON lines). "
            "Default: table on a terminal, jsonl otherwise.",
        ),
    ] = None,
    group: Annotated[
        bool | None,
        typer.Option(
            "--group/--no-group",
            help="table: one row per (account, principal, action, error code) with counts, "
            f"or one row per event. Default: grouped above {GROUP_ABOVE} findings.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write findings to this file (complete or not at all: written aside, then "
            "renamed). Never one of the inputs; a symbolic link only with --force.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Let --output write through a symbolic link.")
    ] = False,
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
    suggest_suppressions: Annotated[
        bool,
        typer.Option(
            "--suggest-suppressions",
            help="Instead of findings, write [[suppress.rule]] TOML for recurring routine "
            "denials (AWS services, scanners, the console, read-only calls seen daily), "
            "each with its count, first/last seen and why; load with --config.",
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
    parse_all: Annotated[bool, typer.Option("--parse-all", help=_PARSE_ALL)] = False,
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
        webhook_option(
            "Incoming webhook for --notify. " + WEBHOOK_FLAG_WARNING + ".",
        ),
    ] = None,
) -> None:
    """Find denied AWS API calls in CloudTrail log files on disk or in S3.

    Exit status: 0 done, 1 findings with --fail-on-findings, 2 usage or AWS error,
    3 some input could not be read (each bad file is named on stderr).
    """
    from deniedwatch import report
    from deniedwatch.cli.outfile import OutputRefused, format_for
    from deniedwatch.finding import with_history_note
    from deniedwatch.scan import FileSource, FindingFilter, ScanRequest, ScanSummary, unique
    from deniedwatch.sources.trailfiles import is_s3, split_s3
    from deniedwatch.timespec import parse_when

    settings = load_cli_settings(config)
    try:
        fmt = format_for(output, output_format, sys.stdout.isatty())
    except OutputRefused as exc:
        fail(escape(str(exc)))
    if bad := [a for a in account or () if not (len(a) == 12 and a.isdigit())]:
        fail(escape(f"--account {bad[0]!r} is not an AWS account id (12 digits)"))
    if fmt not in report.FORMATS:
        fail(escape(f"--format must be one of {', '.join(report.FORMATS)}, not {fmt!r}"))
    if suggest_suppressions and output_format:
        fail("--suggest-suppressions writes TOML: leave out --format")
    if fmt == "html" and output is None and sys.stdout.isatty():
        fail("--format html writes a file: add -o report.html")
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
            "DENIEDWATCH_SLACK_WEBHOOK_URL or DENIEDWATCH_SNS_TOPIC_ARN"
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
    working = shown.status(quiet, doing)
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
        request = replace(request, parse_all=parse_all)
        source = FileSource(request, settings.ruleset, client_factory("s3"))
    with working:
        total = source.prepare(summary)
    if output is not None:  # checked before any file is read
        inputs = [*(sources or ()), *(tf.location for tf in getattr(source, "files", ()))]
        output = shown.checked_output(output, force, inputs)

    findings = []
    alertable = []  # --notify: never the suppressed ones
    progress = shown.progress(quiet, total or 0)
    with progress:
        task = progress.add_task("scanning", total=total)
        for result in source.results():
            summary.add(result)
            for problem in shown.problems(result):
                # paths and reasons are data, never markup or escape sequences; one line
                # each, to grep
                progress.console.print(
                    f"[yellow]warning:[/] {escape(clean(problem))}", soft_wrap=True
                )
            findings.extend(result.findings)
            alertable.extend(result.findings)
            findings.extend(result.suppressed_findings)
            progress.advance(task)

    if engine == "files" and not (summary.files or summary.skipped or summary.bad_files):
        where = ", ".join(clean(s) for s in sources or ())
        fail(escape(f"no CloudTrail log files found in {where}"), EXIT_BAD_INPUT)
    findings, summary.duplicates = unique(findings)
    alertable, dropped = unique(alertable)
    summary.findings -= dropped
    # Event history keeps 90 days: an older event's console link says so (every format).
    now = time.time()
    findings = [with_history_note(f, now) for f in findings]
    alertable = [with_history_note(f, now) for f in alertable]
    findings.sort(key=lambda f: (f.event_time or "", f.event_id or ""))
    if suggest_suppressions:
        fmt = "suggest"
        findings = sorted(alertable, key=lambda f: (f.event_time or "", f.event_id or ""))
    suppressed = frozenset(f.event_id for f in findings) - {f.event_id for f in alertable}
    view = shown.View(fmt, settings.ruleset.account_labels, group, summary, settings, suppressed)
    shown.write(view, findings, output)
    if not quiet and engine == "athena":
        report_athena(source, summary)
    elif not quiet:
        shown.print_summary(summary)
    if notify:
        from deniedwatch.cli.alert_cmd import report_delivery, send_alerts

        sent = send_alerts(alertable, settings, webhook_url=slack_webhook_url, topic_arn=topic_arn)
        report_delivery(sent)
    if fail_on_findings and summary.findings:
        raise typer.Exit(EXIT_FINDINGS)
    if summary.bad_input:
        raise typer.Exit(EXIT_BAD_INPUT)
