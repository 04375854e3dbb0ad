"""AWS faults: Secrets Manager unreachable, DynamoDB down or throttled, SNS failing.

"Down" is a closed port on 127.0.0.1 named by the per-service endpoint variables
(AWS_ENDPOINT_URL_<SERVICE>), so botocore really fails to connect; everything else
stays on the moto server. "Throttled" is a botocore Stubber answering
ProvisionedThroughputExceededException (moto does not throttle). AWS_MAX_ATTEMPTS=2
keeps botocore's own retries short; the handler's behaviour does not depend on it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from figures import record

from deniedwatch import lambda_handler
from deniedwatch.alerts.dedup import DynamoStore
from deniedwatch.alerts.deliver import DeliveryError
from live_support import FakeTime, SlackStandIn, denial, subscription_payload

USERS = [f"user{k}" for k in range(6)]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens: connection refused


def event() -> dict[str, Any]:
    return subscription_payload([denial(user=u) for u in USERS for _ in range(3)])


def start(env: pytest.MonkeyPatch) -> lambda_handler.Runtime:
    fake = FakeTime()
    rt = lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2)
    env.setattr(lambda_handler, "_runtime", rt)
    return rt


def lines(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(log lines, EMF total lines) printed by the handler (per-destination EMF left out)."""
    parsed = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    metrics = [p for p in parsed if "_aws" in p and "destination" not in p]
    return [p for p in parsed if "_aws" not in p], metrics


def posted_users(slack: SlackStandIn) -> list[str]:
    # the first line: "<account> <region> · <who> denied <action> …"
    return [
        b["blocks"][0]["text"]["text"].split(" · ", 1)[1].split(" denied ", 1)[0]
        for b in slack.ok_posts()
    ]


@pytest.fixture
def aws_faults_env(lambda_env, dedup_table):
    lambda_env.setenv("AWS_MAX_ATTEMPTS", "2")
    return lambda_env


def test_secrets_manager_unreachable_fails_the_invocation_and_the_retry_posts_all(
    aws_faults_env, httpserver, capsys
):
    import boto3

    env = aws_faults_env
    slack = SlackStandIn(httpserver)
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"slack-{id(slack)}", SecretString=json.dumps({"webhook_url": slack.url})
    )["ARN"]
    env.setenv("DENIEDWATCH_SLACK_SECRET_ARN", arn)
    env.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", closed_port_url())
    start(env)
    payload = event()
    with pytest.raises(DeliveryError) as failed:
        lambda_handler.handler(payload, None)
    message = str(failed.value)
    logs, metrics = lines(capsys.readouterr().out)
    failures = [x for x in logs if x["kind"] == "delivery-failed"]
    assert "cannot read the secret" in message and "Endpoint" in message
    assert slack.bodies == []

    env.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")  # Secrets Manager is back
    lambda_handler.handler(payload, None)  # AWS's retry of the same event
    users = posted_users(slack)
    capsys.readouterr()
    record(
        "aws-faults",
        "Secrets Manager unreachable",
        tried="invoke with the secret endpoint refused, then AWS's retry",
        times=2,
        held="invocation fails with a clear error; retry posts every alert once",
        alerts=len(USERS),
        first_try_error=message[:90],
        delivery_failed_log_lines=len(failures),
        DeliveryFailures_metric=metrics[0]["DeliveryFailures"],
        posted_after_retry=len(users),
        lost=len(set(USERS) - set(users)),
        duplicates=len(users) - len(set(users)),
    )
    assert failures and metrics[0]["DeliveryFailures"] == len(USERS)
    assert sorted(users) == USERS


