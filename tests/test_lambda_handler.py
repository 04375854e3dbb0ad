"""The real Lambda handler, driven with real-shaped subscription payloads.

Slack is a local HTTP stand-in (pytest-httpserver); Secrets Manager, DynamoDB and
SNS are a moto server. Simulated: moto does not run Lambda, so the handler is
called in-process exactly as the runtime would call it; moto ignores DynamoDB TTL.
"""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockkit_limits import limit_problems
from deniedwatch import lambda_handler
from deniedwatch.alerts.dedup import DynamoStore, MemoryStore
from deniedwatch.alerts.deliver import DeliveryError
from deniedwatch.alerts.group import GroupKey
from deniedwatch.alerts.slack import render
from deniedwatch.metrics import Metrics
from deniedwatch.pipeline import Pipeline
from deniedwatch.sources.cwlogs import PayloadError
from deniedwatch.sources.invocation import decode_invocation
from live_support import (
    SlackStandIn,
    alert_count,
    control_payload,
    create_dedup_table,
    denial,
    emf,
    envelope,
    held_of,
    log_events,
    mrkdwn_texts,
    start,
    status,
    subscription_payload,
)
from strategies import json_values, log_messages


def test_batch_posts_one_alert_per_group_and_logs_bad_records(env, fake, httpserver, capsys):
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    events = log_events(
        [
            denial(user="alice"),
            denial(user="alice"),
            denial(user="bob", event_name="PutObject"),
            denial(user="carol", event_name="HeadBucket"),  # default suppression
            "not json {",
            {"hello": "world"},
            denial(user="dave", errorCode="NoSuchKey"),  # not a denial
        ]
    )
    result = lambda_handler.handler(subscription_payload([], events=events), None)
    assert result["alerts"] == 2 and result["sent"] == 2
    assert len(slack.bodies) == 2
    headers = sorted(b["blocks"][0]["text"]["text"] for b in slack.bodies)
    assert " · alice denied s3:GetObject " in headers[0]
    assert " · bob denied s3:PutObject " in headers[1]

    out = capsys.readouterr().out
    bad = [json.loads(x) for x in out.splitlines() if '"bad-record"' in x]
    assert [b["log_event_id"] for b in bad] == [events[4]["id"], events[5]["id"]]
    assert "not JSON" in bad[0]["reason"] and "not a CloudTrail record" in bad[1]["reason"]
    metrics = emf(out)
    assert metrics["DeniedEvents"] == 3 and metrics["SuppressedEvents"] == 1
    assert metrics["BadRecords"] == 2 and metrics["AlertsDelivered"] == 2
    assert metrics["Events"] == 7 and metrics["DeliveryFailures"] == 0
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "deniedwatch"
    assert slack.url not in out and "/services/" not in out


def test_control_message_is_ignored(env, fake, httpserver):
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    assert lambda_handler.handler(control_payload(), None) == {"status": "control-message"}
    assert slack.bodies == []


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"awslogs": {"data": "%%% not base64"}},
        {"awslogs": {"data": "aGVsbG8="}},  # base64 of "hello": not gzip
        envelope(b"{ truncated"),
        envelope({"messageType": "SOMETHING_ELSE"}),
    ],
)
def test_undecodable_payload_raises_so_aws_retries(env, fake, event, capsys):
    start(env, fake)
    with pytest.raises(PayloadError):
        lambda_handler.handler(event, None)
    assert emf(capsys.readouterr().out)["Events"] == 0  # metrics still flushed


