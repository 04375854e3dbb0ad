"""The dedup window: the pure decision, the in-memory store, and DynamoDB on a moto server."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from deniedwatch.alerts.dedup import DedupStoreError, DynamoStore, MemoryStore, NullStore
from deniedwatch.alerts.deliver import deliver
from deniedwatch.alerts.group import Alert, group_findings
from deniedwatch.alerts.window import (
    CLAIM_LEASE_SECONDS,
    Delivery,
    GroupState,
    admit,
    mark_delivered,
)
from deniedwatch.finding import Finding
from deniedwatch.metrics import Metrics
from live_support import alert_of, create_dedup_table, denial, held_of

HOUR = 3600.0
T0 = 1_795_770_000.0


def alert(count: int = 1, user: str = "mallory") -> Alert:
    return alert_of(count, user=user)


def step(state, batch, count, now, threshold=1):
    return admit(state, batch=batch, count=count, now=now, window_seconds=HOUR, threshold=threshold)


# --- the pure decision -----------------------------------------------------------


def test_first_alert_posts_repeats_in_the_window_are_held_and_announced_after():
    s, d = step(None, "b1", 5, T0)
    assert d.post and d.held_back == 0 and d.reason == "new"
    s = mark_delivered(s, Delivery("b1", ("slack",), True))
    s, d = step(s, "b2", 7, T0 + 60)
    assert not d.post and d.reason == "window" and s.held == 7
    s, d = step(s, "b3", 1, T0 + 120)
    assert not d.post and s.held == 8
    s, d = step(s, "b4", 2, T0 + HOUR + 1)
    assert d.post and d.held_back == 8 and s.held == 0 and s.owner == "b4"


def test_a_retried_batch_is_not_counted_twice_and_gets_its_claim_back():
    s, d = step(None, "b1", 5, T0)
    s = mark_delivered(s, Delivery("b1", ("email",), False))
    s2, d = step(s, "b1", 5, T0 + 30)  # AWS retries b1: Slack failed the first time
    assert d.post and d.reason == "retry" and d.delivered == {"email"}
    assert s2 == s
    s, _ = step(s, "b2", 3, T0 + 60)
    s2, d = step(s, "b2", 3, T0 + 90)  # b2 retried: already counted
    assert not d.post and d.reason == "repeat" and s2.held == 3


def test_threshold_alerts_only_when_the_window_holds_n_denials():
    s, d = step(None, "b1", 2, T0, threshold=5)
    assert not d.post and d.reason == "threshold" and s.held == 2
    s, d = step(s, "b2", 2, T0 + 60, threshold=5)
    assert not d.post and s.seen == 4
    s, d = step(s, "b3", 1, T0 + 120, threshold=5)
    assert d.post and d.held_back == 4  # this batch's 1 plus the 4 before it
    # a new window starts counting from zero
    s, d = step(s, "b4", 4, T0 + 2 * HOUR, threshold=5)
    assert not d.post and s.seen == 4


def test_threshold_count_resets_when_the_window_passes_without_reaching_it():
    s, _ = step(None, "b1", 4, T0, threshold=5)
    s, d = step(s, "b2", 4, T0 + HOUR + 1, threshold=5)
    assert not d.post and s.seen == 4 and s.held == 8


def test_an_abandoned_claim_is_taken_over_and_its_denials_announced():
    s, d = step(None, "b1", 5, T0)  # b1 claims, then never delivers anything
    s, d = step(s, "b2", 2, T0 + 60)
    assert not d.post  # b1 may still be retrying
    s, d = step(s, "b3", 1, T0 + CLAIM_LEASE_SECONDS + 1)
    assert d.post and d.held_back == 5 + 2 and s.owner == "b3"
    s, d = step(s, "b1", 5, T0 + CLAIM_LEASE_SECONDS + 2)  # b1's late retry
    assert not d.post and d.reason == "repeat"


def test_state_round_trips_through_json():
    s, _ = step(None, "b1", 5, T0)
    s = mark_delivered(s, Delivery("b1", ("slack",), True))
    assert GroupState.from_json(s.to_json()) == s


# --- stores -------------------------------------------------------------------------


def test_null_store_posts_every_group_at_the_threshold_and_remembers_nothing():
    store = NullStore(threshold=3)
    assert not store.admit(alert(2), batch="b", now=T0).post
    assert store.admit(alert(3), batch="b", now=T0).post
    assert store.admit(alert(3), batch="b", now=T0).post
    assert held_of(store, alert().key) == 0


def test_memory_store_applies_the_window():
    store = MemoryStore(window_seconds=HOUR)
    a = alert(4)
    assert store.admit(a, batch="b1", now=T0).post
    assert not store.admit(a, batch="b2", now=T0 + 1).post
    assert held_of(store, a.key) == 4


@pytest.fixture
def table(aws_env, unique_name) -> str:
    return create_dedup_table(unique_name("dedup"))


def test_dynamo_store_window_retry_and_ttl_attribute(table):
    import boto3

    store = DynamoStore(table, window_seconds=HOUR)
    a = alert(5)
    d = store.admit(a, batch="b1", now=T0)
    assert d.post and d.reason == "new"
    store.delivered(a, Delivery("b1", ("slack",), True, T0))
    d = store.admit(a, batch="b1", now=T0 + 5)
    assert d.post and d.reason == "retry" and d.delivered == {"slack"}
    assert not store.admit(a, batch="b2", now=T0 + 10).post
    assert not store.admit(a, batch="b2", now=T0 + 11).post  # a retry of b2: not recounted
    assert held_of(store, a.key) == 5
    d = store.admit(a, batch="b3", now=T0 + HOUR + 1)
    assert d.post and d.held_back == 5

    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "group#" + a.key.digest()}}
    )["Item"]
    assert set(item) >= {"pk", "expires_at", "version", "state"}
    assert float(item["expires_at"]["N"]) > T0 + HOUR


def test_concurrent_invocations_cannot_both_post(table):
    """Eight threads, eight batches, one group, same instant: exactly one claim wins."""
    store = DynamoStore(table, window_seconds=HOUR)
    a = alert(1, user="raced")
    decisions: list = []
    start = threading.Barrier(8)

    def run(i: int) -> None:
        start.wait()
        decisions.append(DynamoStore(table, window_seconds=HOUR).admit(a, batch=f"b{i}", now=T0))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(d.post for d in decisions) == {True: 1, False: 7}
    assert held_of(store, a.key) == 7


def test_missing_table_raises_store_error_and_delivery_fails_open(aws_env, capsys):
    store = DynamoStore("no-such-table", window_seconds=HOUR)
    with pytest.raises(DedupStoreError, match="ResourceNotFound"):
        store.admit(alert(), batch="b", now=T0)

    sent = []

    class Recorder:
        name = "slack"

        def send(self, a: Alert) -> None:
            sent.append(a)

    metrics = Metrics(write=lambda line: None)
    report = deliver(
        [alert()], channels=[Recorder()], store=store, batch="b", now=T0, metrics=metrics
    )
    assert len(sent) == 1 and report.store_errors >= 1
    assert metrics.counts["DedupStoreErrors"] >= 1 and metrics.counts["AlertsDelivered"] == 1
    assert '"kind": "dedup-store-error"' in capsys.readouterr().out


# --- novelty inside the window -----------------------------------------------------------

BUCKET = "arn:aws:s3:::prod-customer-exports"


def units(*resources: str) -> dict[str, list[str]]:
    return {"resource": list(resources)}


def test_a_resource_the_window_has_not_seen_is_news():
    s, d = admit(None, batch="b1", count=1, now=T0, window_seconds=HOUR, units=units("logo"))
    s = mark_delivered(s, Delivery("b1", ("slack",), True))
    s, d = admit(s, batch="b2", count=3, now=T0 + 60, window_seconds=HOUR, units=units("logo"))
    assert not d.post and d.reason == "window" and d.held == 3
    s, d = admit(s, batch="b3", count=500, now=T0 + 120, window_seconds=HOUR, units=units(BUCKET))
    assert d.post and d.reason == "novel" and d.news == ("resource",) and d.held_back == 3
    assert s.posted_at == T0 and s.claimed_at == T0 + 120  # the window is not extended
    s = mark_delivered(s, Delivery("b3", ("slack",), True))
    s, d = admit(s, batch="b4", count=9, now=T0 + 180, window_seconds=HOUR, units=units(BUCKET))
    assert not d.post and d.held == 9  # repeats of (group, resource) are what is held
    s, d = admit(s, batch="b5", count=1, now=T0 + HOUR + 1, window_seconds=HOUR, units=units("x"))
    assert d.post and d.reason == "new" and d.held_back == 9
    assert GroupState.from_json(s.to_json()) == s


def test_novelty_does_not_take_over_a_claim_still_being_delivered_but_still_posts():
    s, _ = admit(None, batch="b1", count=1, now=T0, window_seconds=HOUR, units=units("a"))
    s, d = admit(s, batch="b2", count=1, now=T0 + 60, window_seconds=HOUR, units=units("b"))
    assert d.post and d.reason == "novel-aside" and d.fresh == {"resource": ("b",)}
    assert s.owner == "b1" and "b2" not in s.recent  # nothing learned: a retry posts again
    s, d = admit(s, batch="b2", count=1, now=T0 + 70, window_seconds=HOUR, units=units("b"))
    assert d.post and d.reason == "novel-aside"
    s, d = admit(s, batch="b3", count=1, now=T0 + 80, window_seconds=HOUR, units=units("a"))
    assert not d.post and d.reason == "window"  # a repeat is still held
    s, d = admit(s, batch="b1", count=1, now=T0 + 90, window_seconds=HOUR)
    assert d.reason == "retry"  # b1's retry still finds its claim


def test_past_the_novelty_cap_a_new_value_still_posts_and_says_the_cap_is_reached():
    """Issue 20 (2): a new value is never held silently; past KNOWN_MAX the decision says
    so (the alert budget, not the window, bounds a caller inventing names), and repeats of
    a remembered value are still held."""
    from deniedwatch.alerts.window import KNOWN_KEPT, KNOWN_MAX

    s, _ = admit(None, batch="b0", count=1, now=T0, window_seconds=HOUR, units=units("r0"))
    posts, capped = 0, 0
    for i in range(1, 3 * KNOWN_MAX):
        s = mark_delivered(s, Delivery(s.owner or "", ("slack",), True))
        s, d = admit(
            s, batch=f"b{i}", count=1, now=T0 + i, window_seconds=HOUR, units=units(f"r{i}")
        )
        posts += d.post
        capped += d.capped == ("resource",)
        assert d.fresh == {"resource": (f"r{i}",)}
    assert posts == 3 * KNOWN_MAX - 1 and capped == 2 * KNOWN_MAX
    assert len(s.known["resource"]) == 3 * KNOWN_MAX <= KNOWN_KEPT
    s = mark_delivered(s, Delivery(s.owner or "", ("slack",), True))
    s, d = admit(s, batch="again", count=1, now=T0 + 999, window_seconds=HOUR, units=units("r7"))
    assert not d.post and d.reason == "window"


def test_objects_of_one_bucket_are_one_novelty_unit():
    records = [
        denial(resources=[{"ARN": f"{BUCKET}/2026/11/export-{i}.csv"}], eventName="GetObject")
        for i in range(500)
    ]
    (a,) = group_findings([Finding.from_record(r) for r in records])
    assert a.units["resource"] == (BUCKET,) and a.variety["resource"] == 500
