"""Alerts -> destinations (channels), through the dedup store, per destination.

For each alert: pick its destinations (``select``, the router), ask the store
whether it goes out (fail open when the store errs), send it to every
destination a previous try did not reach, and tell the store what was reached,
so an AWS retry of a failed invocation re-sends only what each destination
missed. A failing destination is skipped for the rest of the batch and never
blocks the others. ``DeliveryReport.raise_for_failures`` then makes the
invocation fail. An alert the window holds goes, as a thread reply, to the
threaded destinations (Slack app) whose first post of the group is known.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from deniedwatch.alerts.channels.base import Channel, DeliveryFailed, Threaded, ThreadRef
from deniedwatch.alerts.dedup import Decision, DedupStore, DedupStoreError
from deniedwatch.alerts.group import Alert
from deniedwatch.metrics import Metrics, Writer, stdout_line
from deniedwatch.metrics import log as log_line

# Stop starting new posts when the invocation has less than this left (seconds).
MIN_TIME_LEFT = 10.0


class DeliveryError(RuntimeError):
    """Some alerts did not go out: the invocation fails so AWS retries it."""


@dataclass
class DeliveryReport:
    sent: list[Alert] = field(default_factory=list)  # alerts that reached >= 1 channel now
    held: list[Alert] = field(default_factory=list)  # kept quiet by window / threshold
    deliveries: int = 0  # (alert, channel) pairs delivered now
    failures: list[tuple[str, str]] = field(default_factory=list)  # (channel, reason)
    store_errors: int = 0
    replies: int = 0  # held alerts posted into a threaded destination's thread

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
    batch: str,
    now: float,
    metrics: Metrics | None = None,
    time_left: Callable[[], float] | None = None,
    write: Writer = stdout_line,
    select: Callable[[Alert], Collection[str]] | None = None,
) -> DeliveryReport:
    """Send what the store admits; never raises for a channel or store failure.

    ``select`` names each alert's destinations (default: every channel). Each
    alert and each failure is also a JSON log line through ``write`` (stdout in
    the Lambda: the last resort when every destination is down).
    """
    report = DeliveryReport()

    def log(kind: str, **fields: object) -> None:
        log_line(kind, write, **fields)

    def count(name: str, destination: str) -> None:
        if metrics is not None:
            metrics.add(name, destination=destination)

    def skip_reason(channel: Channel) -> str | None:
        reason = broken.get(channel.name)
        if reason is None and time_left is not None and time_left() < MIN_TIME_LEFT:
            reason = "out of time: left for the retry"
        return reason

    by_name = {c.name: c for c in channels}
    broken: dict[str, str] = {}  # channel -> why it is skipped for the rest of this batch
    for alert in alerts:
        if select is None:
            targets: Sequence[Channel] = channels
        else:
            targets = [by_name[n] for n in select(alert) if n in by_name]
        try:
            decision = store.admit(alert, batch=batch, now=now)
        except DedupStoreError as exc:
            report.store_errors += 1
            log("dedup-store-error", level="error", error=str(exc), failing_open=True)
            decision = Decision(True, reason="store-error")
        if not decision.post:
            report.held.append(alert)
            for channel in targets:
                ref = decision.threads.get(channel.name)
                if ref is None or not isinstance(channel, Threaded):
                    continue
                if skip_reason(channel):
                    continue  # the repeat is still counted: the next alert announces it
                try:
                    channel.reply(alert, ref, decision.total)
                except DeliveryFailed as exc:
                    broken[channel.name] = str(exc)
                    count("DeliveryFailures", channel.name)
                    log(
                        "thread-reply-failed",
                        level="error",
                        channel=channel.name,
                        reason=str(exc),
                        group=alert.key.digest(),
                    )
                    continue
                report.replies += 1
                count("AlertsDelivered", channel.name)
            continue
        alert = alert.with_held_back(decision.held_back)
        log(
            "alert",
            decision=decision.reason,
            destinations=[c.name for c in targets],
            **_summary(alert),
        )
        reached: list[str] = []
        threads: dict[str, ThreadRef] = {}
        failed = False
        for channel in targets:
            if channel.name in decision.delivered:
                continue
            reason = skip_reason(channel)
            if reason is None:
                try:
                    if ref := channel.send(alert):
                        threads[channel.name] = ref
                except DeliveryFailed as exc:
                    reason = broken[channel.name] = str(exc)
            if reason is None:
                reached.append(channel.name)
                count("AlertsDelivered", channel.name)
                continue
            failed = True
            report.failures.append((channel.name, reason))
            count("DeliveryFailures", channel.name)
            log(
                "delivery-failed",
                level="error",
                channel=channel.name,
                reason=reason,
                group=alert.key.digest(),
            )
        report.deliveries += len(reached)
        if reached:
            report.sent.append(alert)
        try:
            store.delivered(
                alert,
                batch=batch,
                channels=tuple(reached),
                complete=not failed,
                now=now,
                threads=threads,
            )
        except DedupStoreError as exc:
            report.store_errors += 1
            log("dedup-store-error", level="error", error=str(exc))
    if metrics is not None:
        metrics.add("AlertsHeld", len(report.held))
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
