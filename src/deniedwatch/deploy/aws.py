"""The AWS calls around the stack: code bucket and upload, the webhook secret, purge, status.

Every function takes the boto3 client it needs, so tests point them at moto server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deniedwatch.deploy.names import HEALTHY_STACK_STATUSES
from deniedwatch.deploy.plan import PlanError
from deniedwatch.partition import arn
from deniedwatch.secrets import quiet_botocore

SUBSCRIPTION_FILTER_LIMIT = 2  # per log group, a CloudWatch Logs quota


def _code(exc: ClientError) -> str:
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
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise PlanError(
                f"code bucket {bucket} exists but is not yours to use ({_code(exc)}); "
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
        if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
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
        if _code(exc) != "NoSuchBucket":
            raise
    return removed


# -- the webhook secret ----------------------------------------------------------
def secret_value(sm: Any, name: str) -> str | None:
    """The secret's current value, or None when the secret or its value does not exist."""
    try:
        with quiet_botocore():
            return sm.get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
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
        if _code(exc) == "ResourceNotFoundException":
            return "missing"
        raise
    return "scheduled" if described.get("DeletedDate") else "present"


def missing_secret_error(name: str, state: str, stack: str) -> SecretMissing:
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


def rotate_secret(sm: Any, name: str, value: str, stack: str) -> str:
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
        if _code(exc) not in ("ResourceNotFoundException", "InvalidRequestException"):
            raise
    raise missing_secret_error(name, secret_state(sm, name), stack) from None


def delete_secret(sm: Any, name: str) -> None:
    """Delete the secret now (no recovery window) so a later deploy can reuse the name."""
    try:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise


# -- existing-trail mode -----------------------------------------------------------
def check_existing_log_group(
    logs: Any, name: str, function_name: str, *, subscribes: bool = True
) -> None:
    """The group must exist and, when the stack subscribes to it (not live_source
    eventbridge, which only hangs the CIS metric filter on it), have room for our filter."""
    groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    if not any(g["logGroupName"] == name for g in groups):
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
        if _code(exc) == "NoSuchBucket":
            return False
        raise
    return True


def purge_log_group(logs: Any, name: str) -> bool:
    try:
        logs.delete_log_group(logGroupName=name)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


# -- status ------------------------------------------------------------------------
@dataclass
class StatusReport:
    stack_name: str
    region: str | None = None  # where `status` looked
    stack_status: str | None = None
    filter_pattern: str | None = None  # the subscription filter pattern deployed
    trail_name: str | None = None
    trail_logging: bool | None = None  # None: no trail of ours (existing-trail mode) or unknown
    email_subscriptions: dict[str, bool] = field(default_factory=dict)  # endpoint -> confirmed
    function_errors_24h: int | None = None
    dead_letters: int | None = None
    events_dead_letters: int | None = None  # the fast path's (live_source eventbridge / both)
    # denials the dedup table holds unannounced: in how many groups, and how many of them
    # sit in windows that closed long enough ago that the flush schedule should have run
    held_denials: int | None = None
    held_groups: int = 0
    held_overdue: int = 0
    active_mutes: int | None = None  # set from Slack's buttons (docs/triage.md)
    unreadable: list[str] = field(default_factory=list)  # what could not be checked, and why


# The flush schedule runs every 15 minutes; a window closed longer ago than this with
# denials still held means it is not running (or cannot post).
FLUSH_OVERDUE = timedelta(minutes=30)


def health_problems(report: StatusReport) -> list[str]:
    """What a person should look at; empty when all is well."""
    problems = []
    if report.stack_status is None:
        return [f"stack {report.stack_name} does not exist in {report.region or 'this region'}"]
    if report.stack_status not in HEALTHY_STACK_STATUSES:
        problems.append(f"stack is {report.stack_status}")
    if report.trail_name and report.trail_logging is False:
        problems.append(f"trail {report.trail_name} is not logging")
    pending = [e for e, ok in report.email_subscriptions.items() if not ok]
    if pending:
        problems.append("email subscription not confirmed: " + ", ".join(pending))
    if report.function_errors_24h:
        problems.append(f"the function failed {report.function_errors_24h} times in 24 h")
    if report.dead_letters:
        problems.append(f"{report.dead_letters} undelivered alerts in the dead-letter queue")
    if report.events_dead_letters:
        problems.append(
            f"{report.events_dead_letters} denials the fast path could not alert in the events "
            "dead-letter queue (docs/live-sources.md)"
        )
    if report.held_overdue:
        problems.append(
            f"{report.held_overdue} held denials in dedup windows that closed over 30 min ago "
            "were never summarised: is the FlushSchedule rule enabled, and the function healthy?"
        )
    return problems + [f"could not check {u}" for u in report.unreadable]


