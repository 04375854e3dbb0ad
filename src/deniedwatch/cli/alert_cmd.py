"""`deniedwatch test-alert` and `deniedwatch routes`, and the alert sending `scan --notify`
shares with them (through the one pipeline factory, ``pipeline.py``)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deniedwatch.cli._app import (
    WEBHOOK_FLAG_WARNING,
    app,
    err,
    fail,
    load_cli_settings,
    webhook_option,
)

if TYPE_CHECKING:
    from deniedwatch.alerts.deliver import DeliveryReport
    from deniedwatch.config import Settings
    from deniedwatch.finding import Finding


def sample_record() -> dict[str, Any]:
    """The bundled, realistic AccessDenied CloudTrail record."""
    text = resources.files("deniedwatch").joinpath("data/sample_record.json").read_text("utf-8")
    return json.loads(text)


def send_alerts(
    findings: Sequence[Finding],
    settings: Settings,
    *,
    webhook_url: str | None,
    topic_arn: str | None = None,
    threshold: int | None = None,
    only: str | None = None,
    channels_out: list[Any] | None = None,
) -> DeliveryReport:
    """Group findings and deliver them like the Lambda does, without cross-run dedup.

    No dedup store here on purpose: alerts from a scan of old logs must not mark
    groups as posted and silence the live path.
    """
    from deniedwatch import secrets
    from deniedwatch.alerts.dedup import NullStore
    from deniedwatch.alerts.group import group_findings
    from deniedwatch.pipeline import PipelineError, build_pipeline

    a = settings.alerts
    overrides = {}
    if webhook_url and not settings.destinations:
        try:
            overrides[secrets.LEGACY_DESTINATION] = secrets.parse_secret(webhook_url)
        except secrets.SecretError:
            fail("the Slack webhook URL must be an http(s) URL")
    try:
        pipeline = build_pipeline(
            settings,
            only=only,
            secret_overrides=overrides,
            webhook=bool(webhook_url),
            topic_arn=topic_arn,
        )
    except PipelineError as exc:
        fail(str(exc))
    if channels_out is not None:  # test-alert: what each channel says it created
        channels_out.extend(pipeline.channels)
    alerts = group_findings(findings, max_examples=a.max_examples, label=settings.ruleset.label)
    batch = hashlib.sha256(repr([f.event_id for f in findings]).encode()).hexdigest()[:32]
    return pipeline.deliver(
        alerts,
        store=NullStore(threshold=a.threshold if threshold is None else threshold),
        batch=batch,
        now=time.time(),
        write=lambda _line: None,  # stdout may carry the scan's JSON lines
        budget=a.budget,
    )


def report_delivery(report: DeliveryReport) -> None:
    """One line on stderr; exit 2 when something did not go out (the reason holds no secret)."""
    from rich.markup import escape

    err.print(
        f"notify: {len(report.sent)} alert{'' if len(report.sent) == 1 else 's'} sent"
        + (f", {len(report.held)} below the threshold" if report.held else ""),
        highlight=False,
    )
    if report.failures:
        channel, reason = report.failures[0]
        fail(f"{len(report.failures)} alert deliveries failed; {channel}: {escape(reason)}")


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (TOML): destinations, routes, labels."),
]


@app.command("test-alert")
def test_alert(
    destination: Annotated[
        str | None,
        typer.Option(
            "--destination",
            "-d",
            show_default=False,
            help="Send to this [[destinations]] entry only (its secret from its url_env).",
        ),
    ] = None,
    slack_webhook_url: Annotated[
        str | None,
        webhook_option(
            "Without [[destinations]]: the incoming webhook to post to "
            "(asked if missing). " + WEBHOOK_FLAG_WARNING + " or the prompt.",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Send one sample alert (a bundled AccessDenied record), to see the message arrive."""
    from deniedwatch.finding import Finding

    settings = load_cli_settings(config)
    if destination is None and not settings.destinations and not slack_webhook_url:
        slack_webhook_url = typer.prompt("Slack incoming webhook URL", hide_input=True)
    finding = Finding.from_record(sample_record())
    channels: list[Any] = []
    report = send_alerts(
        [finding],
        settings,
        webhook_url=slack_webhook_url,
        threshold=1,
        only=destination,
        channels_out=channels,
    )
    if not report.sent and not report.failures:
        fail("no destination received the sample: check the settings' [[destinations]]")
    report_delivery(report)
    where = f"destination {destination}" if destination else "the destinations"
    err.print(f"sample alert sent: check {where}", highlight=False)
    for channel in channels:  # a finding store (Security Hub): the id to look it up by
        for finding_id in getattr(channel, "imported", ()):
            typer.echo(f"{channel.name}: imported finding {finding_id}")


