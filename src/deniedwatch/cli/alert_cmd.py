"""`deniedwatch test-alert`, and the alert sending that `scan --notify` shares with it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deniedwatch.cli._app import app, err, fail, load_cli_settings

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
) -> DeliveryReport:
    """Group findings and deliver them like the Lambda does, without cross-run dedup.

    No dedup store here on purpose: alerts from a scan of old logs must not mark
    groups as posted and silence the live path.
    """
    from deniedwatch import secrets
    from deniedwatch.alerts.dedup import NullStore
    from deniedwatch.alerts.deliver import Channel, deliver
    from deniedwatch.alerts.email import SnsChannel
    from deniedwatch.alerts.group import group_findings
    from deniedwatch.alerts.slack import SlackChannel

    a = settings.alerts
    channels: list[Channel] = []
    if webhook_url:
        try:
            url = secrets.parse_secret(webhook_url)
        except secrets.SecretError:
            fail("the Slack webhook URL must be an http(s) URL")
        channels.append(SlackChannel(lambda: url, slack_channel=a.slack_channel))
    if topic_arn:
        channels.append(SnsChannel(topic_arn))
    alerts = group_findings(findings, max_examples=a.max_examples, label=settings.ruleset.label)
    batch = hashlib.sha256(repr([f.event_id for f in findings]).encode()).hexdigest()[:32]
    return deliver(
        alerts,
        channels=channels,
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
        f"notify: {len(report.sent)} alerts sent"
        + (f", {len(report.held)} below the threshold" if report.held else ""),
        highlight=False,
    )
    if report.failures:
        channel, reason = report.failures[0]
        fail(f"{len(report.failures)} alert deliveries failed; {channel}: {escape(reason)}")


@app.command("test-alert")
def test_alert(
    slack_webhook_url: Annotated[
        str,
        typer.Option(
            "--slack-webhook-url",
            envvar="SLACK_WEBHOOK_URL",
            prompt="Slack incoming webhook URL",
            hide_input=True,
            show_default=False,
            help="Incoming webhook to post to (default: $SLACK_WEBHOOK_URL; asked if missing).",
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option(help="Settings file (TOML) for account labels and the channel name."),
    ] = None,
) -> None:
    """Send one sample alert (a bundled AccessDenied record) to Slack, to see the message."""
    from deniedwatch.finding import Finding

    settings = load_cli_settings(config)
    finding = Finding.from_record(sample_record())
    report = send_alerts([finding], settings, webhook_url=slack_webhook_url, threshold=1)
    report_delivery(report)
    err.print("sample alert sent: check the channel", highlight=False)
