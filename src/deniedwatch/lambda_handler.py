"""The Lambda entry point: a live batch (CloudWatch Logs subscription, SQS batch of
EventBridge envelopes, one EventBridge event) -> alerts; the stack's scheduled flush of
closed dedup windows (``sources.invocation.FLUSH_EVENT``); a click on an alert's button
(the function URL, ``triage/endpoint.py``). Decodes first, then branches on the shape
(``sources/invocation.py``). Wiring only.

Settings come from the file named by env ``DENIEDWATCH_CONFIG`` if set, else
from ``deniedwatch/deniedwatch.toml`` inside the function's zip (next to this
module: ``BUNDLED_SETTINGS``), else the built-in defaults. The settings'
``[[destinations]]``/``[[routes]]`` decide where alerts go (``pipeline.py``);
their secrets come from ``DENIEDWATCH_SECRETS_ARN`` (or each ``url_env``). Without
destinations, today's environment: ``DENIEDWATCH_SLACK_SECRET_ARN`` or
``SLACK_WEBHOOK_URL`` (Slack), ``DENIEDWATCH_SNS_TOPIC_ARN`` (email). Also
``DENIEDWATCH_DEDUP_TABLE`` (dedup window across invocations),
``DENIEDWATCH_LIVE_SOURCE`` (``both``: dedup across the two live paths by eventID).

Import path: stdlib and deniedwatch's core; slack_sdk when a Slack destination
posts, boto3 only when used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from deniedwatch import secrets
from deniedwatch.alerts.channels.base import Channel
from deniedwatch.alerts.dedup import ENV_TABLE, DedupStore, DynamoStore, NullStore
from deniedwatch.alerts.deliver import flush_windows
from deniedwatch.alerts.group import Alert, GroupKey, LogLocation, group_records
from deniedwatch.alerts.sightings import (
    BOTH,
    ENV_LIVE_SOURCE,
    DynamoSightings,
    EveryPath,
    Sightings,
    first_sightings,
    tamper_record,
)
from deniedwatch.config import BUNDLED_SETTINGS_ARCNAME, ENV_CONFIG, Settings, load_settings
from deniedwatch.intake import Detected, detect
from deniedwatch.metrics import Metrics, log
from deniedwatch.pipeline import Pipeline, build_pipeline
from deniedwatch.sources.cwlogs import PayloadError
from deniedwatch.sources.invocation import (
    HttpResponse,
    Invocation,
    PartialBatchResponse,
    Shape,
    decode_invocation,
    message_batch_id,
)
from deniedwatch.triage.mutes import hide_muted
from deniedwatch.triage.store import MemoryMutes, MuteStore, MuteStoreError, mute_store

if TYPE_CHECKING:
    from deniedwatch.decode import Decoder

# the zip puts the file beside this module (config.BUNDLED_SETTINGS_ARCNAME)
BUNDLED_SETTINGS = Path(__file__).parent / Path(BUNDLED_SETTINGS_ARCNAME).name


@dataclass
class Runtime:
    """What one container builds once and reuses across invocations."""

    settings: Settings
    store: DedupStore
    pipeline: Pipeline
    sightings: Sightings = field(default_factory=EveryPath)  # live_source = both
    wall_clock: Callable[[], float] = time.time  # "now" for the dedup window
    decoder: Decoder | None = None  # [explain] decode_authorization_messages
    mutes: MuteStore = field(default_factory=MemoryMutes)  # set from Slack (docs/triage.md)

    @property
    def channels(self) -> list[Channel]:
        return self.pipeline.channels


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
    wall_clock: Callable[[], float] = time.time,
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
    pipeline = build_pipeline(settings, sleep=sleep, clock=clock, timeout=slack_timeout)
    if not pipeline.channels:
        log(
            "config",
            level="warning",
            message="no alert destination: add [[destinations]] to the settings, or set "
            f"{secrets.ENV_SECRET_ARN} / {secrets.ENV_WEBHOOK_URL} and/or "
            "DENIEDWATCH_SNS_TOPIC_ARN; alerts are only logged",
        )
    for warning in settings.warnings:
        log("config", level="warning", message=warning)
    live_source = os.environ.get(ENV_LIVE_SOURCE) or "cloudwatch-logs"
    sightings: Sightings = EveryPath()
    if live_source == BOTH and isinstance(store, DynamoStore):
        sightings = DynamoSightings(store)
    elif live_source == BOTH:
        log(
            "config",
            level="warning",
            message=f"{ENV_LIVE_SOURCE}=both without {ENV_TABLE}: "
            "a denial both paths deliver is alerted twice",
        )
    log(
        "config",
        settings=str(settings.source) if settings.source else "defaults",
        channels=[c.name for c in pipeline.channels],
        routes=[r.name for r in settings.routes],
        dedup_table=table or None,
        live_source=live_source,
        decode_authorization_messages=settings.explain.decode_authorization_messages,
    )
    decoder = None
    if settings.explain.decode_authorization_messages:
        from deniedwatch.decode import Decoder

        decoder = Decoder()
    mutes = mute_store(store)
    return Runtime(settings, store, pipeline, sightings, wall_clock, decoder, mutes)


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


class Summary(TypedDict, total=False):
    """What an invocation did, logged and (unless the shape has its own answer) returned."""

    status: str  # ok, flushed, control-message, scheduled-event
    events: int
    findings: int
    alerts: int
    sent: int
    digests: int
    held: int
    summaries: int


@dataclass(frozen=True)
class Outcome:
    """``process``'s result: the summary, and for a shape that reports item failures (SQS),
    the messages to give back (``None`` for every other shape: a failure there raises)."""

    summary: Summary
    failed_messages: tuple[str, ...] | None = None


Response = Summary | PartialBatchResponse | HttpResponse


def handler(event: Any, context: Any = None) -> Response:
    """AWS Lambda entry: decode, then branch on the shape. Raises on an undecodable payload
    or a failed delivery (AWS retries)."""
    rt = runtime()
    metrics = Metrics()
    try:
        invocation = decode_invocation(event)  # PayloadError propagates: nothing readable
        now, time_left = rt.wall_clock(), _time_left(context)
        if invocation.shape is Shape.FUNCTION_URL:
            from deniedwatch.triage.endpoint import answer  # lazily: only for clicks

            return answer(invocation, rt, metrics, now=now)
        if invocation.shape is Shape.FLUSH:
            return flush(rt, metrics, now=now, time_left=time_left)
        outcome = process(invocation, rt, metrics, now=now, time_left=time_left)
    finally:
        metrics.flush()
    return lambda_response(outcome)


def lambda_response(outcome: Outcome) -> Summary | PartialBatchResponse:
    """What Lambda gets back. For an SQS batch, the partial batch response alone, in the
    documented syntax; its summary goes to the log instead.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
    if outcome.failed_messages is None:
        return outcome.summary
    log("batch-result", **outcome.summary, failed_messages=len(outcome.failed_messages))
    return {"batchItemFailures": [{"itemIdentifier": m} for m in outcome.failed_messages]}


