"""The Lambda entry point: CloudWatch Logs subscription batch -> alerts. Wiring only.

Settings come from the file named by env ``DENIEDWATCH_CONFIG`` if set, else
from ``deniedwatch/deniedwatch.toml`` inside the function's zip (next to this
module: ``BUNDLED_SETTINGS``), else the built-in defaults. Other environment:
``DENIEDWATCH_SLACK_SECRET_ARN`` or ``SLACK_WEBHOOK_URL`` (Slack),
``DENIEDWATCH_SNS_TOPIC_ARN`` (email), ``DENIEDWATCH_DEDUP_TABLE`` (dedup window
across invocations).

Import path: stdlib, slack_sdk and deniedwatch's core; boto3 only when used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deniedwatch import secrets
from deniedwatch.alerts.dedup import ENV_TABLE, DedupStore, DynamoStore, NullStore
from deniedwatch.alerts.deliver import Channel, deliver
from deniedwatch.alerts.email import ENV_TOPIC_ARN, SnsChannel
from deniedwatch.alerts.group import LogLocation, group_findings
from deniedwatch.alerts.slack import SlackChannel
from deniedwatch.config import ENV_CONFIG, Settings, load_settings
from deniedwatch.finding import Finding
from deniedwatch.metrics import Metrics, log
from deniedwatch.rules import Ruleset, Verdict
from deniedwatch.sources.cwlogs import BadRecord, LogBatch, LogEvent, decode_payload, parse_record

if TYPE_CHECKING:
    from deniedwatch.decode import Decoder

BUNDLED_SETTINGS = Path(__file__).parent / "deniedwatch.toml"
BUNDLED_SETTINGS_ARCNAME = "deniedwatch/deniedwatch.toml"  # its path inside the zip


@dataclass
class Runtime:
    """What one container builds once and reuses across invocations."""

    settings: Settings
    store: DedupStore
    channels: list[Channel]
    decoder: Decoder | None = None  # [explain] decode_authorization_messages


def load_runtime_settings() -> Settings:
    """DENIEDWATCH_CONFIG, else the bundled file, else defaults (never the cwd)."""
    if os.environ.get(ENV_CONFIG):
        return load_settings(os.environ[ENV_CONFIG])
    if BUNDLED_SETTINGS.is_file():
        return load_settings(BUNDLED_SETTINGS)
    return Settings()


def build_runtime(
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    slack_timeout: int = 10,
) -> Runtime:
    """The container's settings, store and channels; waits go through ``sleep``/``clock``."""
    settings = load_runtime_settings()
    a = settings.alerts
    window = a.dedup_window_minutes * 60
    table = os.environ.get(ENV_TABLE)
    store: DedupStore
    if table:
        store = DynamoStore(table, window_seconds=window, threshold=a.threshold)
    else:
        store = NullStore(window_seconds=window, threshold=a.threshold)
        log(
            "config",
            level="warning",
            message=f"{ENV_TABLE} is not set: no dedup across invocations, "
            "every batch posts its own alerts",
        )
    channels: list[Channel] = []
    if secrets.configured():
        channels.append(
            SlackChannel(
                _webhook_url,
                slack_channel=a.slack_channel,
                window_minutes=a.dedup_window_minutes,
                on_rejected=secrets.forget,
                timeout=slack_timeout,
                sleep=sleep,
                clock=clock,
            )
        )
    if topic := os.environ.get(ENV_TOPIC_ARN):
        channels.append(SnsChannel(topic, window_minutes=a.dedup_window_minutes))
    if not channels:
        log(
            "config",
            level="warning",
            message=f"no alert channel: set {secrets.ENV_SECRET_ARN} or {secrets.ENV_WEBHOOK_URL}"
            f" and/or {ENV_TOPIC_ARN}; alerts are only logged",
        )
    for warning in settings.warnings:
        log("config", level="warning", message=warning)
    log(
        "config",
        settings=str(settings.source) if settings.source else "defaults",
        channels=[c.name for c in channels],
        dedup_table=table or None,
        decode_authorization_messages=settings.explain.decode_authorization_messages,
    )
    decoder = None
    if settings.explain.decode_authorization_messages:
        from deniedwatch.decode import Decoder

        decoder = Decoder()
    return Runtime(settings, store, channels, decoder)


