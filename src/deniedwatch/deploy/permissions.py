"""Who may do what: the function's grants and the deploying user's policy, declared once.

- FUNCTION_GRANTS: what the function's role allows. tests/test_template.py checks the
  template's FunctionRole says exactly this; tests/test_deploy_e2e.py records every boto3
  call the deployed zip makes and checks it is a "code" grant. A new call in the function
  = one Grant here + the statement in template.yaml.
- CLI_CALLS: every AWS API call deploy / status / destroy / set-secret make. The e2e run
  records the CLI's calls and fails on one missing here. A new call in deploy/ = one
  Call here.
- deployer_policy(): `deniedwatch deploy --print-iam-policy`, built from CLI_CALLS plus
  what CloudFormation needs for each resource type in the template (its resource
  schemas' handler permissions, shipped as cfn_permissions.json; regenerate with
  `python tests/cfn_schemas.py` after adding a resource type).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

from deniedwatch.deploy.names import SECRET
from deniedwatch.deploy.resources import template_resources

CFN_PERMISSIONS_RESOURCE = "cfn_permissions.json"


@dataclass(frozen=True)
class Grant:
    """One statement of the function's role: ``by`` is "code" (a boto3 call in the
    function) or "runtime" (Lambda acting with the role: logs, the failure destination).
    ``condition`` names the template condition the statement sits behind, if any."""

    sid: str
    actions: tuple[str, ...]
    resource: str  # the logical id whose ARN (Ref / GetAtt Arn) is the Resource; "*": none
    by: str
    condition: str | None = None


FUNCTION_GRANTS: tuple[Grant, ...] = (
    Grant("OwnLogs", ("logs:CreateLogStream", "logs:PutLogEvents"), "FunctionLogGroup", "runtime"),
    Grant("ReadWebhook", ("secretsmanager:GetSecretValue",), "SlackWebhookSecret", "code"),
    Grant("Dedup", ("dynamodb:GetItem", "dynamodb:PutItem"), "DedupTable", "code"),
    # the alert policy's flush reads held denials through the table's "held" index
    Grant("HeldIndex", ("dynamodb:Query",), "DedupTable", "code"),
    Grant("Email", ("sns:Publish",), "AlertTopic", "code"),
    Grant("DeadLetters", ("sqs:SendMessage",), "DeadLetterQueue", "runtime"),
    # The SQS event source mapping polls with the function's role (live_source
    # eventbridge / both); an AWS::IAM::RolePolicy on FunctionRole, behind the condition.
    Grant(
        "ReadDenialQueue",
        ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
        "DenialEventsQueue",
        "runtime",
        condition="EventBridgePath",
    ),
    # Opt-in ([explain] decode_authorization_messages): the action has no resource types,
    # so its Resource is "*"; an AWS::IAM::RolePolicy behind the condition.
    Grant(
        "DecodeAuthorizationMessages",
        ("sts:DecodeAuthorizationMessage",),
        "*",
        "code",
        condition="DecodeMessages",
    ),
)


def function_code_actions() -> frozenset[str]:
    """The calls every deployment's function makes (an opt-in grant behind a template
    condition, such as decoding, is exercised by its own tests)."""
    return frozenset(
        a for g in FUNCTION_GRANTS if g.by == "code" and g.condition is None for a in g.actions
    )


@dataclass(frozen=True)
class Call:
    """An API call the CLI makes: botocore's service name and operation, the IAM action
    that authorises it, and its resource scope ("stack" / "secret" / "*")."""

    service: str
    operation: str
    action: str
    scope: str = "*"


CLI_CALLS: tuple[Call, ...] = (
    Call("sts", "GetCallerIdentity", "sts:GetCallerIdentity"),
    # the stack
    *(
        Call("cloudformation", op, f"cloudformation:{op}", "stack")
        for op in (
            "CreateChangeSet",
            "DescribeChangeSet",
            "ExecuteChangeSet",
            "DeleteChangeSet",
            "DescribeStacks",
            "DescribeStackEvents",
            "ListStackResources",
            "DeleteStack",
        )
    ),
    # preflight
    Call("logs", "TestMetricFilter", "logs:TestMetricFilter"),
    Call("events", "TestEventPattern", "events:TestEventPattern"),
    Call("logs", "DescribeLogGroups", "logs:DescribeLogGroups"),
    Call("logs", "DescribeSubscriptionFilters", "logs:DescribeSubscriptionFilters"),
    Call("organizations", "DescribeOrganization", "organizations:DescribeOrganization"),
    Call(
        "organizations",
        "ListAWSServiceAccessForOrganization",
        "organizations:ListAWSServiceAccessForOrganization",
    ),
    # the code bucket and the zip
    Call("s3", "HeadBucket", "s3:ListBucket"),
    Call("s3", "GetBucketLocation", "s3:GetBucketLocation"),
    Call("s3", "CreateBucket", "s3:CreateBucket"),
    Call("s3", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    Call("s3", "PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    Call("s3", "PutBucketPolicy", "s3:PutBucketPolicy"),
    Call("s3", "HeadObject", "s3:GetObject"),
    Call("s3", "PutObject", "s3:PutObject"),
    # the webhook secret (created by the stack; written, rotated and deleted by the CLI)
    Call("secretsmanager", "GetSecretValue", "secretsmanager:GetSecretValue", "secret"),
    Call("secretsmanager", "PutSecretValue", "secretsmanager:PutSecretValue", "secret"),
    Call("secretsmanager", "DescribeSecret", "secretsmanager:DescribeSecret", "secret"),
    Call("secretsmanager", "DeleteSecret", "secretsmanager:DeleteSecret", "secret"),
    # status
    Call("cloudtrail", "GetTrailStatus", "cloudtrail:GetTrailStatus"),
    Call("sns", "ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic"),
    Call("cloudwatch", "GetMetricStatistics", "cloudwatch:GetMetricStatistics"),
    Call("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
    Call("dynamodb", "Query", "dynamodb:Query"),  # held denials past their window
    # destroy --purge
    Call("s3", "ListObjectsV2", "s3:ListBucket"),
    Call("s3", "ListObjectVersions", "s3:ListBucketVersions"),
    Call("s3", "DeleteObjects", "s3:DeleteObject"),
    # the trail bucket is versioned: DeleteObjects with a VersionId needs this one too
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
    Call("s3", "DeleteObjects", "s3:DeleteObjectVersion"),
    Call("s3", "DeleteBucket", "s3:DeleteBucket"),
    Call("logs", "DeleteLogGroup", "logs:DeleteLogGroup"),
)


def cli_call(service: str, operation: str) -> Call | None:
    for call in CLI_CALLS:
        if (call.service, call.operation) == (service, operation):
            return call
    return None


def cfn_permissions() -> dict[str, list[str]]:
    """Resource type -> the IAM actions CloudFormation's handlers need for it."""
    text = files("deniedwatch.deploy").joinpath(CFN_PERMISSIONS_RESOURCE).read_text("utf-8")
    return json.loads(text)


