"""`deniedwatch deploy --live-source eventbridge|both` end to end against moto server.

Simulated, and where: ``aws_stand_ins`` (tests/aws_stand_ins.py) for the stack's secret,
logs:TestMetricFilter and the code bucket policy. moto 5.2's events:TestEventPattern is a
stub that answers nothing, so the session the CLI uses answers that one call with moto's
own pattern matcher (the one that routes PutEvents) through botocore's before-call hook;
every other call goes to moto server. moto's CloudFormation skips the trail, alarms,
subscription filter, queue policy and role policy (tests/test_template.py checks those on
the template).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest

from deniedwatch.cli import stack_io
from deniedwatch.rules import DenialRule


@pytest.fixture(autouse=True)
def _quiet_moto_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)


def _answer_test_event_pattern(params: dict[str, Any], **_: Any) -> tuple[Any, dict]:
    """``params`` is the serialised request: its JSON body holds EventPattern and Event."""
    from moto.events.models import EventPattern

    body = json.loads(params["body"])
    matched = EventPattern.load(body["EventPattern"]).matches_event(json.loads(body["Event"]))
    return _Http200(), {"Result": matched, "ResponseMetadata": {"HTTPStatusCode": 200}}


class _Http200:
    """What botocore reads of the HTTP response when a before-call hook answers."""

    status_code = 200


@pytest.fixture
def pattern_answers(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Sessions whose TestEventPattern is answered by moto's matcher; records each call."""
    asked: list[dict] = []
    real = stack_io.session

    def session(region: str | None) -> Any:
        s = real(region)

        def answer(params: dict[str, Any], **kw: Any) -> tuple[Any, dict]:
            asked.append(params)
            return _answer_test_event_pattern(params, **kw)

        s.events.register("before-call.events.TestEventPattern", answer)
        return s

    monkeypatch.setattr(stack_io, "session", session)
    return asked


def _deploy(cli, unique_name, live_source: str, *extra: str):
    stack = unique_name("dwlive")
    result = cli(
        "deploy",
        "--yes",
        "--stack-name",
        stack,
        "--region",
        "us-east-1",
        "--slack-webhook-url",
        "https://hooks.slack.com/services/T/B/X",
        "--code-bucket",
        unique_name("dwcode"),
        "--live-source",
        live_source,
        *extra,
    )
    return stack, result


def _resources(stack: str) -> dict[str, str]:
    cfn = boto3.client("cloudformation")
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    }


def _assert_fast_path_wired(stack: str, ids: dict[str, str], live_source: str) -> None:
    sqs, events, lam = boto3.client("sqs"), boto3.client("events"), boto3.client("lambda")
    queue = sqs.get_queue_attributes(QueueUrl=ids["DenialEventsQueue"], AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=ids["DenialEventsDeadLetterQueue"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert queue["SqsManagedSseEnabled"] == "true"
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn and int(redrive["maxReceiveCount"]) == 5

    rule_name = ids["DenialEventsRule"].split("|")[-1].split("/")[-1]
    rule = events.describe_rule(Name=rule_name)
    assert rule["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert json.loads(rule["EventPattern"]) == DenialRule().event_pattern()
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"] == queue["QueueArn"]
    assert target["DeadLetterConfig"]["Arn"] == dlq_arn

    # moto's CloudFormation skips AWS::SQS::QueuePolicy and AWS::IAM::RolePolicy: their
    # content is checked on the template (tests/test_template.py)

    (mapping,) = lam.list_event_source_mappings(FunctionName=ids["Function"])["EventSourceMappings"]
    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert mapping["BatchSize"] == 10 and mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    env = lam.get_function(FunctionName=ids["Function"])["Configuration"]["Environment"]
    assert env["Variables"]["DENIEDWATCH_LIVE_SOURCE"] == live_source


def test_deploy_eventbridge_on_moto_wires_rule_queue_policy_and_mapping(
    aws_env, aws_stand_ins, cli, unique_name, pattern_answers
) -> None:
    stack, result = _deploy(cli, unique_name, "eventbridge")
    assert result.exit_code == 0, result.stderr
    assert "EventBridge agrees with the denial rule" in result.stderr
    assert "this region's CloudTrail events only" in result.stderr
    assert len(pattern_answers) >= 10  # asked before the stack was created
    ids = _resources(stack)
    _assert_fast_path_wired(stack, ids, "eventbridge")
    # no log group, no subscription: the trail writes to S3 only
    assert not ids.keys() & {"TrailLogGroup", "TrailLogsRole", "DenialSubscriptionFilter"}
    assert "TrailBucket" in ids
    assert "events queue: " in result.stdout


def test_deploy_both_on_moto_keeps_the_log_group_and_adds_the_fast_path(
    aws_env, aws_stand_ins, cli, unique_name, pattern_answers
) -> None:
    stack, result = _deploy(cli, unique_name, "both")
    assert result.exit_code == 0, result.stderr
    ids = _resources(stack)
    _assert_fast_path_wired(stack, ids, "both")
    assert {"TrailLogGroup", "TrailLogsRole"} <= ids.keys()

    # a denial the fast path could not alert shows in `status`
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=ids["DenialEventsDeadLetterQueue"], MessageBody="{}")
    status = cli("status", "--stack-name", stack, "--region", "us-east-1")
    assert "events dead-letter queue" in status.stdout
    assert "1 denials the fast path could not alert" in status.stderr


def test_deploy_refuses_when_eventbridge_disagrees_and_creates_nothing(
    aws_env, aws_stand_ins, cli, unique_name, monkeypatch
) -> None:
    real = stack_io.session

    def session(region: str | None) -> Any:
        s = real(region)
        s.events.register(
            "before-call.events.TestEventPattern",
            lambda params, **_: (_Http200(), {"Result": True, "ResponseMetadata": {}}),
        )
        return s

    monkeypatch.setattr(stack_io, "session", session)
    stack, result = _deploy(cli, unique_name, "eventbridge")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "EventBridge disagrees" in result.stderr and "should not match" in result.stderr
    cfn = boto3.client("cloudformation")
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack]


def test_bad_live_source_is_one_line(aws_env, cli, unique_name) -> None:
    _, result = _deploy(cli, unique_name, "kinesis")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "live_source 'kinesis': one of cloudwatch-logs, eventbridge, both" in result.stderr


def test_an_organization_trail_with_eventbridge_only_is_refused_in_one_line(
    aws_env, cli, unique_name
) -> None:
    """Member accounts' calls never reach this account's bus: nothing would alert on them."""
    stack, result = _deploy(cli, unique_name, "eventbridge", "--organization-trail")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "would alert on this account's denials only" in result.stderr
    assert "--live-source both" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    cfn = boto3.client("cloudformation")
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack]


