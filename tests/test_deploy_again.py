"""The second deploy: after a failed first create, after `destroy`, and `destroy --purge`
under the printed policy; each through the CLI against moto server.

Where moto cannot show AWS's answer, ``aws_stand_ins`` (tests/aws_stand_ins.py) puts it in
the CLI's clients, and each test names the AWS page it imitates:
- moto never rolls a stack back, so a stack "left by a failed first create" is a moto
  stack whose DescribeStacks status reads ROLLBACK_COMPLETE (what CloudFormation leaves,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html),
  and with no secret (CloudFormation deletes an AWS::SecretsManager::Secret without a
  recovery window: aws-cloudformation/cloudformation-coverage-roadmap#1999);
- moto's DeleteObjects never denies a version, so a purge without
  s3:DeleteObjectVersion gets S3's Quiet-mode answer with an AccessDenied entry in
  ``Errors`` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"


@pytest.fixture(autouse=True)
def _quiet_moto_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)


def _deploy(cli, stack: str, code_bucket: str, *extra: str):
    return cli(
        "deploy",
        "--yes",
        "--stack-name",
        stack,
        "--region",
        "us-east-1",
        "--slack-webhook-url",
        WEBHOOK,
        "--code-bucket",
        code_bucket,
        *extra,
    )


def _stack_left_by_a_failed_create(stack: str, status: str, stand_ins: Any) -> str:
    """A stack in moto that DescribeStacks reports as ``status`` until it is deleted."""
    cfn = boto3.client("cloudformation")
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    dead = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))["StackId"]

    def as_failed(params: dict[str, Any], parsed: dict[str, Any]) -> None:
        for s in parsed.get("Stacks", []):
            if s["StackId"] == dead and not s["StackStatus"].startswith("DELETE"):
                s["StackStatus"] = status

    stand_ins.edits[("cloudformation", "DescribeStacks")] = as_failed
    return dead


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"])
def test_a_deploy_after_a_failed_first_create_replaces_the_stack(
    aws_stand_ins, cli, unique_name, status
) -> None:
    stack = unique_name("dwagain")
    dead = _stack_left_by_a_failed_create(stack, status, aws_stand_ins)

    result = _deploy(cli, stack, unique_name("dwcode"))

    assert result.exit_code == 0, result.stderr
    assert f"stack {stack} is {status} from an earlier deploy" in result.stderr
    assert "CREATE_COMPLETE" in result.stderr and "Traceback" not in result.stderr
    assert "destroy" not in result.stderr  # the retry hint is not contradicted
    now = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    assert now["StackId"] != dead and now["StackStatus"] == "CREATE_COMPLETE"
    assert ("cloudformation", "DeleteStack") in aws_stand_ins.calls


def _versioned_bucket_with_history(name: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):  # two versions of one log file
        s3.put_object(Bucket=name, Key="AWSLogs/123456789012/CloudTrail/x.json.gz", Body=body)


def test_purge_without_delete_object_version_says_access_denied_not_bucket_not_empty(
    aws_stand_ins, cli, unique_name
) -> None:
    bucket = unique_name("dwtrail")
    _versioned_bucket_with_history(bucket)

    def deny_versions(params: dict[str, Any]) -> dict[str, Any]:
        # S3's Quiet-mode answer to a caller without s3:DeleteObjectVersion: HTTP 200,
        # each version it kept listed in Errors (nothing deleted)
        return {
            "Errors": [
                {
                    "Key": o["Key"],
                    "VersionId": o["VersionId"],
                    "Code": "AccessDenied",
                    "Message": "Access Denied",
                }
                for o in params["Delete"]["Objects"]
            ]
        }

    aws_stand_ins.answers[("s3", "DeleteObjects")] = deny_versions
    result = cli(
        "destroy", "--yes", "--purge", "--stack-name", unique_name("dwgone"),
        "--trail-bucket", bucket,
    )  # fmt: skip

    assert result.exit_code == 2, result.stderr
    assert "AccessDenied" in result.stderr and "s3:DeleteObjectVersion" in result.stderr
    assert "BucketNotEmpty" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_purge_deletes_every_version_when_s3_allows_it(aws_stand_ins, cli, unique_name) -> None:
    bucket = unique_name("dwtrail")
    _versioned_bucket_with_history(bucket)
    result = cli(
        "destroy", "--yes", "--purge", "--stack-name", unique_name("dwgone"),
        "--trail-bucket", bucket,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"deleted bucket {bucket}" in result.stderr
    assert bucket not in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_the_printed_policy_lets_destroy_purge_delete_versions() -> None:
    from deniedwatch.deploy.permissions import allows, deployer_policies

    assert allows(deployer_policies("dw"), "s3:DeleteObjectVersion")


# -- a second deploy after `destroy`, which keeps the trail bucket and log group -----------
# moto honours DeletionPolicy "Retain" only, not "RetainExceptOnCreate", so what destroy
# keeps on AWS is made here directly, as destroy leaves it.
def test_a_kept_trail_bucket_stops_the_next_create_in_one_line(
    aws_stand_ins, cli, unique_name
) -> None:
    stack, bucket = unique_name("dwagain"), unique_name("dwtrail")
    boto3.client("s3").create_bucket(Bucket=bucket)  # kept by an earlier destroy

    result = _deploy(cli, stack, unique_name("dwcode"), "--trail-bucket", bucket)

    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    said = lines[0]
    assert f"trail bucket {bucket} already exists in this account" in said
    assert f"destroy --purge --stack-name {stack} --trail-bucket {bucket}" in said
    cfn = boto3.client("cloudformation")
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack]


def test_a_trail_bucket_name_another_account_holds_is_named_as_such(
    aws_stand_ins, cli, unique_name
) -> None:
    bucket = unique_name("dwtrail")
    # S3's answer to HeadBucket with ExpectedBucketOwner set to someone else's bucket
    aws_stand_ins.answers[("s3", "HeadBucket")] = lambda params: (
        {"Error": {"Code": "403", "Message": "Forbidden"}} if params["Bucket"] == bucket else None
    )
    result = _deploy(cli, unique_name("dwagain"), unique_name("dwcode"), "--trail-bucket", bucket)
    assert result.exit_code == 2, result.stderr
    assert f"trail bucket name {bucket} is taken by another account" in result.stderr


def test_a_kept_log_group_is_named_and_the_new_stack_makes_its_own(
    aws_stand_ins, cli, unique_name
) -> None:
    stack = unique_name("dwagain")
    kept = f"{stack}-TrailLogGroup-AbCdEf123456"  # CloudFormation's generated name
    boto3.client("logs").create_log_group(logGroupName=kept)

    result = _deploy(cli, stack, unique_name("dwcode"))

    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert f"log group {kept} (kept by an earlier destroy of {stack})" in said
    assert f"destroy --purge --trail-log-group {kept}" in said
    assert "CREATE_COMPLETE" in said


# -- the subscription filter pattern's fallback --------------------------------------------
def test_deploy_falls_back_to_the_regex_pattern_when_cloudwatch_refuses_wildcards(
    aws_stand_ins, cli, unique_name
) -> None:
    """CloudWatch Logs, as the third-party review claims it behaves (a cap on wildcards
    per JSON pattern), refusing the wildcard form with InvalidParameterException; the
    stand-in's evaluator (tests/cwl_filter.py) judges the regular-expression form."""
    from deniedwatch.rules import DenialRule

    def capped(params: dict[str, Any]) -> dict[str, Any] | None:
        if params["filterPattern"].count('*"') + params["filterPattern"].count('"*') > 3:
            return {"Error": {"Code": "InvalidParameterException", "Message": "Invalid pattern"}}
        return None  # the stand-in's evaluator answers

    aws_stand_ins.answers[("logs", "TestMetricFilter")] = capped
    stack = unique_name("dwregex")

    result = _deploy(cli, stack, unique_name("dwcode"))

    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "in the regular-expression form, deployed because the wildcard form is invalid" in said
    stack_now = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in stack_now["Parameters"]}
    assert deployed["DenialFilterPattern"] == DenialRule().filter_pattern_regex()
    status = cli("status", "--stack-name", stack)
    assert "filter pattern" in status.stdout and "regular-expression form" in status.stdout