@pytest.mark.parametrize("fault", ["down", "throttled"])
def test_dynamodb_fault_fails_open_logged_and_counted(fault, aws_faults_env, httpserver, capsys):
    env = aws_faults_env
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    if fault == "down":
        env.setenv("AWS_ENDPOINT_URL_DYNAMODB", closed_port_url())
    rt = start(env)
    if fault == "throttled":
        import boto3
        from botocore.stub import Stubber

        client = boto3.client("dynamodb")
        stub = Stubber(client)
        # admit + delivered for each alert, and one caller-novelty lookup: each one read
        for _ in range(2 * len(USERS) + 1):
            stub.add_client_error(
                "get_item",
                service_error_code="ProvisionedThroughputExceededException",
                service_message="Rate of requests exceeds the allowed throughput.",
                http_status_code=400,
            )
        stub.activate()
        assert isinstance(rt.store, DynamoStore)
        rt.store._client = client
    result = lambda_handler.handler(event(), None)
    logs, (metric,) = lines(capsys.readouterr().out)
    store_errors = [x for x in logs if x["kind"] == "dedup-store-error"]
    users = posted_users(slack)
    record(
        "aws-faults",
        f"DynamoDB {fault}",
        tried="invoke with the dedup table "
        + ("endpoint refused" if fault == "down" else "throttled (Stubber)"),
        times=1,
        held="fail open: every alert posted; errors logged + DedupStoreErrors",
        alerts=len(USERS),
        posted=len(users),
        dedup_store_error_log_lines=len(store_errors),
        DedupStoreErrors_metric=metric["DedupStoreErrors"],
        lost=len(set(USERS) - set(users)),
    )
    assert result["sent"] == len(USERS) and sorted(users) == USERS
    # admit + delivered per alert, plus the one (failed) lookup of which callers are new
    assert metric["DedupStoreErrors"] == 2 * len(USERS) + 1 == len(store_errors)
    assert all(x["level"] == "error" for x in store_errors)


@pytest.mark.parametrize("fault", ["endpoint refused", "topic missing"])
def test_sns_failing_slack_still_posts_and_the_retry_sends_only_email(
    fault, aws_faults_env, httpserver, capsys, unique_name
):
    import boto3

    env = aws_faults_env
    slack = SlackStandIn(httpserver)
    env.setenv("SLACK_WEBHOOK_URL", slack.url)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    name = unique_name("alerts")
    topic = f"arn:aws:sns:us-east-1:123456789012:{name}"
    env.setenv("DENIEDWATCH_SNS_TOPIC_ARN", topic)
    if fault == "endpoint refused":
        env.setenv("AWS_ENDPOINT_URL_SNS", closed_port_url())
    start(env)
    payload = event()
    with pytest.raises(DeliveryError, match="email"):
        lambda_handler.handler(payload, None)
    logs, (metric,) = lines(capsys.readouterr().out)
    failed = [x for x in logs if x["kind"] == "delivery-failed"]
    slack_first = posted_users(slack)

    env.delenv("AWS_ENDPOINT_URL_SNS", raising=False)  # SNS is back, the topic exists
    assert sns.create_topic(Name=name)["TopicArn"] == topic
    queue = sqs.create_queue(QueueName=unique_name("inbox"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn["QueueArn"])
    lambda_handler.reset()  # the retry lands in a new container (the old one's client
    start(env)  # still points at the refused endpoint; AWS may route it anywhere anyway)
    lambda_handler.handler(payload, None)  # AWS's retry
    capsys.readouterr()
    mails = []
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        mails += [json.loads(m["Body"])["Subject"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )
    users = posted_users(slack)
    record(
        "aws-faults",
        f"SNS failing ({fault})",
        tried="invoke with email failing, then AWS's retry with SNS back",
        times=2,
        held="Slack posts all; failure logged + counted; retry sends only the emails",
        alerts=len(USERS),
        slack_posts_first_try=len(slack_first),
        delivery_failed_log_lines=len(failed),
        DeliveryFailures_metric=metric["DeliveryFailures"],
        emails_after_retry=len(mails),
        slack_reposts_on_retry=len(users) - len(slack_first),
        lost=len(set(USERS) - set(slack_first)) + len(USERS) - len(mails),
    )
    assert sorted(slack_first) == USERS
    assert metric["DeliveryFailures"] == len(USERS) == len(failed)
    assert all(x["channel"] == "email" for x in failed)
    assert len(users) == len(USERS)  # the retry did not post to Slack again
    assert len(mails) == len(USERS)
