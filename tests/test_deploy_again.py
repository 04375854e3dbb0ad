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


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"])
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
    from deniedwatch.deploy.permissions import allows, deployer_policy

    assert allows(deployer_policy("dw"), "s3:DeleteObjectVersion")
