"""The AWS calls around the stack: code bucket and upload, the webhook secret, purge
(`deniedwatch status` reads the stack in deploy/status.py).

Every function takes the boto3 client it needs, so tests point them at moto server.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from deniedwatch.deploy.plan import PlanError
from deniedwatch.partition import arn
from deniedwatch.secrets import quiet_botocore

SUBSCRIPTION_FILTER_LIMIT = 2  # per log group, a CloudWatch Logs quota


def code_of(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- code bucket -------------------------------------------------------------------
def tls_only_policy(bucket: str, region: str | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn(region, f"s3:::{bucket}"), arn(region, f"s3:::{bucket}/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_code_bucket(
    s3: Any, bucket: str, region: str, account_id: str, *, tls_only: bool = True
) -> bool:
    """Make sure ``bucket`` exists, is ours and is in ``region``; True when created now.
    ``tls_only=False`` leaves out the TLS-only policy: only for a stand-in served over
    plain http (moto enforces aws:SecureTransport there, which would lock deploy out)."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account_id)
    except ClientError as exc:
        if code_of(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise PlanError(
                f"code bucket {bucket} exists but is not yours to use ({code_of(exc)}); "
                "pick another name with --code-bucket"
            ) from None
    else:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if location != region:
            raise PlanError(
                f"code bucket {bucket} is in {location}; the function is in {region} and "
                "Lambda reads code only from its own region: pass another --code-bucket"
            )
        return False
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    if tls_only:
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket, region))
    return True


def upload_code(s3: Any, bucket: str, key: str, data: bytes) -> bool:
    """Upload the zip unless that exact key (content-addressed) is there; True if uploaded."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return False
    except ClientError as exc:
        if code_of(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/zip")
    return True


def delete_code(s3: Any, bucket: str, prefix: str) -> int:
    """Remove this stack's zips; returns how many."""
    removed = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                delete_objects(s3, bucket, keys)
                removed += len(keys)
    except ClientError as exc:
        if code_of(exc) != "NoSuchBucket":
            raise
    return removed


# -- the webhook secret ----------------------------------------------------------
def secret_value(sm: Any, name: str) -> str | None:
    """The secret's current value, or None when the secret or its value does not exist."""
    try:
        with quiet_botocore():
            return sm.get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        if code_of(exc) == "ResourceNotFoundException":
            return None
        raise


class SecretMissing(PlanError):
    """The stack's secret is gone; only the stack may create it (its ARN suffix is what
    the function's role allows), so the message gives the command that fixes it."""


def secret_state(sm: Any, name: str) -> str:
    """ "present", "scheduled" (deleted, in its recovery window) or "missing"."""
    try:
        described = sm.describe_secret(SecretId=name)
    except ClientError as exc:
        if code_of(exc) == "ResourceNotFoundException":
            return "missing"
        raise
    return "scheduled" if described.get("DeletedDate") else "present"


def not_made_by_stand_in(stand_in: str, what: str, aws_type: str) -> str:
    """The one wording for a resource a local stand-in's CloudFormation reported created but
    skipped (moto: tests/test_template.py MOTO_SKIPS, read from moto's own model map)."""
    return f"{stand_in} did not create the stack's {what} (its CloudFormation skips {aws_type})"


def secret_not_made(stand_in: str, name: str) -> str:
    return not_made_by_stand_in(stand_in, f"secret {name}", "AWS::SecretsManager::Secret")


def missing_secret_error(
    name: str, state: str, stack: str, stand_in: str | None = None
) -> SecretMissing:
    if stand_in and state == "missing":  # not deleted by anyone: never made
        return SecretMissing(
            f"{secret_not_made(stand_in, name)}: there is no secret to store into (on AWS "
            "the stack creates it)"
        )
    if state == "scheduled":
        fix = f"aws secretsmanager restore-secret --secret-id {name}"
        return SecretMissing(
            f"the stack's webhook secret {name} was deleted outside the stack (it is in its "
            f"recovery window): run `{fix}`, then deploy again"
        )
    return SecretMissing(
        f"the stack's webhook secret {name} was deleted outside the stack; a secret created "
        "by hand would get another ARN, which the function may not read. Recreate it through "
        f"the stack: `deniedwatch destroy --stack-name {stack}` (keeps the trail bucket and "
        "log group), then `deniedwatch deploy`"
    )