def flush(
    rt: Runtime, metrics: Metrics, *, now: float, time_left: Callable[[], float] | None = None
) -> Summary:
    """The scheduled run (``FLUSH_EVENT``): a summary of what closed dedup windows held and
    never announced, to the destinations each group's routes select."""
    report = flush_windows(
        channels=rt.pipeline.channels,
        store=rt.store,
        now=now,
        metrics=metrics,
        time_left=time_left,
        select=rt.pipeline.select,
    )
    report.raise_for_failures()
    return {
        "status": "flushed",
        "summaries": len(report.digests),
        "held": sum(d.count for d in report.digests),
    }


def _time_left(context: Any) -> Callable[[], float] | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000) if callable(remaining) else None


def process(
    invocation: Invocation,
    rt: Runtime,
    metrics: Metrics,
    *,
    now: float,
    time_left: Callable[[], float] | None = None,
) -> Outcome:
    """A decoded batch -> alerts delivered. Control messages and schedules that are not the
    stack's flush are acknowledged and logged, nothing more."""
    if invocation.shape is Shape.CONTROL:
        log("control-message", log_group=invocation.log_group)
        return Outcome({"status": "control-message"})
    if invocation.shape is Shape.SCHEDULE:
        # Not FLUSH_EVENT: a schedule the stack did not make. Acknowledged, never a flush.
        log("scheduled-event", message="not the stack's flush input: nothing to do")
        return Outcome({"status": "scheduled-event"})
    if invocation.path is None:
        raise PayloadError(f"{invocation.shape.value} carries no records")
    ruleset = rt.settings.ruleset
    detected = detect(invocation, ruleset, metrics)
    path = invocation.path.value
    keep, tampered = first_sightings(
        rt.sightings, [(d.event_id, d.record) for d in detected], path, now=now, metrics=metrics
    )
    # an eventID claimed with another record: both copies are alerted, and the mismatch
    forged = [tamper_record(d.record, path) for d in detected if d.event_id in tampered]
    detected = [d for d in detected if not d.event_id or d.event_id in keep]
    detected = unmuted(rt, detected, now=now, metrics=metrics)
    # raw records: a Finding is built only for what an alert shows (group_records)
    alerts = group_records(
        [d.record for d in detected] + forged,
        max_examples=rt.settings.alerts.max_examples,
        label=ruleset.label,
        log=LogLocation(os.environ.get("AWS_REGION"), invocation.log_group, invocation.log_stream),
        reads=rt.pipeline.reads,  # one severity member per distinct value of what they read
    )
    if rt.decoder:
        alerts = rt.decoder.enrich_alerts(alerts, time_left)
    metrics.add("Alerts", len(alerts))
    report = rt.pipeline.deliver(
        alerts,
        store=rt.store,
        batch=invocation.batch_id,
        now=now,
        metrics=metrics,
        time_left=time_left,
        budget=rt.settings.alerts.budget,
        alert_batch=message_batches(detected) if invocation.reports_item_failures else None,
    )
    summary: Summary = {
        "status": "ok",
        "events": len(invocation),
        "findings": len(detected),
        "alerts": len(alerts),
        "sent": len(report.sent),
        "digests": len(report.digests),
        "held": len(report.held),
    }
    if invocation.reports_item_failures:
        # Only the messages behind a failed alert come back; the rest are deleted.
        # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
        failed = failed_messages(detected, {a.key for a in report.failed})
        return Outcome(summary, tuple(failed))
    report.raise_for_failures()
    return Outcome(summary)


