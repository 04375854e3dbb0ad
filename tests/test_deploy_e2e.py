"""`deniedwatch deploy / status / destroy` end to end against moto server on 127.0.0.1,
and the deployed zip run for real on a subscription payload.

What is simulated, and where:
- moto's CloudFormation skips some resource types (trail, bucket policy, alarms, metric
  and subscription filters, email subscription, secret, invoke config):
  tests/test_template.py lists them and checks them on the template instead.
- ``aws_stand_ins`` (tests/aws_stand_ins.py) stands in for the stack's secret,
  logs:TestMetricFilter and the TLS-only code bucket policy, and records every call
  the CLI makes, to check against deploy/permissions.py.
- moto honours only DeletionPolicy "Retain", not "RetainExceptOnCreate": the retained
  trail bucket and log group are checked on the template.
- moto cannot run Lambda code without docker: the zip, downloaded back from moto's S3,
  runs in a python3.12 subprocess with the function's environment as moto stores it,
  and boto3 put beside it the way the Lambda runtime provides it (tests/lambda_zip.py).
- a local HTTP server stands in for Slack.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from aws_stand_ins import Recorded
from deniedwatch.cli import app
from deniedwatch.deploy.aws import tls_only_policy
from deniedwatch.deploy.package import runtime_python
from deniedwatch.deploy.permissions import (
    FUNCTION_GRANTS,
    allows,
    cli_call,
    deployer_policies,
    function_code_actions,
)
from deniedwatch.rules import DenialRule
from deniedwatch.sources.invocation import FLUSH_EVENT
from lambda_zip import ZipRunFailed, function_env, run_zip, subscription_payload
from live_support import denial, sqs_batch

WEBHOOK_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXX"


@pytest.fixture(autouse=True)
def _quiet_moto_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process moto server logs each request; keep that out of the CLI's stderr."""
    import logging

    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)


def _run_zip(python: str, zip_bytes: bytes, env: dict, payload: dict, workdir: Path) -> dict:
    try:
        return run_zip(python, zip_bytes, env, payload, workdir)
    except ZipRunFailed as exc:
        pytest.fail(f"the function failed under {python}: {exc}")


def _function_env(function_config: dict, moto: str, home: Path) -> dict[str, str]:
    return function_env(function_config["Environment"]["Variables"], moto, home, "us-east-1")


def _role_actions(iam, role_name: str) -> list[str]:
    actions: list[str] = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(doc, str):  # moto's CloudFormation stores the Python repr, not JSON
            doc = ast.literal_eval(doc) if doc.startswith("{'") else json.loads(doc)
        for statement in doc["Statement"]:
            action = statement["Action"]
            actions += [action] if isinstance(action, str) else action
    return actions