def rotate_secret(sm: Any, name: str, value: str, stack: str, stand_in: str | None = None) -> str:
    """Store ``value`` as the secret's new AWSCURRENT version; returns "unchanged" or the
    new version id. The previous value stays as AWSPREVIOUS (roll back with
    ``aws secretsmanager update-secret-version-stage``). Never creates the secret: the
    stack does (see SecretMissing). deploy/run.store_secrets merges destinations first.
    """
    if secret_value(sm, name) == value:
        return "unchanged"
    try:
        with quiet_botocore():
            return str(sm.put_secret_value(SecretId=name, SecretString=value)["VersionId"])
    except ClientError as exc:
        if code_of(exc) not in ("ResourceNotFoundException", "InvalidRequestException"):
            raise
    raise missing_secret_error(name, secret_state(sm, name), stack, stand_in) from None


def delete_secret(sm: Any, name: str) -> None:
    """Delete the secret now (no recovery window) so a later deploy can reuse the name."""
    try:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if code_of(exc) != "ResourceNotFoundException":
            raise


# -- existing-trail mode -----------------------------------------------------------
def log_group_exists(logs: Any, name: str) -> bool:
    """Whether the log group ``name`` exists (the API lists by prefix: the name must match)."""
    groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    return any(g.get("logGroupName") == name for g in groups)


def check_existing_log_group(
    logs: Any, name: str, function_name: str, *, subscribes: bool = True
) -> None:
    """The group must exist and, when the stack subscribes to it (not live_source
    eventbridge, which only hangs the CIS metric filter on it), have room for our filter."""
    if not log_group_exists(logs, name):
        raise PlanError(f"log group {name} does not exist in this account and region")
    if not subscribes:
        return
    filters = logs.describe_subscription_filters(logGroupName=name).get("subscriptionFilters", [])
    others = [f for f in filters if not f.get("destinationArn", "").endswith(f":{function_name}")]
    if len(others) >= SUBSCRIPTION_FILTER_LIMIT:
        names = ", ".join(f["filterName"] for f in others)
        raise PlanError(
            f"log group {name} already has {len(others)} subscription filters ({names}); "
            f"CloudWatch Logs allows {SUBSCRIPTION_FILTER_LIMIT}"
        )


# -- purge -------------------------------------------------------------------------
def delete_objects(s3: Any, bucket: str, objects: list[dict[str, str]]) -> None:
    """DeleteObjects in Quiet mode, reading what it did not delete: in Quiet mode S3
    answers only the keys it failed on, in ``Errors``, with HTTP 200
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html). Unread,
    a denied version only shows later as the bucket's BucketNotEmpty."""
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    errors = answer.get("Errors") or []
    if not errors:
        return
    codes = sorted({str(e.get("Code", "unknown")) for e in errors})
    first = errors[0]
    message = (
        f"S3 did not delete {len(errors)} of {len(objects)} objects in bucket {bucket}: "
        f"{', '.join(codes)} (first: {first.get('Key')}: {first.get('Message', '')})"
    )
    if "AccessDenied" in codes and any("VersionId" in o for o in objects):
        message += (
            "; deleting object versions needs s3:DeleteObjectVersion (in the policy "
            "`deniedwatch deploy --print-iam-policy` prints)"
        )
    raise PlanError(message)


def purge_bucket(s3: Any, bucket: str) -> bool:
    """Delete every object version and delete marker, then the bucket; False if absent."""
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                delete_objects(s3, bucket, doomed)
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if code_of(exc) == "NoSuchBucket":
            return False
        raise
    return True


def gone(s3: Any, logs: Any, bucket: str | None, group: str | None) -> list[str]:
    """Which of the trail bucket and log group no longer exist (as ``"bucket NAME"``,
    ``"log group NAME"``): a stand-in that ignores DeletionPolicy deletes them with the stack."""
    missing = []
    if bucket:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if code_of(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            missing.append(f"bucket {bucket}")
    if group and not log_group_exists(logs, group):
        missing.append(f"log group {group}")
    return missing


def purge_log_group(logs: Any, name: str) -> bool:
    try:
        logs.delete_log_group(logGroupName=name)
    except ClientError as exc:
        if code_of(exc) == "ResourceNotFoundException":
            return False
        raise
    return True