# -- email only ------------------------------------------------------------------------
def test_an_email_only_deploy_needs_no_slack_webhook(
    aws_stand_ins, cli, unique_name, monkeypatch
) -> None:
    import io
    import zipfile

    from deniedwatch.config import parse_settings

    for name in ("DENIEDWATCH_SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    stack, code = unique_name("dwemail"), unique_name("dwcode")
    result = cli(
        "deploy", "--yes", "--stack-name", stack, "--region", "us-east-1",
        "--code-bucket", code, "--email", "secops@example.com",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert ("secretsmanager", "PutSecretValue") not in aws_stand_ins.calls
    s3 = boto3.client("s3")
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=code)["Contents"]]
    body = s3.get_object(Bucket=code, Key=key)["Body"].read()
    text = zipfile.ZipFile(io.BytesIO(body)).read("deniedwatch/deniedwatch.toml").decode()
    from pathlib import Path

    deployed = parse_settings(text, Path("deniedwatch.toml"))
    assert [(d.name, d.type) for d in deployed.destinations] == [("email", "sns")]


def test_a_deploy_with_nothing_to_alert_is_one_line(aws_env, cli, unique_name, monkeypatch) -> None:
    for name in ("DENIEDWATCH_SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "DENIEDWATCH_ALERT_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    result = cli("deploy", "--yes", "--stack-name", unique_name("dwnone"), "--region", "us-east-1")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nothing to alert" in result.stderr and "DENIEDWATCH_SLACK_WEBHOOK_URL" in result.stderr
