"""The handler on the fast path (SQS batches of EventBridge envelopes, a direct EventBridge
invocation) and with `live_source = both`, through the one decoding seam.

Slack is a local HTTP stand-in; the dedup table is on a moto server. Simulated: moto does
not run Lambda or poll SQS, so the handler is called in-process with the event the SQS
event source mapping would pass, built by tests/live_support.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deniedwatch import lambda_handler
from deniedwatch.alerts.dedup import DynamoStore, MemoryStore
from deniedwatch.alerts.deliver import DeliveryError
from deniedwatch.alerts.group import GroupKey
from deniedwatch.metrics import Metrics
from deniedwatch.pipeline import Pipeline
from deniedwatch.sources.cwlogs import PayloadError
from deniedwatch.sources.invocation import FLUSH_EVENT, SHAPES, Shape, decode_invocation
from live_support import (
    SlackStandIn,
    create_dedup_table,
    denial,
    emf,
    eventbridge_event,
    function_url_event,
    held_of,
    sqs_batch,
    sqs_message,
    start,
    status,
    subscription_payload,
)
from strategies import json_values


def process(event) -> dict:
    """The handler's work with its whole result: for an SQS batch the handler itself returns
    only the partial batch response (test_handler_returns_exactly_the_partial_batch_response),
    so the summary and the returned message ids are put side by side here."""
    metrics = Metrics()
    try:
        outcome = lambda_handler.process(
            decode_invocation(event), lambda_handler.runtime(), metrics, now=time.time()
        )
    finally:
        metrics.flush()
    if outcome.failed_messages is None:
        return dict(outcome.summary)
    failures = [{"itemIdentifier": m} for m in outcome.failed_messages]
    return {**outcome.summary, "batchItemFailures": failures}


class Recorder:
    """A channel that keeps each alert it is sent."""

    name = "slack"

    def __init__(self) -> None:
        self.alerts: list = []

    def send(self, alert) -> None:
        self.alerts.append(alert)


def run(event, *, now: float = 1e9) -> list:
    recorder = Recorder()
    rt = lambda_handler.Runtime(
        lambda_handler.load_runtime_settings(), MemoryStore(), Pipeline.fixed([recorder])
    )
    lambda_handler.process(decode_invocation(event), rt, Metrics(write=lambda _: None), now=now)
    return recorder.alerts


# -- the seam -------------------------------------------------------------------------
def test_the_three_shapes_decode_to_the_same_records() -> None:
    records = [denial(user="a"), denial(user="b", code="Client.UnauthorizedOperation")]
    shapes = {
        "logs": decode_invocation(subscription_payload(records)),
        "sqs": decode_invocation(sqs_batch(records)),
    }
    direct = [decode_invocation(eventbridge_event(r)) for r in records]
    assert [i.record for i in shapes["logs"]] == records
    assert [i.record for i in shapes["sqs"]] == records
    assert [d.items[0].record for d in direct] == records
    assert shapes["sqs"].shape is Shape.SQS and direct[0].shape is Shape.EVENTBRIDGE
    assert all(i.message_id for i in shapes["sqs"])


def test_every_shape_has_one_row_of_facts() -> None:
    """A new shape is one row of SHAPES: path, item failures, ref name and where()."""
    assert set(SHAPES) == set(Shape)
    assert [s for s in Shape if SHAPES[s].reports_item_failures] == [Shape.SQS]
    assert {s for s in Shape if SHAPES[s].path} == {
        Shape.CLOUDWATCH_LOGS,
        Shape.SQS,
        Shape.EVENTBRIDGE,
    }


def test_only_the_stacks_flush_input_flushes_a_plain_scheduled_event_is_only_logged(
    env, fake, capsys
) -> None:
    """Decided: the stack's rule sends FLUSH_EVENT as its constant input, and that alone
    flushes. Any other EventBridge "Scheduled Event" (a rule someone else points at the
    function) is acknowledged and logged, and never posts summaries."""
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111122223333",
        "time": "2026-11-20T09:05:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:111122223333:rule/deniedwatch-flush"],
        "detail": {},
    }
    assert decode_invocation(scheduled).shape is Shape.SCHEDULE
    assert decode_invocation(FLUSH_EVENT).shape is Shape.FLUSH
    start(env, fake)
    assert lambda_handler.handler(scheduled, None) == {"status": "scheduled-event"}
    assert lambda_handler.handler(FLUSH_EVENT, None) == {
        "status": "flushed",
        "summaries": 0,
        "held": 0,
    }
    out = capsys.readouterr().out
    (line,) = [json.loads(x) for x in out.splitlines() if '"scheduled-event"' in x]
    assert "not the stack's flush input" in line["message"]


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": []}, {"Records": [{"eventSource": "aws:s3"}]}, [], "x", None, 7],
)
def test_unknown_shapes_raise_payload_error(event) -> None:
    with pytest.raises(PayloadError):
        decode_invocation(event)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(json_values, st.text(max_size=200)))
def test_property_any_body_or_event_is_a_bad_record_or_payload_error(env, data) -> None:
    rt = lambda_handler.Runtime(
        lambda_handler.load_runtime_settings(), MemoryStore(), Pipeline.fixed([])
    )
    body = data if isinstance(data, str) else json.dumps(data)
    candidates = [
        data,
        {"Records": [sqs_message(body)]},
        {"Records": [sqs_message(json.dumps({**eventbridge_event(denial()), "detail": data}))]},
        {"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": data},
    ]
    for event in candidates:
        with contextlib.suppress(PayloadError):
            outcome = lambda_handler.process(
                decode_invocation(event), rt, Metrics(write=lambda _: None), now=1e9
            )
            assert not outcome.failed_messages


# -- same records, same alerts ----------------------------------------------------------
def test_sqs_batch_and_cloudwatch_logs_payload_of_the_same_records_give_the_same_alerts(
    env,
) -> None:
    records = [
        denial(user="alice"),
        denial(user="alice", time="2026-11-20T09:06:00Z"),
        denial(user="bob", event_name="PutObject"),
        denial(user="carol", event_name="HeadBucket"),  # default suppression
        denial(user="dave", code="NoSuchKey"),  # not a denial (the rule drops it too)
    ]
    from_logs = run(subscription_payload(records))
    from_queue = run(sqs_batch(records))
    assert len(from_logs) == 2
    # the only difference: the CloudWatch Logs path links its log stream
    assert from_logs[0].log.log_group and from_queue[0].log.log_group is None
    assert [dataclasses.replace(a, log=None) for a in from_logs] == [
        dataclasses.replace(a, log=None) for a in from_queue
    ]


def test_direct_eventbridge_invocation_alerts(env, fake, httpserver) -> None:
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    result = lambda_handler.handler(eventbridge_event(denial(user="erin")), None)
    assert result["sent"] == 1 and "batchItemFailures" not in result
    assert " · erin denied s3:GetObject " in slack.bodies[0]["blocks"][0]["text"]["text"]


def test_forged_envelope_on_the_queue_is_a_bad_record_not_an_alert(env, fake, httpserver, capsys):
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    forged = eventbridge_event(denial(user="blame-me"), source="acme.app")
    batch = {"Records": [sqs_message(forged), sqs_message("not json {")]}
    result = process(batch)
    assert result["findings"] == 0 and result["batchItemFailures"] == [] and slack.bodies == []
    out = capsys.readouterr().out
    bad = [json.loads(x) for x in out.splitlines() if '"bad-record"' in x]
    assert [b["reason"] for b in bad] == [
        "source is not an AWS service",
        "message body is not JSON: Expecting value: line 1 column 1 (char 0)",
    ]
    assert bad[0]["message_id"] == batch["Records"][0]["messageId"]
    assert bad[0]["queue"].endswith(":deniedwatch-DenialEventsQueue")
    assert emf(out)["BadRecords"] == 2


# -- partial batch failure ----------------------------------------------------------------
@pytest.fixture
def table(aws_env, unique_name, env) -> str:
    name = create_dedup_table(unique_name("dedup"))
    env.setenv("DENIEDWATCH_DEDUP_TABLE", name)
    return name


def test_a_failed_alert_returns_only_its_message_and_the_redelivery_posts_it(
    env, fake, httpserver, table
) -> None:
    slack = SlackStandIn(httpserver, [status(200, "ok")] + [status(503)] * 4)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    users = ["a", "b", "c"]
    batch = sqs_batch([denial(user=u) for u in users])
    message_of = dict(zip(users, [m["messageId"] for m in batch["Records"]], strict=True))
    first = process(batch)  # does not raise: the batch is partial
    assert first["sent"] == 1
    (posted,) = [poster(b) for b in slack.ok_posts()]
    # Slack took one alert, then failed the next; the third was not tried (the channel
    # is broken for the rest of the batch): their two messages come back, not the first.
    returned = [f["itemIdentifier"] for f in first["batchItemFailures"]]
    assert returned == sorted(message_of[u] for u in users if u != posted)

    # SQS redelivers only those messages (same messageIds), here one batch each
    by_id = {m["messageId"]: m for m in batch["Records"]}
    for message_id in returned:
        again = process({"Records": [by_id[message_id]]})
        assert again["batchItemFailures"] == [] and again["sent"] == 1
    assert sorted(poster(b) for b in slack.ok_posts()) == users

    # a third delivery of a message that already went out posts nothing
    assert process({"Records": [by_id[message_of[posted]]]})["sent"] == 0
    assert len(slack.ok_posts()) == 3


def poster(body: dict) -> str:
    """The user an alert is about, from its header ("… · alice denied s3:GetObject …")."""
    return body["blocks"][0]["text"]["text"].split(" · ", 1)[1].split(" denied ")[0]


# -- live_source = both: one post per event, the backstop still alerts -----------------
def held(table: str, user: str) -> int:
    key = GroupKey(
        "111122223333", f"arn:aws:iam::111122223333:user/{user}", "s3:GetObject", "AccessDenied"
    )
    return held_of(DynamoStore(table), key)


def test_both_paths_one_post_and_nothing_counted_twice(
    env, fake, httpserver, table, capsys
) -> None:
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    env.setenv("DENIEDWATCH_LIVE_SOURCE", "both")
    start(env, fake)
    seen_by_both, backstop_only = denial(user="mallory"), denial(user="trudy")

    lambda_handler.handler(sqs_batch([seen_by_both]), None)  # the fast path first
    capsys.readouterr()
    later = lambda_handler.handler(subscription_payload([seen_by_both, backstop_only]), None)
    assert later["findings"] == 1  # mallory's event was dropped, trudy's kept
    backstop = emf(capsys.readouterr().out)
    assert backstop["DuplicateEvents"] == 1 and backstop["BackstopOnlyEvents"] == 1

    # the fast path's straggler for trudy's event: already alerted by the backstop
    lambda_handler.handler(sqs_batch([backstop_only]), None)
    straggler = emf(capsys.readouterr().out)
    assert straggler["FastPathLateEvents"] == 1 and straggler["DuplicateEvents"] == 1

    headers = sorted(b["blocks"][0]["text"]["text"] for b in slack.ok_posts())
    assert len(headers) == 2 and "· mallory denied" in headers[0] and "· trudy denied" in headers[1]
    assert held(table, "mallory") == 0 and held(table, "trudy") == 0  # not counted twice


def test_without_both_the_same_event_on_two_paths_is_counted_twice(
    env, fake, httpserver, table
) -> None:
    """The contrast: the group window alone keeps the post single but counts the event
    again, so the next alert would announce a denial that never happened."""
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    event = denial(user="mallory")
    lambda_handler.handler(sqs_batch([event]), None)
    lambda_handler.handler(subscription_payload([event]), None)
    assert len(slack.ok_posts()) == 1 and held(table, "mallory") == 1


def test_both_mode_retries_of_the_backstop_payload_still_deliver(
    env, fake, httpserver, table
) -> None:
    """A path keeps what it claimed: the backstop's own retry is not dropped as seen."""
    slack = SlackStandIn(httpserver, [status(503)] * 4)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    env.setenv("DENIEDWATCH_LIVE_SOURCE", "both")
    start(env, fake)
    payload = subscription_payload([denial(user="oscar")])
    with pytest.raises(DeliveryError):
        lambda_handler.handler(payload, None)
    lambda_handler.handler(payload, None)  # AWS's retry, Slack healthy again
    assert len(slack.ok_posts()) == 1