@app.command("routes")
def routes(
    config: ConfigOpt = None,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            show_default=False,
            help="A CloudTrail record (JSON) to route instead of the bundled samples.",
        ),
    ] = None,
) -> None:
    """Show the destinations and routes, and where sample findings would go."""
    from rich.table import Table
    from rich.text import Text

    from deniedwatch.alerts.channels.registry import channel_type
    from deniedwatch.finding import Finding
    from deniedwatch.pipeline import router, sample_destinations

    settings = load_cli_settings(config)
    destinations = sample_destinations(settings)
    out = typer.echo
    kinds = Table(title="destinations", title_justify="left", header_style="bold")
    for column in ("name", "type", "secret from", "default"):
        kinds.add_column(column)
    the_router = router(settings, destinations)
    for d in destinations:
        spec = channel_type(d.type)
        source = "-" if spec.secret is None else (f"env {d.url_env}" if d.url_env else "secret")
        kinds.add_row(d.name, d.type, source, "yes" if d.name in the_router.defaults else "")
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    console.print(kinds)
    if not settings.routes:
        out("no [[routes]]: every alert goes to the default destinations")
    samples = _samples(record)
    table = Table(title="where sample findings go", title_justify="left", header_style="bold")
    for column in ("finding", "severity", "routes", "destinations"):
        table.add_column(column, overflow="fold")
    for label, rec in samples:
        f = Finding.from_record(rec)
        decision = the_router.decide(f)
        table.add_row(
            Text(label),
            decision.severity,
            ", ".join(decision.routes),
            ", ".join(decision.destinations) or "(none: logged only)",
        )
    console.print(table)


def _samples(record: Path | None) -> list[tuple[str, dict[str, Any]]]:
    """The finding(s) `routes` shows: the given record, else the bundled sample and
    variants of it (root, another account, a high-impact write)."""
    from deniedwatch.cli._app import CliError

    if record is not None:
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"{record}: not a readable JSON CloudTrail record: {exc}") from None
        records = data.get("Records", [data]) if isinstance(data, dict) else data
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise CliError(f"{record}: expected a record object or {{'Records': [...]}}")
        return [(_label(r), r) for r in records]
    base = sample_record()
    from deniedwatch import partition

    root = json.loads(json.dumps(base))
    account = base["recipientAccountId"]
    root_arn = partition.arn(base.get("awsRegion"), f"iam::{account}:root")
    root["userIdentity"] = {"type": "Root", "arn": root_arn}
    other = json.loads(json.dumps(base))
    other["userIdentity"] = {**base["userIdentity"], "accountId": "999988887777"}
    write = json.loads(json.dumps(base))
    write.update(eventSource="iam.amazonaws.com", eventName="CreateAccessKey")
    return [(_label(r), r) for r in (base, root, other, write)]


def _label(r: dict[str, Any]) -> str:
    from deniedwatch.alerts import wording
    from deniedwatch.finding import Finding

    f = Finding.from_record(r)
    return f"{wording.what(f)} by {wording.who_short(f)} in {f.account_id or '?'}"
