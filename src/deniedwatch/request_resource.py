"""The resource a denied call was aimed at, read from its ``requestParameters``.

Used only when the message and ``resources[]`` name nothing. One small table keyed
by IAM service prefix: the request parameters that name the target, in order of
preference. CloudTrail writes the API's input members in lower camel case
(``InstanceId`` -> ``instanceId``); tests/test_request_resource.py checks every
key here against botocore's input shapes for that service, so a renamed or
misspelt key fails the tests. S3's REST parameters (``bucketName``, ``key``) are
CloudTrail's own names, not botocore's, and are checked against AWS's documented
records instead.

Everything here is caller-chosen text (the caller wrote the request): values are
taken only when they are non-empty strings and are cut to a bounded length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_LEN = 1024

RESOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "ec2": ("instanceId", "groupId", "imageId", "volumeId", "snapshotId", "vpcId", "subnetId"),
    "secretsmanager": ("secretId",),
    "sts": ("roleArn",),
    "lambda": ("functionName",),
    "kms": ("keyId",),
    "iam": ("roleName", "userName", "policyArn", "groupName", "instanceProfileName"),
    "dynamodb": ("tableName",),
    "sns": ("topicArn",),
    "sqs": ("queueUrl",),
    "logs": ("logGroupName",),
    "ssm": ("name",),
    "cloudformation": ("stackName",),
    "ecr": ("repositoryName",),
    "rds": ("dBInstanceIdentifier", "dBClusterIdentifier"),
}

# EC2's query API nests lists: {"instancesSet": {"items": [{"instanceId": "i-…"}]}}
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitor-with-cloudtrail.html)
_EC2_SETS = ("instancesSet", "volumeSet", "groupSet")


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value[:MAX_LEN]
    return None


def resource_from_request(prefix: str | None, params: Any, partition: str = "aws") -> str | None:
    """The named target of the call, or None. ``prefix`` is the IAM service prefix."""
    if not prefix or (type(params) is not dict and not isinstance(params, Mapping)):
        return None
    if prefix == "s3":
        bucket = _text(params.get("bucketName"))
        if not bucket:
            return None
        key = _text(params.get("key"))
        return f"arn:{partition}:s3:::{bucket}" + (f"/{key}" if key else "")
    for key in RESOURCE_KEYS.get(prefix, ()):
        if found := _text(params.get(key)):
            return found
    if prefix == "ec2":
        for set_name in _EC2_SETS:
            items = params.get(set_name)
            items = items.get("items") if isinstance(items, Mapping) else None
            first = items[0] if isinstance(items, list) and items else None
            if isinstance(first, Mapping):
                return resource_from_request(prefix, first, partition)
    return None
