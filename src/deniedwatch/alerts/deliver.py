"""Alerts -> destinations (channels), through the dedup store, per destination.

For each alert: ask the store whether it goes out (fail open when the store errs); the
alert budget (``budget.plan``) picks what is posted, most important first, and counts the
rest in one digest per caller; send each to every destination its routes select
(``select``) that a previous try did not reach, and tell the store what was reached (for a
digest: each of its alerts), so an AWS retry re-sends only what each destination missed.
Whatever a destination raises fails it alone (``_send``): it is skipped for the rest of the
batch, never blocks the others, and ``DeliveryReport.raise_for_failures`` fails the
invocation. An alert the dedup window holds goes, as a thread reply, to the threaded
destinations (Slack app) of its routes whose first post is known; replies count against
the budget's posts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from deniedwatch.alerts.budget import DEFAULT_BUDGET, Budget, Digest, by_caller, digests, plan
from deniedwatch.alerts.channels.base import (
    Channel,
    Threaded,
    ThreadRef,
    failure_reason,
)
from deniedwatch.alerts.dedup import DedupStore, DedupStoreError
from deniedwatch.alerts.group import Alert, GroupKey
from deniedwatch.alerts.window import Decision, Delivery
from deniedwatch.alerts.wording import Story
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
    digests: list[Digest] = field(default_factory=list)  # digests that reached >= 1 channel
    deliveries: int = 0  # (alert or digest, channel) pairs delivered now
    failures: list[tuple[str, str]] = field(default_factory=list)  # (channel, reason)
    failed: list[Alert] = field(default_factory=list)  # alerts not sent to every channel
    store_errors: int = 0
    replies: int = 0  # held alerts posted into a threaded destination's thread

    def raise_for_failures(self) -> None:
        if self.failures:
            channels = sorted({c for c, _ in self.failures})
            raise DeliveryError(
                f"{len(self.failures)} alert deliveries failed ({', '.join(channels)}): "
                f"{self.failures[0][1]}"
            )


OUT_OF_TIME = "out of time: left for the retry"


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
    budget: Budget = DEFAULT_BUDGET,
    alert_batch: Callable[[Alert], str] | None = None,
    select: Callable[[Alert], Collection[str]] | None = None,
) -> DeliveryReport:
    """Send what the store admits, within the budget; never raises for a channel or
    store failure. Posts go out most important first; no new post starts with less
    than ``MIN_TIME_LEFT`` seconds left (what is left fails, so AWS retries it).

    ``select`` names each alert's destinations (default: every channel). Each
    alert and each failure is also a JSON log line through ``write`` (stdout in the
    Lambda: the last resort when every destination is down). ``batch`` names what
    an AWS retry delivers again; ``alert_batch`` names it per alert when a retry
    brings back only a failed alert's records (an SQS redelivery of its messages).
    """
    report = DeliveryReport()
    share_deadline(channels, time_left)
    run = _Run(channels, store, batch, now, time_left, report, write, alert_batch, select)
    admitted: list[Alert] = []
    pending = list(alerts)
    for i, alert in enumerate(pending):
        if run.out_of_time():  # a slow store must not eat the time the posts need
            report.failures.append(("dedup", OUT_OF_TIME))
            report.failed.extend(pending[i:])
            run.log("delivery-failed", level="error", channel="dedup", reason=OUT_OF_TIME)
            break
        if (admitted_alert := run.admit(alert)) is not None:
            admitted.append(admitted_alert)
    new_callers = run.new_callers(admitted)
    the_plan = plan(admitted, budget, new_callers=new_callers)
    for alert in the_plan.posts:
        run.post(alert)
    for digest in the_plan.digests:
        run.post_digest(digest)
    run.reply_in_threads(budget.max_posts - len(the_plan.posts))
    if metrics is not None:
        metrics.add("AlertsHeld", len(report.held))
        metrics.add("AlertsDelivered", report.deliveries + report.replies)
        metrics.add("DeliveryFailures", len(report.failures) + run.reply_failures)
        metrics.add("DedupStoreErrors", report.store_errors)
        for (destination, name), value in sorted(run.per_destination.items()):
            metrics.add(name, value, destination=destination)
    return report


def flush_windows(
    *,
    channels: Sequence[Channel],
    store: DedupStore,
    now: float,
    metrics: Metrics | None = None,
    time_left: Callable[[], float] | None = None,
    write: Writer = stdout_line,
    max_digests: int = DEFAULT_BUDGET.max_digests,
    select: Callable[[Alert], Collection[str]] | None = None,
) -> DeliveryReport:
    """The scheduled flush: groups still holding denials when their window closed are
    announced in one window summary per caller (a digest), then counted as announced.
    At least once: a summary whose store update failed is sent again next time.
    ``select`` names each group's destinations, as for ``deliver``."""
    report = DeliveryReport()
    share_deadline(channels, time_left)
    run = _Run(channels, store, "window-summary", now, time_left, report, write, select=select)
    try:
        groups = sorted(
            store.held_groups(closed_by=now), key=lambda g: (g.closes_at, g.key.digest())
        )
    except DedupStoreError as exc:
        run.store_error(exc)
        report.failures.append(("dedup", str(exc)))
        return report
    for digest in digests(by_caller([g.as_alert() for g in groups]), max_digests, "window"):
        run.post_summary(digest)
    if metrics is not None:
        metrics.add("AlertsDelivered", report.deliveries)
        metrics.add("DeliveryFailures", len(report.failures))
        metrics.add("DedupStoreErrors", report.store_errors)
    return report