def test_deploy_update_destroy_on_moto_and_the_zip_alerts_slack_when_run_outside_moto(
    aws_env, aws_stand_ins, cli, unique_name, httpserver, tmp_path
) -> None:
    python = runtime_python()
    if python is None:
        pytest.skip("python3.12 (the Lambda runtime) is not installed")
    httpserver.expect_request(WEBHOOK_PATH, method="POST").respond_with_data("ok")
    webhook = httpserver.url_for(WEBHOOK_PATH)
    stack = unique_name("dwstack")
    bucket = unique_name("dwcode")
    settings = tmp_path / "deniedwatch.toml"
    settings.write_text("[alerts]\ndedup_window_minutes = 30\n[deploy]\nlog_retention_days = 90\n")
    common = ("--yes", "--stack-name", stack, "--region", "us-east-1", "--config", settings)

    # -- first deploy: CREATE_COMPLETE ---------------------------------------------------
    first = cli(
        "deploy",
        *common,
        "--slack-webhook-url",
        webhook,
        "--slack-channel",
        "#sec-alerts",
        "--email",
        "secops@example.com",
        "--code-bucket",
        bucket,
    )
    assert first.exit_code == 0, first.stderr
    assert "CREATE_COMPLETE" in first.stderr and "Traceback" not in first.stderr
    assert "confirmation email to secops@example.com" in first.stderr
    assert webhook not in first.stdout + first.stderr

    cfn = boto3.client("cloudformation")
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert webhook not in json.dumps(described, default=str)  # not a parameter, not an output
    params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert params["LogRetentionDays"] == "90"
    ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }

    s3, logs = boto3.client("s3"), boto3.client("logs")
    s3.head_bucket(Bucket=ids["TrailBucket"])
    assert s3.get_bucket_encryption(Bucket=ids["TrailBucket"])["ServerSideEncryptionConfiguration"]
    group = logs.describe_log_groups(logGroupNamePrefix=ids["TrailLogGroup"])["logGroups"][0]
    assert group["retentionInDays"] == 90
    # moto serves plain http and enforces aws:SecureTransport: deploy leaves the TLS-only
    # policy out against such a stand-in and says so; its text is checked as AWS gets it
    assert "not applied: the code bucket's TLS-only policy" in first.stderr
    assert bucket not in aws_stand_ins.bucket_policies
    (deny,) = json.loads(tls_only_policy(bucket, "us-east-1"))["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    code_block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(code_block.values())
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert boto3.client("sns").get_topic_attributes(TopicArn=ids["AlertTopic"])["Attributes"]

    fn = boto3.client("lambda").get_function(FunctionName=ids["Function"])["Configuration"]
    # moto's CloudFormation drops Architectures (reports x86_64): arm64 is checked on the
    # template in tests/test_template.py
    assert (fn["Runtime"], fn["Handler"]) == ("python3.12", "deniedwatch.lambda_handler.handler")
    env = fn["Environment"]["Variables"]
    assert env == {
        "DENIEDWATCH_SECRETS_ARN": f"{stack}/slack-webhook-url",
        "DENIEDWATCH_SNS_TOPIC_ARN": ids["AlertTopic"],
        "DENIEDWATCH_DEDUP_TABLE": ids["DedupTable"],
        "DENIEDWATCH_LIVE_SOURCE": "cloudwatch-logs",
    }
    assert webhook not in json.dumps(fn)

    table = boto3.client("dynamodb").describe_table(TableName=ids["DedupTable"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["held"]
    queue = boto3.client("sqs").get_queue_attributes(
        QueueUrl=ids["DeadLetterQueue"], AttributeNames=["MessageRetentionPeriod"]
    )
    assert queue["Attributes"]["MessageRetentionPeriod"] == "1209600"

    iam = boto3.client("iam")
    actions = _role_actions(iam, ids["FunctionRole"])
    # the role's inline policy; the EventBridge path's grant is a separate RolePolicy that
    # moto's CloudFormation skips (checked on the template)
    inline = [a for g in FUNCTION_GRANTS if g.condition is None for a in g.actions]
    assert sorted(actions) == sorted(inline)
    assert not any("*" in a for a in actions + _role_actions(iam, ids["TrailLogsRole"]))

    sm = boto3.client("secretsmanager")
    stored = sm.get_secret_value(SecretId=env["DENIEDWATCH_SECRETS_ARN"])["SecretString"]
    assert json.loads(stored) == {"slack": webhook}  # the destinations' secret, one entry

    # -- the deployed zip, run for real (moto cannot run Lambda code without docker) -------
    zip_bytes = s3.get_object(Bucket=params["CodeBucket"], Key=params["CodeKey"])["Body"].read()
    bundled = zipfile.ZipFile(io.BytesIO(zip_bytes)).read("deniedwatch/deniedwatch.toml").decode()
    assert 'slack_channel = "#sec-alerts"' in bundled and "dedup_window_minutes = 30" in bundled
    record = json.loads(
        (Path(__file__).parent.parent / "src/deniedwatch/data/sample_record.json").read_text()
    )
    result = _run_zip(
        python,
        zip_bytes,
        _function_env(fn, aws_env, tmp_path),
        subscription_payload(record),
        tmp_path,
    )
    assert result["status"] == "ok" and result["findings"] == 1 and result["sent"] >= 1, result
    # the scheduled flush of held denials (the alert policy), run the same way
    flush_dir = tmp_path / "flush"
    flush_dir.mkdir()
    flushed = _run_zip(
        python, zip_bytes, _function_env(fn, aws_env, flush_dir), FLUSH_EVENT, flush_dir
    )
    # every AWS call the function made (recorded by a botocore hook in its process) is one
    # its role grants to the code, and between the two invocations it made each of them
    assert set(result["_aws_calls"]) | set(flushed["_aws_calls"]) == function_code_actions()
    slack_posts = [r for r, _ in httpserver.log if r.path == WEBHOOK_PATH]
    assert len(slack_posts) == 1
    message = slack_posts[0].get_data(as_text=True)
    assert "GetObject" in message and "#sec-alerts" in message
    # the other shape the runtime hands it: an SQS batch of EventBridge envelopes (the
    # eventbridge live source), a denial by someone else, run the same way under 3.12
    sqs_dir = tmp_path / "sqs"
    sqs_dir.mkdir()
    other = denial(user="eve", event_name="DeleteTrail", source="cloudtrail.amazonaws.com")
    batch = _run_zip(
        python, zip_bytes, _function_env(fn, aws_env, sqs_dir), sqs_batch([other]), sqs_dir
    )
    assert batch["batchItemFailures"] == [], batch
    slack_posts = [r for r, _ in httpserver.log if r.path == WEBHOOK_PATH]
    assert len(slack_posts) == 2 and "DeleteTrail" in slack_posts[1].get_data(as_text=True)

    # -- run again: nothing changed, then an update in place -------------------------------
    same = cli(
        "deploy",
        *common,
        "--slack-channel",
        "#sec-alerts",
        "--email",
        "secops@example.com",
        "--code-bucket",
        bucket,
    )
    assert same.exit_code == 0, same.stderr
    assert "already up to date" in same.stderr
    changed = cli(
        "deploy",
        *common,
        "--slack-channel",
        "#sec-alerts",
        "--email",
        "oncall@example.com",
        "--code-bucket",
        bucket,
        "--decode-authorization-messages",
    )
    assert changed.exit_code == 0, changed.stderr
    assert "UPDATE_COMPLETE" in changed.stderr
    updated = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    # the change reached the stack (not only the CLI's words), and the function survived it
    params = {p["ParameterKey"]: p["ParameterValue"] for p in updated["Parameters"]}
    assert params["AlertEmail"] == "oncall@example.com"
    fn_after = boto3.client("lambda").get_function(FunctionName=ids["Function"])["Configuration"]
    assert fn_after["Handler"] == "deniedwatch.lambda_handler.handler"
    # the opt-in decoding: the stack's condition is on and the zip's settings turn it on
    # (moto skips AWS::IAM::RolePolicy: the grant itself is checked in test_template.py)
    assert params["DecodeAuthorizationMessages"] == "true"
    zip_bytes = s3.get_object(Bucket=params["CodeBucket"], Key=params["CodeKey"])["Body"].read()
    bundled = zipfile.ZipFile(io.BytesIO(zip_bytes)).read("deniedwatch/deniedwatch.toml").decode()
    assert "[explain]\ndecode_authorization_messages = true" in bundled
    # the webhook was not asked for again and is still the stored one
    stored = sm.get_secret_value(SecretId=f"{stack}/slack-webhook-url")["SecretString"]
    assert json.loads(stored) == {"slack": webhook}

    # a group holding 7 denials in a window that closed an hour ago: status counts them
    # (a Query on the sparse index) and says the flush schedule is overdue
    from deniedwatch.alerts.dedup import DynamoStore
    from deniedwatch.alerts.group import group_findings
    from deniedwatch.alerts.window import Delivery
    from deniedwatch.finding import Finding

    store = DynamoStore(ids["DedupTable"], window_seconds=600)
    probe = dataclasses.replace(
        Finding.from_record(record), principal_arn="arn:aws:iam::111122223333:user/status-probe"
    )
    (alert,) = group_findings([probe])
    then = time.time() - 3600
    store.admit(alert, batch="status-1", now=then)
    store.delivered(alert, Delivery("status-1", ("slack",), True, then))
    for i in range(7):
        store.admit(alert, batch=f"status-held-{i}", now=then + 60)
    status = cli("status", "--stack-name", stack, "--region", "us-east-1")
    assert "UPDATE_COMPLETE" in status.stdout and "Traceback" not in status.stderr
    assert "held denials" in status.stdout and "7 in 1 groups" in status.stdout
    assert "7 held denials in dedup windows that closed over 30 min ago" in status.stderr
    # moto's CloudFormation made no trail: status names the stand-in, not a missing trail
    assert status.exit_code == 1 and "skips AWS::CloudTrail::Trail" in status.stderr

    # -- destroy: stack and secret gone, trail history kept --------------------------------
    gone = cli("destroy", "--yes", "--stack-name", stack, "--region", "us-east-1")
    assert gone.exit_code == 0, gone.stderr
    assert "deleted" in gone.stderr
    live = [
        s["StackName"]
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert stack not in live
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=f"{stack}/slack-webhook-url")
    with pytest.raises(boto3.client("lambda").exceptions.ResourceNotFoundException):
        boto3.client("lambda").get_function(FunctionName=ids["Function"])
    # The trail bucket and log group outlive the stack on AWS (DeletionPolicy
    # RetainExceptOnCreate, checked in tests/test_template.py); moto 5.2 honours only
    # "Retain", so here they are gone with the stack, and destroy says so instead of "kept".
    said = " ".join(gone.stderr.split())  # rich wraps long lines
    assert (
        f"deleted bucket {ids['TrailBucket']} and log group {ids['TrailLogGroup']} with the "
        "stack (it ignores DeletionPolicy RetainExceptOnCreate; AWS keeps them)"
    ) in said
    assert "kept bucket" not in said
    _assert_calls_allowed(aws_stand_ins, stack)


def _assert_calls_allowed(recorded: Recorded, stack: str) -> None:
    """Every call the CLI made is declared in deploy/permissions.py and allowed by the
    policy `deniedwatch deploy --print-iam-policy` prints."""
    policy = deployer_policies(stack)
    assert recorded.calls
    for service, operation in sorted(recorded.calls):
        call = cli_call(service, operation)
        assert call is not None, f"{service}:{operation} is not in permissions.CLI_CALLS"
        assert allows(policy, call.action), call


def test_existing_log_group_mode_creates_no_trail_and_purge_spares_that_group(
    aws_env, aws_stand_ins, cli, unique_name
) -> None:
    logs = boto3.client("logs")
    existing = unique_name("/org/cloudtrail")
    logs.create_log_group(logGroupName=existing)
    stack = unique_name("dwexisting")
    args = ("--yes", "--stack-name", stack, "--region", "us-east-1")
    deployed = cli(
        "deploy",
        *args,
        "--slack-webhook-url",
        "https://hooks.slack.com/services/T/B/X",
        "--existing-log-group",
        existing,
        "--code-bucket",
        unique_name("dwcode"),
    )
    assert deployed.exit_code == 0, deployed.stderr
    resources = {
        r["LogicalResourceId"]
        for r in boto3.client("cloudformation").list_stack_resources(StackName=stack)[
            "StackResourceSummaries"
        ]
    }
    assert not resources & {"TrailBucket", "TrailLogGroup", "TrailLogsRole"}
    assert {"Function", "AlertTopic", "DedupTable"} <= resources
    purged = cli("destroy", "--purge", *args)
    assert purged.exit_code == 0, purged.stderr
    assert logs.describe_log_groups(logGroupNamePrefix=existing)["logGroups"]  # not ours
    _assert_calls_allowed(aws_stand_ins, stack)


def test_existing_log_group_that_does_not_exist_is_a_clear_error(aws_env, cli, unique_name) -> None:
    result = cli(
        "deploy",
        "--yes",
        "--stack-name",
        unique_name("dwmissing"),
        "--region",
        "us-east-1",
        "--slack-webhook-url",
        "https://hooks.slack.com/services/T/B/X",
        "--existing-log-group",
        "/no/such/group",
    )
    assert result.exit_code == 2
    assert "log group /no/such/group does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_first_deploy_with_nothing_to_alert_fails_before_touching_the_stack(
    aws_env, cli, unique_name
) -> None:
    """Neither a webhook nor an email (an email alone is enough: tests/test_deploy_again.py)."""
    stack = unique_name("dwnohook")
    result = cli("deploy", "--yes", "--stack-name", stack, "--region", "us-east-1")
    assert result.exit_code == 2 and "nothing to alert" in result.stderr
    with pytest.raises(boto3.client("cloudformation").exceptions.ClientError):
        boto3.client("cloudformation").describe_stacks(StackName=stack)


def test_deploy_prompts_like_an_installer_and_hides_the_webhook(
    aws_env, aws_stand_ins, unique_name, monkeypatch
) -> None:
    from deniedwatch.cli import stack_io

    monkeypatch.setattr(stack_io, "has_terminal", lambda: True)  # CliRunner types the input
    stack = unique_name("dwprompt")
    answers = "\n".join(
        [
            *("us-east-1", stack, "https://hooks.slack.com/services/T/B/SECRET", "#sec", ""),
            *("", "n", "my-trail-logs", "", "n"),  # log group, org trail, trail bucket, code
        ]
    )
    result = CliRunner().invoke(app, ["deploy"], input=answers + "\n")
    assert result.exit_code == 1  # answered "n" to "Deploy?"
    out = result.output
    for question in (
        "AWS region",
        "Stack name",
        "Slack webhook URL",
        "Slack channel",
        "Alert email",
        "Existing CloudTrail log group",
        "Organization trail",
        "Trail bucket name",
        "Code bucket",
        "Deploy?",
    ):
        assert question in out
    # the summary lists every resource the stack will create, from the template
    for resource in ("TrailBucket", "Trail", "Function", "DedupTable", "SlackWebhookSecret"):
        assert f" {resource} (AWS::" in out
    assert "AlertEmailSubscription" not in out  # no email given
    assert "my-trail-logs" in out
    assert "SECRET" not in out  # hidden input is not echoed
    assert "deniedwatch-code-123456789012-us-east-1" in out  # the default code bucket
    with pytest.raises(boto3.client("cloudformation").exceptions.ClientError):
        boto3.client("cloudformation").describe_stacks(StackName=stack)


def test_template_command_prints_the_rule_rendered_from_settings(cli, tmp_path) -> None:
    settings = tmp_path / "s.toml"
    settings.write_text('[denial]\nextra_codes = ["Client.CustomDenied"]\n')
    result = cli("template", "--config", settings)
    assert result.exit_code == 0
    assert '($.errorCode = "Client.CustomDenied")' in result.stdout
    assert result.stdout.startswith("AWSTemplateFormatVersion")


def test_an_interrupted_purge_is_finished_from_the_names_deploy_printed(
    aws_env, cli, unique_name
) -> None:
    """destroy --purge prints the names before deleting the stack; with the stack gone,
    the same command with --trail-bucket / --trail-log-group finishes the purge."""
    s3, logs = boto3.client("s3"), boto3.client("logs")
    bucket, group = unique_name("dwtrail"), unique_name("/dw/trail")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="AWSLogs/1/x.json.gz", Body=b"x")
    logs.create_log_group(logGroupName=group)
    args = ("destroy", "--purge", "--yes", "--stack-name", unique_name("dwgone"))
    args += ("--region", "us-east-1", "--trail-bucket", bucket, "--trail-log-group", group)
    done = cli(*args)
    assert done.exit_code == 0, done.stderr
    assert f"deleted bucket {bucket}" in done.stderr and f"deleted log group {group}" in done.stderr
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_bucket(Bucket=bucket)
    assert not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    again = cli(
        *args, "--region", "us-east-1", "--trail-bucket", bucket, "--trail-log-group", group
    )
    assert again.exit_code == 0 and "Traceback" not in again.stderr  # idempotent


def test_sixty_character_stack_name_is_refused_before_any_aws_call(no_aws_credentials, cli) -> None:
    result = cli("deploy", "--yes", "--stack-name", "a" * 60, "--region", "us-east-1")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "at most 57 characters" in lines[0], result.stderr


def test_quote_in_a_code_is_refused_before_any_aws_call(no_aws_credentials, cli, tmp_path) -> None:
    settings = tmp_path / "s.toml"
    settings.write_text('[denial]\nextra_codes = ["Bad\\"Code"]\n')
    result = cli("deploy", "--yes", "--region", "us-east-1", "--config", settings)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{settings}:2: denial.extra_codes" in lines[0], result.stderr


def test_print_iam_policy_needs_no_credentials(no_aws_credentials, cli) -> None:
    result = cli("deploy", "--print-iam-policy", "--stack-name", "dw", "--region", "cn-north-1")
    assert result.exit_code == 0, result.stderr
    statements = [s for policy in json.loads(result.stdout) for s in policy["Statement"]]
    (stack,) = [s for s in statements if s["Sid"] == "TheStack"]
    assert "arn:aws-cn:cloudformation:*:*:stack/dw/*" in stack["Resource"]
    actions = {a for s in statements for a in s["Action"]}
    assert {"lambda:CreateFunction", "logs:TestMetricFilter", "iam:PassRole"} <= actions
    assert not any(a.endswith("*") for a in actions)


def test_the_deploy_steps_run_without_the_cli(aws_env, unique_name) -> None:
    """deploy/run.py is callable as a function: here the summary is declined, so the
    preflight runs (without TestMetricFilter, which moto lacks) and nothing is created."""
    from deniedwatch.deploy import plan, preflight
    from deniedwatch.deploy.run import deploy

    stack = unique_name("dwfn")
    seen = []
    the_plan = plan.DeployPlan(
        stack, "us-east-1", unique_name("dwcode"), DenialRule().filter_pattern(), email=None
    )
    outcome = deploy(
        boto3.client,
        the_plan,
        DenialRule(),
        account="123456789012",
        settings_text="",
        secret_values={"slack": "https://hooks.slack.com/services/T/B/X"},
        confirm=lambda summary: seen.append(summary) or False,
        checks=(preflight.check_log_group, preflight.check_secret),
    )
    assert outcome is None
    (summary,) = seen
    listed = {r.logical_id for r in summary.resources}
    assert {"Trail", "TrailBucket", "Function", "SlackWebhookSecret"} <= listed
    assert "AlertEmailSubscription" not in listed and not summary.stack_exists
    with pytest.raises(boto3.client("cloudformation").exceptions.ClientError):
        boto3.client("cloudformation").describe_stacks(StackName=stack)
