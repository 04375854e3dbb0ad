"""Alerts -> channels (Slack, SNS email), through the dedup store.

For each alert: ask the store whether it goes out (fail open when the store
errs), send it to every channel a previous try did not reach, and tell the
store what was reached, so an AWS retry of a failed invocation re-sends only
the rest. ``DeliveryReport.raise_for_failures`` then makes the invocation fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from deniedwatch.alerts.dedup import Decision, DedupStore, DedupStoreError
from deniedwatch.alerts.group import Alert
from deniedwatch.metrics import Metrics, Writer, stdout_line
from deniedwatch.metrics import log as log_line

# Stop starting new posts when the invocation has less than this left (seconds).
MIN_TIME_LEFT = 10.0


class DeliveryFailed(RuntimeError):
    """One alert could not reach one channel; the text holds no secret."""


class DeliveryError(RuntimeError):
    """Some alerts did not go out: the invocation fails so AWS retries it."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver or raise DeliveryFailed."""
        ...


@dataclass
class DeliveryReport:
    sent: list[Alert] = field(default_factory=list)  # alerts that reached >= 1 channel now
    held: list[Alert] = field(default_factory=list)  # kept quiet by window / threshold
    deliveries: int = 0  # (alert, channel) pairs delivered now
    failures: list[tuple[str, str]] = field(default_factory=list)  # (channel, reason)
    failed: list[Alert] = field(default_factory=list)  # alerts some channel did not get
    store_errors: int = 0

    def raise_for_failures(self) -> None:
        if self.failures:
            channels = sorted({c for c, _ in self.failures})
            raise DeliveryError(
                f"{len(self.failures)} alert deliveries failed ({', '.join(channels)}): "
                f"{self.failures[0][1]}"
            )


def deliver(
    alerts: Iterable[Alert],
    *,
    channels: Sequence[Channel],
    store: DedupStore,
    batch: str | Callable[[Alert], str],
    now: float,
    metrics: Metrics | None = None,
    time_left: Callable[[], float] | None = None,
    write: Writer = stdout_line,
) -> DeliveryReport:
    """Send what the store admits; never raises for a channel or store failure.

    Each alert and each failure is also a JSON log line through ``write`` (stdout
    in the Lambda: the last resort when every channel is down). ``batch`` names what
    an AWS retry delivers again: the payload, or per alert (an SQS redelivery brings
    back the messages of the failed alert, not the whole batch).
    """
    report = DeliveryReport()
    batch_of = batch if callable(batch) else (lambda _: batch)

    def log(kind: str, **fields: object) -> None:
        log_line(kind, write, **fields)

    broken: dict[str, str] = {}  # channel -> why it is skipped for the rest of this batch
    for alert in alerts:
        batch = batch_of(alert)
        try:
            decision = store.admit(alert, batch=batch, now=now)
        except DedupStoreError as exc:
            report.store_errors += 1
            log("dedup-store-error", level="error", error=str(exc), failing_open=True)
            decision = Decision(True, reason="store-error")
        if not decision.post:
            report.held.append(alert)
            continue
        alert = alert.with_held_back(decision.held_back)
        log("alert", decision=decision.reason, **_summary(alert))
        reached: list[str] = []
        failed = False
        for channel in channels:
            if channel.name in decision.delivered:
                continue
            reason = broken.get(channel.name)
            if reason is None and time_left is not None and time_left() < MIN_TIME_LEFT:
                reason = "out of time: left for the retry"
            if reason is None:
                try:
                    channel.send(alert)
                except DeliveryFailed as exc:
                    reason = broken[channel.name] = str(exc)
            if reason is None:
                reached.append(channel.name)
                continue
            failed = True
            report.failures.append((channel.name, reason))
            log(
                "delivery-failed",
                level="error",
                channel=channel.name,
                reason=reason,
                group=alert.key.digest(),
            )
        report.deliveries += len(reached)
        if failed:
            report.failed.append(alert)
        if reached:
            report.sent.append(alert)
        try:
            store.delivered(
                alert, batch=batch, channels=tuple(reached), complete=not failed, now=now
            )
        except DedupStoreError as exc:
            report.store_errors += 1
            log("dedup-store-error", level="error", error=str(exc))
    if metrics is not None:
        metrics.add("AlertsHeld", len(report.held))
        metrics.add("AlertsDelivered", report.deliveries)
        metrics.add("DeliveryFailures", len(report.failures))
        metrics.add("DedupStoreErrors", report.store_errors)
    return report


def _summary(alert: Alert) -> dict[str, object]:
    """The alert as a log line: the last resort when every channel is down."""
    f = alert.sample
    return {
        "group": alert.key.digest(),
        "account_id": f.account_id,
        "principal": alert.key.principal,
        "action": f.action,
        "error_code": f.error_code,
        "count": alert.count,
        "held_back": alert.held_back,
        "first_time": alert.first_time,
        "last_time": alert.last_time,
        "event_ids": [e.event_id for e in alert.examples],
    }