def share_deadline(channels: Sequence[Channel], time_left: Callable[[], float] | None) -> None:
    """Tell each channel's context how long this invocation has left, so a Retry-After
    is honoured only while it fits (channels are built once per container)."""
    for channel in channels:
        ctx = getattr(channel, "ctx", None)
        if ctx is not None and hasattr(ctx, "time_left"):
            ctx.time_left = time_left


class _Run:
    """One delivery: the store's decisions, broken channels and the clock, shared by
    the posts and the digests."""

    def __init__(
        self,
        channels: Sequence[Channel],
        store: DedupStore,
        batch: str,
        now: float,
        time_left: Callable[[], float] | None,
        report: DeliveryReport,
        write: Writer,
        alert_batch: Callable[[Alert], str] | None = None,
        select: Callable[[Alert], Collection[str]] | None = None,
    ) -> None:
        self.channels = channels
        self.select = select
        self.store = store
        self.batch = batch
        self.alert_batch = alert_batch or (lambda _: batch)
        self.now = now
        self.time_left = time_left
        self.report = report
        self.write = write
        self.decisions: dict[GroupKey, Decision] = {}
        self.broken: dict[str, str] = {}  # channel -> why it is skipped for the rest
        self.repeats: list[tuple[Alert, Decision]] = []  # held, with a thread to reply in
        self.per_destination: Counter[tuple[str, str]] = Counter()  # (destination, metric)
        self.reply_failures = 0
        self._targets: dict[GroupKey, set[str]] = {}

    def targets(self, alert: Alert) -> set[str]:
        """The destinations this alert's routes select (decided once per group)."""
        if alert.key not in self._targets:
            names = self.select(alert) if self.select else [c.name for c in self.channels]
            self._targets[alert.key] = set(names)
        return self._targets[alert.key]

    def log(self, kind: str, **fields: object) -> None:
        log_line(kind, self.write, **fields)

    def store_error(self, exc: Exception, **fields: object) -> None:
        self.report.store_errors += 1
        self.log("dedup-store-error", level="error", error=str(exc), **fields)

    def admit(self, alert: Alert) -> Alert | None:
        """The alert with its held-back count if it goes out now; None if held.

        An alert an earlier try of this batch already announced everywhere stays in:
        it takes its place in the plan again (so a retry plans exactly what the first
        try planned) and sending skips every channel it reached."""
        try:
            decision = self.store.admit(alert, batch=self.alert_batch(alert), now=self.now)
        except DedupStoreError as exc:
            self.store_error(exc, failing_open=True)
            decision = Decision(True, reason="store-error")
        admitted = alert.with_held_back(
            decision.held_back,
            decision.news,
            decision.fresh,
            decision.capped,
            decision.window_start,
        )
        if not decision.post:
            self.report.held.append(alert)
            self.log("held", decision=decision.reason, held=decision.held, **_summary(admitted))
            if decision.threads:
                self.repeats.append((admitted, decision))
            return None
        self.decisions[alert.key] = decision
        return admitted

    def new_callers(self, alerts: Sequence[Alert]) -> set[str]:
        callers = {a.key.caller for a in alerts}
        try:
            return self.store.new_callers(callers, batch=self.batch, now=self.now)
        except DedupStoreError as exc:
            self.store_error(exc)
            return callers

    def out_of_time(self) -> bool:
        return self.time_left is not None and self.time_left() < MIN_TIME_LEFT

    def _skip(self, channel: Channel) -> str | None:
        """Why not to start sending to ``channel`` now (None: go ahead)."""
        reason = self.broken.get(channel.name)
        if reason is None and self.out_of_time():
            reason = OUT_OF_TIME
        return reason

    def _failed(self, channel: Channel, reason: str, group: str) -> None:
        self.report.failures.append((channel.name, reason))
        self.per_destination[channel.name, "DeliveryFailures"] += 1
        self.log("delivery-failed", level="error", channel=channel.name, reason=reason, group=group)

    def _send(
        self, channel: Channel, send: Callable[[], ThreadRef | None]
    ) -> tuple[str | None, ThreadRef | None]:
        """Send unless skipped: (why not or None, the threaded post). The one failure path."""
        reason = self._skip(channel)
        ref = None
        if reason is None:
            try:
                ref = send()
            except Exception as exc:
                reason = self.broken[channel.name] = failure_reason(exc)
        if reason is None:
            self.per_destination[channel.name, "AlertsDelivered"] += 1
        return reason, ref

    def _delivered(
        self,
        alert: Alert,
        reached: list[str],
        complete: bool,
        threads: dict[str, ThreadRef] | None = None,
    ) -> None:
        try:
            delivery = Delivery(
                self.alert_batch(alert), tuple(reached), complete, self.now, threads or {}
            )
            self.store.delivered(alert, delivery)
        except DedupStoreError as exc:
            self.store_error(exc)

    def post(self, alert: Alert) -> None:
        decision = self.decisions[alert.key]
        wanted = self.targets(alert)
        self.log("alert", decision=decision.reason, destinations=sorted(wanted), **_summary(alert))
        reached: list[str] = []
        threads: dict[str, ThreadRef] = {}
        failed = False
        for channel in self.channels:
            if channel.name not in wanted or channel.name in decision.delivered:
                continue
            reason, ref = self._send(channel, lambda c=channel: c.send(alert))
            if reason is None:
                reached.append(channel.name)
                if ref is not None:
                    threads[channel.name] = ref
            else:
                failed = True
                self._failed(channel, reason, alert.key.digest())
        self.report.deliveries += len(reached)
        if reached:
            self.report.sent.append(alert)
        if failed:
            self.report.failed.append(alert)
        self._delivered(alert, reached, not failed, threads)

    def reply_in_threads(self, budget_left: int) -> None:
        """Held repeats into their group's thread, most recent batch's first few.

        A failed or skipped reply is logged and counted, not retried: the repeats it
        carried stay counted in the group and the next alert announces them."""
        for alert, decision in self.repeats:
            for channel in self.channels:
                ref = decision.threads.get(channel.name)
                if ref is None or not isinstance(channel, Threaded):
                    continue
                if channel.name not in self.targets(alert):
                    continue
                why = "over the alert budget" if budget_left <= 0 else self._skip(channel)
                if why is None:
                    why, _ = self._send(
                        channel,
                        lambda c=channel, a=alert, r=ref, d=decision: c.reply(a, r, story_of(d)),
                    )
                    if why is not None:
                        self.reply_failures += 1
                        self.per_destination[channel.name, "DeliveryFailures"] += 1
                if why is not None:
                    self.log(
                        "thread-reply-skipped",
                        level="warning",
                        channel=channel.name,
                        reason=why,
                        group=alert.key.digest(),
                        count=alert.count,
                    )
                    continue
                budget_left -= 1
                self.report.replies += 1

    def post_digest(self, digest: Digest) -> None:
        """Each channel gets the digest of the members it has not had yet."""
        self.log("digest", **_digest_summary(digest))
        reached: dict[GroupKey, list[str]] = {a.key: [] for a in digest.alerts}
        failed: set[GroupKey] = set()
        any_reached = False
        for channel in self.channels:
            members = tuple(
                a
                for a in digest.alerts
                if channel.name in self.targets(a)
                and channel.name not in self.decisions[a.key].delivered
            )
            if not members:
                continue
            part = replace(digest, alerts=members)
            reason, _ = self._send(channel, lambda c=channel, d=part: c.send_digest(d))
            if reason is None:
                any_reached = True
                self.report.deliveries += 1
                for a in members:
                    reached[a.key].append(channel.name)
            else:
                failed.update(a.key for a in members)
                self._failed(channel, reason, "digest:" + digest.caller)
        if any_reached:
            self.report.digests.append(digest)
        self.report.failed.extend(a for a in digest.alerts if a.key in failed)
        for a in digest.alerts:
            self._delivered(a, reached[a.key], a.key not in failed)

    def post_summary(self, digest: Digest) -> None:
        """A window summary to each destination its alerts' routes select; a group
        counts as announced once any destination has it."""
        self.log("window-summary", **_digest_summary(digest))
        announced: set[GroupKey] = set()
        for channel in self.channels:
            members = tuple(a for a in digest.alerts if channel.name in self.targets(a))
            if not members:
                continue
            part = replace(digest, alerts=members)
            reason, _ = self._send(channel, lambda c=channel, d=part: c.send_digest(d))
            if reason is None:
                self.report.deliveries += 1
                announced.update(a.key for a in members)
            else:
                self._failed(channel, reason, "window:" + digest.caller)
        if announced:
            self.report.digests.append(digest)
        for a in digest.alerts:
            if a.key not in announced:
                continue
            try:
                self.store.announced(a.key, a.count, now=self.now)
            except DedupStoreError as exc:
                self.store_error(exc)