def _webhook_url() -> str:
    url = secrets.webhook_url()
    if url is None:
        raise secrets.SecretError("no Slack webhook configured")
    return url


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = build_runtime()
    return _runtime


def reset() -> None:
    """Forget the container's state (tests; a changed environment)."""
    global _runtime
    _runtime = None
    secrets.forget()


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry. Raises on an undecodable payload or a failed delivery (AWS retries)."""
    rt = runtime()
    metrics = Metrics()
    try:
        return process(event, rt, metrics, now=time.time(), time_left=_time_left(context))
    finally:
        metrics.flush()


def _time_left(context: Any) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000) if callable(remaining) else None


def process(
    event: Any,
    rt: Runtime,
    metrics: Metrics,
    *,
    now: float,
    time_left: Callable[[], float] | None = None,
) -> dict[str, Any]:
    batch = decode_payload(event)  # PayloadError propagates: the whole payload is unreadable
    if batch.is_control:
        log("control-message", log_group=batch.log_group)
        return {"status": "control-message"}
    metrics.add("Events", len(batch.events))
    ruleset = rt.settings.ruleset
    findings = [f for e in batch.events if (f := detect(e, ruleset, metrics, batch))]
    alerts = group_findings(
        findings,
        max_examples=rt.settings.alerts.max_examples,
        label=ruleset.label,
        log=LogLocation(os.environ.get("AWS_REGION"), batch.log_group, batch.log_stream),
    )
    if rt.decoder:
        alerts = rt.decoder.enrich_alerts(alerts, time_left)
    metrics.add("Alerts", len(alerts))
    report = deliver(
        alerts,
        channels=rt.channels,
        store=rt.store,
        batch=batch_id(batch),
        now=now,
        metrics=metrics,
        time_left=time_left,
        budget=rt.settings.alerts.budget,
    )
    report.raise_for_failures()
    return {
        "status": "ok",
        "events": len(batch.events),
        "findings": len(findings),
        "alerts": len(alerts),
        "sent": len(report.sent),
        "digests": len(report.digests),
        "held": len(report.held),
    }


def detect(event: LogEvent, ruleset: Ruleset, metrics: Metrics, batch: LogBatch) -> Finding | None:
    """One log event -> a Finding to alert on, or None; a bad record is logged and counted."""
    try:
        record = parse_record(event)
        detection = ruleset.evaluate(record)
    except BadRecord as exc:
        return _bad(event, str(exc), metrics, batch)
    except Exception as exc:  # never let one record sink the batch
        return _bad(event, f"rules failed: {type(exc).__name__}: {exc}"[:300], metrics, batch)
    if detection.verdict is Verdict.SUPPRESSED:
        metrics.add("SuppressedEvents")
        return None
    if detection.verdict is Verdict.DENIED:
        metrics.add("DeniedEvents")
        return detection.finding
    return None


def _bad(event: LogEvent, reason: str, metrics: Metrics, batch: LogBatch) -> None:
    metrics.add("BadRecords")
    log(
        "bad-record",
        level="warning",
        log_event_id=event.id,
        log_group=batch.log_group,
        log_stream=batch.log_stream,
        reason=reason,
    )
    return None


def batch_id(batch: LogBatch) -> str:
    """The same payload (an AWS retry) always gets the same id; another payload never does."""
    parts = [batch.log_group, batch.log_stream]
    for e in batch.events:
        parts.append(e.id or hashlib.sha256(repr(e.message).encode()).hexdigest())
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