def unmuted(
    rt: Runtime, detected: list[Detected], *, now: float, metrics: Metrics
) -> list[Detected]:
    """The denials no mute set from Slack covers (docs/triage.md), applied like the
    settings' suppressions: counted (MutedEvents) and logged per mute. Only while a
    signing secret is configured; a store error fails open (the denials are alerted)."""
    if not detected or secrets.slack_signing_secret() is None:
        return detected
    try:
        mutes = rt.mutes.active(now)
    except MuteStoreError as exc:
        metrics.add("DedupStoreErrors")
        log("mutes-unreadable", level="error", error=str(exc)[:300])
        return detected
    kept, hidden = hide_muted(detected, mutes, lambda d: d.key.action, now)
    for mute_id, count in sorted(hidden.items()):
        log("muted", mute=mute_id, denials=count)
    metrics.add("MutedEvents", sum(hidden.values()))
    return kept


def message_batches(detected: list[Detected]) -> Callable[[Alert], str]:
    """Per alert, the id of the SQS messages behind it: what comes back when it fails."""
    members: dict[GroupKey, set[str]] = {}
    for d in detected:
        members.setdefault(d.key, set()).add(d.item.message_id or "")
    return lambda alert: message_batch_id(sorted(members.get(alert.key, ())))


def failed_messages(detected: list[Detected], failed: set[GroupKey]) -> list[str]:
    """The SQS messages whose denial is in an alert that did not reach every channel."""
    ids = (d.item.message_id for d in detected if d.key in failed)
    return sorted({m for m in ids if m})