def where_else(region: str, settings_region: str | None, region_flag: str | None) -> str:
    """Where to look when `status` finds no stack in ``region``: the settings' region when
    the flag pointed elsewhere, else how to name another one."""
    if settings_region and settings_region != region:
        command = f"deniedwatch status --region {settings_region}"
        return f"the settings name {settings_region}: `{command}`"
    if region_flag:
        return "deployed in another region? pass that --region"
    return "deployed in another region? pass --region, or set [deploy] region in the settings"


def gather_status(
    clients: Any, stack_name: str, now: datetime | None = None, region: str | None = None
) -> StatusReport:
    """Read everything `deniedwatch status` shows; ``clients(name)`` returns a boto3 client."""
    from deniedwatch.deploy.stack import physical_ids

    report = StatusReport(stack_name, region)
    cfn = clients("cloudformation")
    try:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return report
        raise
    report.stack_status = stack["StackStatus"]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    if parameters.get("LiveSource") != "eventbridge":  # else no subscription filter
        report.filter_pattern = parameters.get("DenialFilterPattern")
    ids = physical_ids(cfn, stack["StackId"])

    def probe(what: str, fn: Any) -> None:
        try:
            fn()
        except ClientError as exc:
            report.unreadable.append(f"{what} ({_code(exc)})")

    if "TrailLogGroup" in ids:  # the stack made its own trail (not existing-trail mode)
        trail = report.trail_name = ids.get("Trail") or f"{stack_name}-trail"

        def trail_status() -> None:
            status = clients("cloudtrail").get_trail_status(Name=trail)
            report.trail_logging = bool(status.get("IsLogging"))

        probe(f"trail {trail}", trail_status)
    if topic := ids.get("AlertTopic"):

        def subscriptions() -> None:
            sns = clients("sns")
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
                for sub in page.get("Subscriptions", []):
                    if sub.get("Protocol") == "email":
                        confirmed = sub.get("SubscriptionArn", "").startswith("arn:")
                        report.email_subscriptions[sub["Endpoint"]] = confirmed

        probe("the email subscription", subscriptions)
    if function := ids.get("Function"):

        def errors() -> None:
            end = now or datetime.now(UTC)
            stats = clients("cloudwatch").get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="Errors",
                Dimensions=[{"Name": "FunctionName", "Value": function}],
                StartTime=end - timedelta(hours=24),
                EndTime=end,
                Period=3600,
                Statistics=["Sum"],
            )
            report.function_errors_24h = int(sum(p["Sum"] for p in stats.get("Datapoints", [])))

        probe("the function's errors", errors)

    def depth(queue: str) -> int:
        attrs = clients("sqs").get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    if queue := ids.get("DeadLetterQueue"):

        def alerts_depth() -> None:
            report.dead_letters = depth(queue)

        probe("the dead-letter queue", alerts_depth)
    if events_queue := ids.get("DenialEventsDeadLetterQueue"):

        def events_depth() -> None:
            report.events_dead_letters = depth(events_queue)

        probe("the events dead-letter queue", events_depth)
    if table := ids.get("DedupTable"):

        def held() -> None:
            from deniedwatch.alerts.dedup import DedupStoreError, DynamoStore

            try:
                groups = DynamoStore(table, client=clients("dynamodb")).held_groups()
            except DedupStoreError as exc:  # the store's own error: it wraps ClientError
                report.unreadable.append(f"the held denials ({str(exc)[:120]})")
                return
            overdue = (now or datetime.now(UTC)) - FLUSH_OVERDUE
            report.held_denials = sum(g.held for g in groups)
            report.held_groups = len(groups)
            report.held_overdue = sum(g.held for g in groups if g.closes_at < overdue.timestamp())

        probe("the held denials", held)

        def mutes() -> None:
            from deniedwatch.alerts.dedup import DynamoStore
            from deniedwatch.triage.store import DynamoMutes, MuteStoreError

            store = DynamoMutes(DynamoStore(table, client=clients("dynamodb")))
            try:
                report.active_mutes = len(store.active((now or datetime.now(UTC)).timestamp()))
            except MuteStoreError as exc:
                report.unreadable.append(f"the mutes ({str(exc)[:120]})")

        probe("the mutes", mutes)
    return report
