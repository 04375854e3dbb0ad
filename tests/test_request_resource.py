"""resource_from_request: the resource named in requestParameters, per service, and the
table's keys checked against botocore's input shapes."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from deniedwatch.finding import Finding
from deniedwatch.request_resource import MAX_LEN, RESOURCE_KEYS, resource_from_request


def _input_members(service: str) -> set[str]:
    model = botocore.session.get_session().get_service_model(service)
    members: set[str] = set()
    for op in model.operation_names:
        shape = model.operation_model(op).input_shape
        if shape is not None:
            members |= set(shape.members)
    return members


@pytest.mark.parametrize("service", sorted(RESOURCE_KEYS))
def test_every_key_is_an_input_member_in_botocore(service: str) -> None:
    """CloudTrail writes the API's input members in lower camel case: InstanceId -> instanceId."""
    members = {m[:1].lower() + m[1:] for m in _input_members(service)}
    assert set(RESOURCE_KEYS[service]) <= members, set(RESOURCE_KEYS[service]) - members


# requestParameters as AWS documents them in CloudTrail examples:
# EC2 https://docs.aws.amazon.com/AWSEC2/latest/APIReference/using-cloudtrail.html
# S3 https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html
# Secrets Manager https://docs.aws.amazon.com/secretsmanager/latest/userguide/cloudtrail_log_entries.html
# STS https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html
# Lambda https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html
# KMS https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html
ROLE = "arn:aws:iam::111122223333:role/admin"
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("ec2", {"instanceId": "i-0abc"}, "i-0abc"),
    ("ec2", {"groupId": "sg-0123", "ipPermissions": {}}, "sg-0123"),
    ("ec2", {"imageId": "ami-1"}, "ami-1"),
    ("ec2", {"volumeId": "vol-1", "force": False}, "vol-1"),
    ("ec2", {"instancesSet": {"items": [{"instanceId": "i-0def"}]}}, "i-0def"),
    ("ec2", {"instancesSet": {"items": []}}, None),
    (
        "s3",
        {"bucketName": "payroll", "key": "2026/s.csv", "Host": "x"},
        "arn:aws:s3:::payroll/2026/s.csv",
    ),
    ("s3", {"bucketName": "payroll"}, "arn:aws:s3:::payroll"),
    ("s3", {"key": "orphan"}, None),
    ("secretsmanager", {"secretId": "prod/db"}, "prod/db"),
    ("sts", {"roleArn": ROLE, "roleSessionName": "x"}, ROLE),
    ("lambda", {"functionName": "orders-api"}, "orders-api"),
    ("kms", {"keyId": "alias/payroll"}, "alias/payroll"),
    ("iam", {"roleName": "admin"}, "admin"),
    ("iam", {"userName": "mallory"}, "mallory"),
    ("iam", {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "userName": "u"}, "u"),
    ("unknownsvc", {"name": "x"}, None),
]


@pytest.mark.parametrize(("prefix", "params", "resource"), CASES)
def test_resource_from_request(prefix: str, params: dict[str, Any], resource: str | None) -> None:
    assert resource_from_request(prefix, params) == resource


def test_partition_goes_into_the_s3_arn() -> None:
    assert resource_from_request("s3", {"bucketName": "b"}, "aws-cn") == "arn:aws-cn:s3:::b"


@pytest.mark.parametrize("params", [None, "x", [], {"instanceId": 5}, {"instanceId": ""}])
def test_wrong_types_give_nothing(params: Any) -> None:
    assert resource_from_request("ec2", params) is None


def test_caller_text_is_cut() -> None:
    assert len(resource_from_request("lambda", {"functionName": "f" * 100_000}) or "") == MAX_LEN


def test_finding_uses_request_parameters_only_when_message_and_resources_are_silent() -> None:
    record: dict[str, Any] = {
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "errorCode": "AccessDenied",
        "errorMessage": "Access denied",
        "awsRegion": "us-east-1",
        "requestParameters": {"roleArn": ROLE, "roleSessionName": "probe"},
    }
    f = Finding.from_record(record)
    assert f.resource == ROLE
    # the role's trust policy is the likely reason: the hint says so
    assert f.hint is not None and "trust policy" in f.hint and ROLE in f.hint
    record["resources"] = [{"ARN": "arn:aws:iam::111122223333:role/other"}]
    assert Finding.from_record(record).resource == "arn:aws:iam::111122223333:role/other"
