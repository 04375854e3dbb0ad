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

import re
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


# EC2 resource ids -> the resource type in their ARN, after the Service Authorization
# Reference's EC2 resource types
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html#amazonec2-resources-for-iam-policies).
# Images and snapshots have no account in their ARN. Ids are the prefix and 8 or 17
# lower-case letters and digits (AWS's own ids are hex; tools' fixtures use any letter).
EC2_ID_TYPES: dict[str, str] = {
    "i": "instance",
    "sg": "security-group",
    "vol": "volume",
    "snap": "snapshot",
    "ami": "image",
    "vpc": "vpc",
    "subnet": "subnet",
    "eni": "network-interface",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "acl": "network-acl",
    "eipalloc": "elastic-ip",
    "lt": "launch-template",
    "nat": "natgateway",
    "vpce": "vpc-endpoint",
    "tgw": "transit-gateway",
    "pcx": "vpc-peering-connection",
    "dopt": "dhcp-options",
}
_ACCOUNTLESS = frozenset({"image", "snapshot"})
_EC2_ID = re.compile(r"(" + "|".join(EC2_ID_TYPES) + r")-([0-9a-z]{8,17})")
_EC2_ARN = re.compile(
    r"arn:aws[a-z-]*:ec2:[a-z0-9-]*:\d*:(?:"
    + "|".join(sorted(set(EC2_ID_TYPES.values())))
    + r")/("
    + _EC2_ID.pattern
    + r")"
)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}")


def ec2_id(resource: str | None) -> str | None:
    """The EC2 id a resource names ('i-0abc…'), bare or as the last part of its ARN."""
    if not resource:
        return None
    if _EC2_ID.fullmatch(resource):
        return resource
    m = _EC2_ARN.fullmatch(resource)
    return m.group(1) if m else None


def ec2_arn(resource: str, partition: str, region: str | None, account: str | None) -> str:
    """A bare EC2 id as its ARN (one instance, one name: the messages that name it by ARN
    and the records that name it by id must group together); anything else unchanged,
    and the id too when the region or account it needs is missing or malformed."""
    m = _EC2_ID.fullmatch(resource)
    if not m or not region or not _REGION.fullmatch(region):
        return resource
    kind = EC2_ID_TYPES[m.group(1)]
    if kind in _ACCOUNTLESS:
        return f"arn:{partition}:ec2:{region}::{kind}/{resource}"
    if not account or not _ACCOUNT.fullmatch(account):
        return resource
    return f"arn:{partition}:ec2:{region}:{account}:{kind}/{resource}"
