"""Delivery's one failure path: whatever one destination raises fails that destination alone.

A destination with a bug (here: a plain RuntimeError, as a rendering bug or an SDK
surprise would raise) is counted failed, redacted, and skipped for the rest of the
run; every other destination, before and after it, still gets every alert.
"""

from __future__ import annotations

import json

import pytest

from deniedwatch.alerts.budget import Budget, Digest
from deniedwatch.alerts.channels.base import ThreadRef
from deniedwatch.alerts.dedup import MemoryStore
from deniedwatch.alerts.deliver import DeliveryError, deliver
from deniedwatch.alerts.group import Alert
from deniedwatch.metrics import Metrics
from live_support import alert_of

T0 = 1_795_770_000.0
HOOK = "https://hooks.slack.com/services/T0001/B0001/aVeryPrivateWebhookToken"


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.alerts: list[Alert] = []
        self.digests: list[Digest] = []

    def send(self, alert: Alert) -> ThreadRef | None:
        self.alerts.append(alert)
        return None

    def send_digest(self, digest: Digest) -> None:
        self.digests.append(digest)


class Buggy(Recorder):
    """A destination whose code raises something no channel anticipated."""

    def send(self, alert: Alert) -> ThreadRef | None:
        raise RuntimeError(f"template bug while posting to {HOOK}")

    def send_digest(self, digest: Digest) -> None:
        raise KeyError("blocks")


def test_a_destination_raising_runtime_error_fails_alone_and_the_others_get_every_alert():
    users = ("alice", "bob", "carol")
    alerts = [alert_of(1, user=u) for u in users]
    before, buggy, after = Recorder("chat"), Buggy("broken"), Recorder("mail")
    logged: list[str] = []
    metrics = Metrics(write=lambda line: None)
    report = deliver(
        alerts,
        channels=[before, buggy, after],
        store=MemoryStore(window_seconds=3600),
        batch="b1",
        now=T0,
        metrics=metrics,
        write=logged.append,
    )
    for good in (before, after):
        assert {a.sample.principal_name for a in good.alerts} == set(users)
    assert {name for name, _ in report.failures} == {"broken"}
    assert len(report.failures) == 3  # the first raised, the rest were skipped, all counted
    assert "RuntimeError: template bug" in report.failures[0][1]
    assert "aVeryPrivateWebhookToken" not in json.dumps(report.failures)
    assert "aVeryPrivateWebhookToken" not in "\n".join(logged)
    assert sorted(a.sample.principal_name for a in report.failed) == sorted(users)
    assert metrics.counts["DeliveryFailures"] == 3
    with pytest.raises(DeliveryError, match="broken"):
        report.raise_for_failures()


def test_a_buggy_digest_fails_alone_and_a_retry_reaches_only_what_missed():
    alerts = [alert_of(1, user="mallory", event_name=n) for n in ("A", "B", "C")]
    store = MemoryStore(window_seconds=3600)
    good, buggy = Recorder("chat"), Buggy("broken")
    budget = Budget(max_posts=1, max_per_principal=1)
    report = deliver(alerts, channels=[buggy, good], store=store, batch="b1", now=T0, budget=budget)
    assert len(good.alerts) == 1 and len(good.digests) == 1
    assert {name for name, _ in report.failures} == {"broken"}
    assert any("KeyError" in reason or "RuntimeError" in reason for _, reason in report.failures)

    fixed = Recorder("broken")  # the bug is fixed; AWS retries the same batch
    again = deliver(
        alerts, channels=[fixed, good], store=store, batch="b1", now=T0 + 60, budget=budget
    )
    assert again.failures == []
    assert len(good.alerts) == 1 and len(good.digests) == 1  # nothing twice
    assert len(fixed.alerts) == 1 and len(fixed.digests) == 1  # what it missed