def test_settings_come_from_DENIEDWATCH_CONFIG_else_the_bundled_file(env, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[alerts]\ndedup_window_minutes = 5\n[accounts]\n"111122223333" = "prod"\n')
    env.setenv("DENIEDWATCH_CONFIG", str(path))
    assert lambda_handler.load_runtime_settings().alerts.dedup_window_minutes == 5
    env.delenv("DENIEDWATCH_CONFIG")
    env.setattr(lambda_handler, "BUNDLED_SETTINGS", path)
    assert lambda_handler.load_runtime_settings().ruleset.label("111122223333") == "prod"
    env.setattr(lambda_handler, "BUNDLED_SETTINGS", tmp_path / "absent.toml")
    assert lambda_handler.load_runtime_settings().source is None
    assert lambda_handler.BUNDLED_SETTINGS_ARCNAME == "deniedwatch/deniedwatch.toml"


# --- Secrets Manager, SNS, DynamoDB on moto ---------------------------------------


@pytest.fixture
def secret_arn(aws_env, unique_name, httpserver):
    import boto3

    def make(value: str) -> str:
        return boto3.client("secretsmanager").create_secret(
            Name=unique_name("slack"), SecretString=value
        )["ARN"]

    return make


def test_webhook_from_secrets_manager_is_read_once_per_container(
    env, fake, httpserver, secret_arn, capsys
):
    import boto3

    slack = SlackStandIn(httpserver)
    arn = secret_arn(json.dumps({"webhook_url": slack.url}))
    env.setenv("DENIEDWATCH_SLACK_SECRET_ARN", arn)
    start(env, fake)
    lambda_handler.handler(subscription_payload([denial(user="a")]), None)
    boto3.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    lambda_handler.handler(subscription_payload([denial(user="b")]), None)  # cached URL
    assert len(slack.bodies) == 2
    assert slack.url not in capsys.readouterr().out


def test_unreadable_secret_fails_the_invocation_but_email_still_goes(
    env, fake, aws_env, unique_name, capsys
):
    topic, queue = sns_to_sqs(unique_name)
    env.setenv(
        "DENIEDWATCH_SLACK_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope"
    )
    env.setenv("DENIEDWATCH_SNS_TOPIC_ARN", topic)
    start(env, fake)
    with pytest.raises(DeliveryError, match="slack"):
        lambda_handler.handler(subscription_payload([denial()]), None)
    assert len(read_queue(queue)) == 1
    assert emf(capsys.readouterr().out)["DeliveryFailures"] == 1


def sns_to_sqs(unique_name) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed, to see what was published."""
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=unique_name("alerts"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique_name("inbox"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def read_queue(queue: str) -> list[dict]:
    import boto3

    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_email_goes_to_the_sns_topic(env, fake, aws_env, unique_name):
    topic, queue = sns_to_sqs(unique_name)
    env.setenv("DENIEDWATCH_SNS_TOPIC_ARN", topic)
    start(env, fake)
    lambda_handler.handler(subscription_payload([denial(user="erin")] * 3), None)
    (note,) = read_queue(queue)
    # SNS delivers the UTF-8 subject as sent: account first, then who denied what
    assert note["Subject"].startswith(
        "[deniedwatch] 111122223333 eu-west-1 · erin denied s3:GetObject"
    )
    assert "\n" not in note["Subject"] and len(note["Subject"]) < 100
    assert "WHO" in note["Message"] and "console.aws.amazon.com/cloudtrailv2" in note["Message"]


@pytest.fixture
def table(aws_env, unique_name, env) -> str:
    name = create_dedup_table(unique_name("dedup"))
    env.setenv("DENIEDWATCH_DEDUP_TABLE", name)
    return name


def test_retry_after_a_failed_delivery_resends_only_the_rest(env, fake, httpserver, table):
    """Slack fails the 2nd alert; the AWS retry of the same payload posts only that one."""
    slack = SlackStandIn(httpserver, [status(200, "ok")] + [status(503)] * 4)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    payload = subscription_payload([denial(user="a"), denial(user="b"), denial(user="c")])
    with pytest.raises(DeliveryError):
        lambda_handler.handler(payload, None)
    first = [b["blocks"][0]["text"]["text"] for b in slack.ok_posts()]
    assert len(first) == 1

    lambda_handler.handler(payload, None)  # the AWS retry; Slack is healthy again
    posted = [b["blocks"][0]["text"]["text"] for b in slack.ok_posts()]
    assert len(posted) == 3 and len(set(posted)) == 3  # every group exactly once

    lambda_handler.handler(payload, None)  # a third delivery of the same payload
    assert len(slack.ok_posts()) == 3


def test_dedup_window_across_invocations(env, fake, httpserver, table):
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    lambda_handler.handler(subscription_payload([denial(user="a")] * 2), None)
    lambda_handler.handler(subscription_payload([denial(user="a")] * 5), None)
    assert len(slack.bodies) == 1
    assert held_of(DynamoStore(table), held_key("a")) == 5


def held_key(user: str) -> GroupKey:
    return GroupKey(
        "111122223333", f"arn:aws:iam::111122223333:user/{user}", "s3:GetObject", "AccessDenied"
    )


# --- storm --------------------------------------------------------------------------


def storm_payloads(total: int = 10_000, payloads: int = 20) -> list[dict]:
    rng = random.Random(7)
    users = ["alice", "bob", "mallory"]
    records = [
        denial(user=rng.choice(users), time=f"2026-11-20T09:{i // 200:02d}:00Z")
        for i in range(total)
    ]
    size = total // payloads
    return [subscription_payload(records[i : i + size]) for i in range(0, total, size)]


def test_storm_10000_denials_3_principals_20_payloads(env, fake, httpserver, table):
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    for payload in storm_payloads():
        lambda_handler.handler(payload, None)
    posts = slack.ok_posts()
    # the design's figure: one alert per principal, then the window holds the repeats
    # (nothing new in them: same resource, source IP and principal id)
    assert len(posts) == 3
    for post in posts:
        assert limit_problems(post) == []
    posted = sum(alert_count(p) for p in posts)
    store = DynamoStore(table)
    held = held_of(store)
    assert posted + held == 10_000


def test_storm_across_windows_announces_every_held_back_denial(env, fake):
    """Each payload arrives 20 minutes after the last: alerts repeat each hour and say
    how many were held back; what they say plus what is still held adds up."""
    store = MemoryStore(window_seconds=3600)
    posts: list[dict] = []

    class Rendering:
        name = "slack"

        def send(self, alert) -> None:
            posts.append({"count": alert.count, "held": alert.held_back, "payload": render(alert)})

    rt = lambda_handler.Runtime(
        lambda_handler.load_runtime_settings(), store, Pipeline.fixed([Rendering()])
    )
    for i, payload in enumerate(storm_payloads()):
        lambda_handler.process(
            decode_invocation(payload), rt, Metrics(write=lambda _: None), now=fake.now + i * 1200
        )
    assert len(posts) <= 30
    announced = sum(p["count"] + p["held"] for p in posts)
    held = held_of(store)
    assert announced + held == 10_000
    assert any(p["held"] for p in posts)
    assert all(limit_problems(p["payload"]) == [] for p in posts)


def test_scheduled_flush_posts_a_summary_of_a_window_closed_with_held_denials(
    env, fake, httpserver, table
):
    """One alert, then 45 repeats held in the window; the group goes quiet. The
    EventBridge schedule's event finds the closed window with a Query on the sparse
    index and posts one window summary; the next flush has nothing to say."""
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    rt = lambda_handler.build_runtime(
        sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2, wall_clock=fake.time
    )
    env.setattr(lambda_handler, "_runtime", rt)  # "now" on the fake clock: windows close
    flush_event = {"deniedwatch": "flush-held-windows"}
    lambda_handler.handler(subscription_payload([denial(user="mallory")]), None)
    lambda_handler.handler(subscription_payload([denial(user="mallory")] * 40), None)
    lambda_handler.handler(
        subscription_payload([denial(user="mallory", event_name="PutObject")]), None
    )
    lambda_handler.handler(subscription_payload([denial(user="mallory")] * 5), None)
    assert len(slack.ok_posts()) == 2
    store = DynamoStore(table)
    assert held_of(store) == 45

    fake.sleep(30 * 60)  # the window (60 min) is still open: nothing to summarise
    assert lambda_handler.handler(flush_event, None) == {
        "status": "flushed",
        "summaries": 0,
        "held": 0,
    }
    fake.sleep(31 * 60)
    result = lambda_handler.handler(flush_event, None)
    assert result == {"status": "flushed", "summaries": 1, "held": 45}
    summary = slack.ok_posts()[-1]
    assert summary["text"] == (
        "⏳ 111122223333 eu-west-1 · mallory: 45 more s3:GetObject denials 09:05 UTC "
        "after the last alert"
    )
    assert "s3:GetObject` × 45" in "\n".join(mrkdwn_texts(summary))
    assert held_of(store) == 0
    assert lambda_handler.handler(flush_event, None)["summaries"] == 0
    assert len(slack.ok_posts()) == 3


# --- injection, end to end ------------------------------------------------------------

EVIL = "<!channel> <!here> <@U123> <!subteam^S1> <http://evil|login> *x* `y` " * 40


def test_injection_through_the_handler_reaches_slack_as_plain_text(env, fake, httpserver):
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(env, fake)
    record = denial(user_agent=EVIL, message=EVIL, requestParameters={"k": EVIL})
    record["userIdentity"] = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/admin/<!channel>" + "*" * 5000,
        "accountId": "111122223333",
    }
    lambda_handler.handler(subscription_payload([record]), None)
    (body,) = slack.bodies
    assert limit_problems(body) == []
    text = "\n".join(mrkdwn_texts(body))
    for ping in ("<!channel>", "<!here>", "<@U123>", "<!subteam^S1>", "<http://evil"):
        assert ping not in text
    assert "&lt;!channel&gt;" in text and "&lt;http://evil|login&gt;" in text


# --- property: never crash on a record, raise only on an undecodable payload --------


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(log_messages(denial), max_size=8))
def test_property_handler_never_crashes_on_a_record(env, msgs):
    rendered: list = []

    class Rendering:
        name = "slack"

        def send(self, alert) -> None:
            payload = render(alert)
            assert limit_problems(payload) == []
            rendered.append(payload)

    rt = lambda_handler.Runtime(
        lambda_handler.load_runtime_settings(), MemoryStore(), Pipeline.fixed([Rendering()])
    )
    metrics = Metrics(write=lambda _: None)
    events = [{"id": str(i), "timestamp": 1, "message": m} for i, m in enumerate(msgs)]
    event = subscription_payload([], events=events)
    result = lambda_handler.process(decode_invocation(event), rt, metrics, now=1e9).summary
    assert result["events"] == len(msgs)
    assert metrics.counts["BadRecords"] + result["findings"] <= len(msgs)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300), json_values))
def test_property_random_payloads_raise_only_payload_error(env, data):
    rt = lambda_handler.Runtime(
        lambda_handler.load_runtime_settings(), MemoryStore(), Pipeline.fixed([])
    )
    candidates = [{"awslogs": {"data": data}}, data]
    if isinstance(data, bytes):
        candidates.append(envelope(data))
    for event in candidates:
        with contextlib.suppress(PayloadError):
            lambda_handler.process(
                decode_invocation(event), rt, Metrics(write=lambda _: None), now=1e9
            )