@pytest.mark.parametrize("live_source", ["both", "cloudwatch-logs"])
def test_an_organization_trail_keeps_the_log_group_path(live_source) -> None:
    from deniedwatch.deploy import plan

    org = plan.DeployPlan("s", "eu-west-1", "code-bucket", "{ }", organization_trail=True)
    assert plan.check_plan(dataclasses.replace(org, live_source=live_source)).organization_trail


def test_template_takes_the_live_source_flag(cli, tmp_path) -> None:
    settings = tmp_path / "s.toml"
    settings.write_text('[deploy]\nlive_source = "both"\n')
    from_settings = cli("template", "--config", settings)
    assert "  LiveSource:\n    Type: String\n    Default: both\n" in from_settings.stdout
    flagged = cli("template", "--config", settings, "--live-source", "eventbridge")
    assert "    Default: eventbridge\n" in flagged.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[deploy]\nlive_source = "sqs"\n')
    refused = cli("template", "--config", bad)
    assert refused.exit_code == 2 and "bad.toml:2: deploy.live_source: must be one of" in (
        refused.stderr
    )


# -- the plan's checks (pure) ------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"live_source": "sqs"}, "live_source 'sqs': one of cloudwatch-logs, eventbridge, both"),
        ({"queue_batch_size": 0}, "queue_batch_size 0: 1 to 10000"),
        ({"queue_batch_size": 10001}, "queue_batch_size 10001: 1 to 10000"),
        ({"queue_batch_window_seconds": 301}, "queue_batch_window_seconds 301: 0 to 300"),
        (
            {"queue_batch_size": 11, "queue_batch_window_seconds": 0},
            "queue_batch_size over 10 needs queue_batch_window_seconds of at least 1",
        ),
    ],
)
def test_plan_refuses_what_the_event_source_mapping_would(changes, message) -> None:
    from deniedwatch.deploy import plan

    base = plan.DeployPlan("s", "eu-west-1", "deniedwatch-code", "{ }", live_source="eventbridge")
    with pytest.raises(plan.PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan.check_plan(dataclasses.replace(base, **changes))


def test_plan_passes_the_live_source_and_batching_as_parameters() -> None:
    from deniedwatch.deploy import plan

    p = plan.check_plan(
        plan.DeployPlan(
            "s",
            "eu-west-1",
            "deniedwatch-code",
            "{ }",
            live_source="both",
            queue_batch_size=100,
            queue_batch_window_seconds=5,
        )
    )
    params = p.parameters("key")
    assert (params["LiveSource"], params["QueueBatchSize"], params["QueueBatchWindowSeconds"]) == (
        "both",
        "100",
        "5",
    )
    assert plan.DeployPlan("s", "eu-west-1", "b", "{ }").parameters("k")["LiveSource"] == (
        "cloudwatch-logs"
    )


def test_existing_log_group_needs_a_free_filter_slot_only_when_subscribed() -> None:
    """live_source=eventbridge hangs only the CIS metric filter on an existing group."""
    from botocore.stub import Stubber

    from deniedwatch.deploy import aws, plan

    logs = boto3.client(
        "logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    group = {"logGroups": [{"logGroupName": "org/trail"}]}
    full = {
        "subscriptionFilters": [
            {"filterName": n, "destinationArn": f"arn:aws:lambda:us-east-1:1:function:{n}"}
            for n in ("siem", "archive")
        ]
    }
    with Stubber(logs) as stub:
        stub.add_response("describe_log_groups", group)
        # no DescribeSubscriptionFilters call: the Stubber would fail on one
        aws.check_existing_log_group(logs, "org/trail", "dw-alerts", subscribes=False)
        stub.add_response("describe_log_groups", group)
        stub.add_response("describe_subscription_filters", full)
        with pytest.raises(plan.PlanError, match="already has 2 subscription filters"):
            aws.check_existing_log_group(logs, "org/trail", "dw-alerts", subscribes=True)
    assert not plan.DeployPlan("s", "r", "b", "{ }", live_source="eventbridge").subscribes_to_logs
    assert plan.DeployPlan("s", "r", "b", "{ }", live_source="both").subscribes_to_logs