def story_of(decision: Decision) -> Story:
    """The group so far, as the store kept it, for a threaded parent."""
    about = decision.story
    return Story(
        total=decision.total,
        first_time=about.get("first_time"),
        last_time=about.get("last_time"),
        first_url=about.get("first_url"),
    )


def _summary(alert: Alert) -> dict[str, object]:
    """The alert as a log line: the last resort when every channel is down, and the
    record of a held group (never silent, even when nothing is posted)."""
    f = alert.sample
    return {
        "group": alert.key.digest(),
        "account_id": f.account_id,
        "principal": alert.key.principal,
        "action": f.action,
        "error_code": f.error_code,
        "resource": f.resource,
        "resources": alert.variety.get("resource", 0),
        "news": list(alert.news),
        "new_values": {k: list(v) for k, v in alert.fresh.items()},
        "count": alert.count,
        "held_back": alert.held_back,
        "first_time": alert.first_time,
        "last_time": alert.last_time,
        "event_ids": [e.event_id for e in alert.examples],
    }


def _digest_summary(digest: Digest) -> dict[str, object]:
    """A digest as a log line: every member group with its count."""
    return {
        "caller": digest.caller,
        "digest_kind": digest.kind,
        "count": digest.count,
        "groups": [
            {"group": a.key.digest(), "action": a.key.action, "count": a.total}
            for a in digest.alerts
        ],
    }
