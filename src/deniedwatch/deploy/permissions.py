"""Who may do what: the function's grants and the deploying user's policy, declared once.

- FUNCTION_GRANTS: what the function's role allows. tests/test_template.py checks the
  template's FunctionRole says exactly this; tests/test_deploy_e2e.py records every boto3
  call the deployed zip makes and checks it is a "code" grant. A new call in the function
  = one Grant here + the statement in template.yaml.
- CLI_CALLS: every AWS API call deploy / status / destroy / set-secret make. The e2e run
  records the CLI's calls and fails on one missing here. A new call in deploy/ = one
  Call here.
- deployer_policies(): `deniedwatch deploy --print-iam-policy`, built from CLI_CALLS plus
  what CloudFormation needs for each resource type in the template (its resource
  schemas' handler permissions as IAM actions, shipped as cfn_permissions.json;
  regenerate with `python tests/cfn_schemas.py` after adding a resource type), less the
  services only properties this template never sets need (NOT_USED_BY_THE_TEMPLATE);
  IAM actions only on the stack's roles (ROLE_PATH) and CloudTrail's service-linked
  role, PassRole only to the services that use them; packed into documents within IAM's
  managed-policy size limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files

from deniedwatch.deploy.names import ROLE_PATH, SECRET
from deniedwatch.deploy.resources import every_resource

CFN_PERMISSIONS_RESOURCE = "cfn_permissions.json"


# A Grant's resource that is no stack resource: Security Hub's default product of the
# account, in the template as this Fn::Sub.
DEFAULT_PRODUCT = (
    "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
    ":product/${AWS::AccountId}/default"
)


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
    # Only with a "securityhub" destination: the account's default product in the stack's
    # region (DEFAULT_PRODUCT), an AWS::IAM::RolePolicy behind the condition.
    Grant(
        "ImportFindings",
        ("securityhub:BatchImportFindings",),
        DEFAULT_PRODUCT,
        "code",
        condition="ImportFindings",
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
    Call("dynamodb", "Query", "dynamodb:Query"),  # held denials past their window; mutes
    Call("dynamodb", "DeleteItem", "dynamodb:DeleteItem"),  # `mutes revoke`
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
    """Resource type -> the IAM actions CloudFormation's handlers need for it (the schemas'
    entries as IAM actions: tests/cfn_schemas.py maps API names such as
    s3:DeleteBucketCors to their action and drops what is no action, s3:REST.PUT.OBJECT)."""
    text = files("deniedwatch.deploy").joinpath(CFN_PERMISSIONS_RESOURCE).read_text("utf-8")
    return json.loads(text)


# Services the template's resource schemas name only for properties this template never
# sets; a deployer needs none of their actions.
NOT_USED_BY_THE_TEMPLATE: dict[str, str] = {
    "s3tables": "AWS::S3::Bucket MetadataTableConfiguration",
    "s3files": "AWS::Lambda::Function FileSystemConfigs",
    "elasticfilesystem": "AWS::Lambda::Function FileSystemConfigs",
    "ec2": "AWS::Lambda::Function VpcConfig",
    "kinesis": "AWS::DynamoDB::Table KinesisStreamSpecification",
    "firehose": "AWS::Logs::LogGroup delivery to Firehose",
    "kms": "a customer managed key (the template uses SSE-S3, SQS-managed and AWS owned keys)",
}
# IAM actions, each scoped: the stack's two roles (under ROLE_PATH, whatever name
# CloudFormation generates), passed only to the service that uses each, and CloudTrail's
# service-linked role (an organization trail creates it).
ROLE_ACTIONS: tuple[str, ...] = tuple(
    f"iam:{a}"
    for a in (
        "CreateRole",
        "DeleteRole",
        "GetRole",
        "UpdateRole",
        "UpdateRoleDescription",
        "UpdateAssumeRolePolicy",
        "TagRole",
        "UntagRole",
        "PutRolePolicy",
        "GetRolePolicy",
        "DeleteRolePolicy",
        "ListRolePolicies",
        "ListAttachedRolePolicies",
    )
)
# The schemas' other IAM actions serve what the template never does: attach a managed
# policy or a permissions boundary to a role, or pass a role to S3 (replication), SNS
# (delivery logging), EventBridge or CloudWatch Logs (a Kinesis destination).
IAM_NOT_USED: tuple[str, ...] = (
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
)
PASSED_TO = ("cloudtrail.amazonaws.com", "lambda.amazonaws.com")  # TrailLogsRole, FunctionRole
CLOUDTRAIL_SLR = "role/aws-service-role/cloudtrail.amazonaws.com/AWSServiceRoleForCloudTrail"
# IAM counts a managed policy's characters without whitespace; 6,144 at most:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MANAGED_POLICY_LIMIT = 6144


def _unscoped_actions() -> set[str]:
    """Every action deploy / status / destroy / set-secret need on "*": the CLI's own calls
    and what CloudFormation does with the caller's credentials for the template's
    resources, less unused services and IAM (scoped in statements of its own)."""
    needed = cfn_permissions()
    via_cfn = {a for t in {r.type for r in every_resource()} for a in needed[t]}
    cli = {c.action for c in CLI_CALLS if c.scope == "*"}
    stack = {c.action for c in CLI_CALLS if c.scope == "stack"}
    return {
        a
        for a in (via_cfn | cli) - stack
        if a.split(":", 1)[0] not in NOT_USED_BY_THE_TEMPLATE and not a.startswith("iam:")
    }


def deployer_statements(stack: str, partition: str = "aws") -> list[dict[str, object]]:
    """Least-privilege statements for deploy / status / destroy / set-secret of ``stack``."""
    stack_arns = [
        f"arn:{partition}:cloudformation:*:*:stack/{stack}/*",
        f"arn:{partition}:cloudformation:*:*:changeSet/deniedwatch-*/*",
    ]
    secret_arn = f"arn:{partition}:secretsmanager:*:*:secret:{SECRET.of(stack)}-*"
    roles = f"arn:{partition}:iam::*:role{ROLE_PATH.of(stack)}*"
    by_scope: dict[str, set[str]] = {"stack": set(), "secret": set()}
    for call in CLI_CALLS:
        if call.scope in by_scope:
            by_scope[call.scope].add(call.action)
    statements = [
        _statement("TheStack", by_scope["stack"], stack_arns),
        _statement("TheSecret", by_scope["secret"], [secret_arn]),
        _statement("TheStacksRoles", set(ROLE_ACTIONS), roles),
        _statement("PassTheStacksRoles", {"iam:PassRole"}, roles)
        | {"Condition": {"StringEquals": {"iam:PassedToService": list(PASSED_TO)}}},
        _statement(
            "CloudTrailServiceLinkedRole",
            {"iam:CreateServiceLinkedRole"},
            f"arn:{partition}:iam::*:{CLOUDTRAIL_SLR}",
        )
        | {"Condition": {"StringEquals": {"iam:AWSServiceName": "cloudtrail.amazonaws.com"}}},
        _statement(
            "ReadCloudTrailServiceLinkedRole",
            {"iam:GetRole"},
            f"arn:{partition}:iam::*:{CLOUDTRAIL_SLR}",
        ),
    ]
    by_service: dict[str, set[str]] = {}
    for action in _unscoped_actions():
        by_service.setdefault(action.split(":", 1)[0], set()).add(action)
    statements += [
        _statement(_sid(service), actions, "*") for service, actions in sorted(by_service.items())
    ]
    return statements


def _sid(service: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-z0-9]", service))


def size(document: object) -> int:
    """Characters IAM counts: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def deployer_policies(stack: str, partition: str = "aws") -> list[dict[str, object]]:
    """The statements packed into as few documents as fit IAM's managed-policy limit
    (first fit, largest first); attach every one of them."""
    documents: list[list[dict[str, object]]] = []
    for statement in sorted(deployer_statements(stack, partition), key=size, reverse=True):
        for statements in documents:
            if size(_document([*statements, statement])) <= MANAGED_POLICY_LIMIT:
                statements.append(statement)
                break
        else:
            if size(_document([statement])) > MANAGED_POLICY_LIMIT:
                raise ValueError(f"statement {statement['Sid']} alone is over the limit")
            documents.append([statement])
    return [_document(sorted(s, key=lambda st: str(st["Sid"]))) for s in documents]


def _document(statements: list[dict[str, object]]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": statements}


def _statement(sid: str, actions: set[str], resource: object) -> dict[str, object]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource}


def allows(policies: list[dict[str, object]], action: str) -> bool:
    """Do ``policies`` name ``action`` (exactly; they have no wildcard actions)?"""
    return any(
        action in s["Action"]
        for policy in policies
        for s in policy["Statement"]  # type: ignore[attr-defined]
    )