def deployer_policy(stack: str, partition: str = "aws") -> dict[str, object]:
    """Least-privilege IAM policy for deploy / status / destroy / set-secret of ``stack``."""
    stack_arns = [
        f"arn:{partition}:cloudformation:*:*:stack/{stack}/*",
        f"arn:{partition}:cloudformation:*:*:changeSet/deniedwatch-*/*",
    ]
    secret_arn = f"arn:{partition}:secretsmanager:*:*:secret:{SECRET.of(stack)}-*"
    by_scope: dict[str, set[str]] = {"stack": set(), "secret": set(), "*": set()}
    for call in CLI_CALLS:
        by_scope[call.scope].add(call.action)
    needed = cfn_permissions()
    via_cfn = {a for t in {r.type for r in template_resources()} for a in needed[t]}
    statements = [
        _statement("TheStack", by_scope["stack"], stack_arns),
        _statement("TheWebhookSecret", by_scope["secret"], [secret_arn]),
        _statement("CliCalls", by_scope["*"], "*"),
        # What CloudFormation does with your credentials to create, update and delete the
        # template's resources (from each type's resource schema, handler permissions).
        _statement("StackResources", via_cfn - by_scope["stack"], "*"),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def _statement(sid: str, actions: set[str], resource: object) -> dict[str, object]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}


def allows(policy: dict[str, object], action: str) -> bool:
    """Does ``policy`` name ``action`` (exactly; the policy has no wildcard actions)?"""
    statements = policy["Statement"]
    assert isinstance(statements, list)
    return any(action in s["Action"] for s in statements)