def test_handler_returns_exactly_the_partial_batch_response(env, fake, httpserver, capsys) -> None:
    """Lambda reads {"batchItemFailures": [{"itemIdentifier": ...}]}; nothing else goes back,
    and the summary is a log line."""
    slack = SlackStandIn(httpserver, [status(503)] * 4)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    batch = sqs_batch([denial(user="a")])
    response = lambda_handler.handler(batch, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    out = capsys.readouterr().out
    (summary,) = [json.loads(x) for x in out.splitlines() if '"batch-result"' in x]
    assert summary["findings"] == 1 and summary["sent"] == 0 and summary["failed_messages"] == 1


def test_a_function_url_request_is_one_more_shape_not_a_batch(env, fake) -> None:
    invocation = decode_invocation(function_url_event())
    assert invocation.shape is Shape.FUNCTION_URL and len(invocation) == 0
    assert invocation.request is not None and invocation.request.method == "POST"
    assert invocation.request.headers["x-slack-signature"] == "v0=1"  # names in lower case
    assert invocation.where() == {"source_ip": "203.0.113.9"}
    assert invocation.ref_name == "request_id" and not invocation.reports_item_failures
    start(env, fake)
    # no signing secret configured: nothing answers here
    response = lambda_handler.handler(function_url_event(), None)
    assert response["statusCode"] == 404
