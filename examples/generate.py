"""Writes the bundled sample CloudTrail export under examples/cloudtrail/.

Deterministic: the same files every run (fixed timestamps, gzip mtime 0), so the
tree is committed and tests can name exact expectations. Run it again after
changing it: ``python examples/generate.py``.

The mix: successful calls, other errors (throttling, not found, validation),
denials of every code family, every principal type and every policy phrase
(explicit and implicit), the three default-suppressed kinds, plus a digest and
an Insights file that a scan must skip knowingly.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE / "cloudtrail"
PROD, DEV = "111122223333", "444455556666"

USER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLEUSERID0001",
    "arn": f"arn:aws:iam::{PROD}:user/mallory",
    "accountId": PROD,
    "accessKeyId": "AKIAEXAMPLEKEY000001",
    "userName": "mallory",
}


def role(account: str, role_name: str, session: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLEID0001:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLEKEY000001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID0001",
                "arn": f"arn:aws:iam::{account}:role/{role_name}",
                "accountId": account,
                "userName": role_name,
            },
            "attributes": {"creationDate": "2026-11-20T08:00:00Z", "mfaAuthenticated": "false"},
        },
    }


DEPLOYER = role(PROD, "deploy-pipeline", "build-4711")
ROOT_ID = {
    "type": "Root",
    "principalId": PROD,
    "arn": f"arn:aws:iam::{PROD}:root",
    "accountId": PROD,
    "accessKeyId": "",
}
SERVICE = {"type": "AWSService", "invokedBy": "config.amazonaws.com"}
FEDERATED = {
    "type": "FederatedUser",
    "principalId": f"{PROD}:carol",
    "arn": f"arn:aws:sts::{PROD}:federated-user/carol",
    "accountId": PROD,
    "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "broker"}},
}
CROSS_ACCOUNT = {
    "type": "AWSAccount",
    "principalId": "AIDAEXTERNAL0001",
    "accountId": "999988887777",
}
ANONYMOUS = {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
SSO_USER = {
    "type": "IdentityCenterUser",
    "accountId": DEV,
    "onBehalfOf": {"userId": "dave@example.com", "identityStoreArn": "arn:aws:identitystore::"},
    "credentialId": "EXAMPLECREDENTIAL",
}

_counter = 0


def event(
    when: str,
    source: str,
    name: str,
    identity: dict[str, Any],
    *,
    account: str = PROD,
    region: str = "eu-west-1",
    ip: str = "203.0.113.10",
    agent: str = "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64",
    error: tuple[str, str] | None = None,
    params: dict[str, Any] | None = None,
    resources: list[dict[str, str]] | None = None,
    read_only: bool = True,
) -> dict[str, Any]:
    global _counter
    _counter += 1
    record: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": params,
        "responseElements": None,
        "requestID": f"{_counter:08d}-aaaa-bbbb-cccc-000000000000",
        "eventID": f"{_counter:08d}-1111-2222-3333-444444444444",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        },
    }
    if error:
        record["errorCode"], record["errorMessage"] = error
    if resources:
        record["resources"] = resources
    return record


def not_authorized(principal: str, action: str, tail: str, resource: str | None = None) -> str:
    on = f' on resource: "{resource}"' if resource else ""
    return f"User: {principal} is not authorized to perform: {action}{on} {tail}"


def day1() -> list[dict[str, Any]]:
    u, r = USER["arn"], DEPLOYER["arn"]
    t = "2026-11-20T"
    return [
        event(t + "09:00:01Z", "sts.amazonaws.com", "GetCallerIdentity", USER),
        event(t + "09:00:05Z", "s3.amazonaws.com", "ListBuckets", USER),
        # a stolen key probing: implicit identity-based denials
        event(
            t + "09:01:10Z",
            "iam.amazonaws.com",
            "ListUsers",
            USER,
            region="us-east-1",
            error=(
                "AccessDenied",
                not_authorized(
                    u,
                    "iam:ListUsers",
                    "because no identity-based policy allows the iam:ListUsers action",
                    f"arn:aws:iam::{PROD}:user/",
                ),
            ),
        ),
        event(
            t + "09:01:12Z",
            "secretsmanager.amazonaws.com",
            "ListSecrets",
            USER,
            error=(
                "AccessDenied",
                not_authorized(
                    u,
                    "secretsmanager:ListSecrets",
                    "because no identity-based policy allows the secretsmanager:ListSecrets action",
                ),
            ),
        ),
        event(
            t + "09:01:15Z",
            "ec2.amazonaws.com",
            "DescribeInstances",
            USER,
            error=(
                "Client.UnauthorizedOperation",
                "You are not authorized to perform this operation. User: "
                f"{u} is not authorized to perform: ec2:DescribeInstances with an explicit deny in a "
                "service control policy",
            ),
        ),
        event(
            t + "09:01:20Z",
            "kms.amazonaws.com",
            "Decrypt",
            USER,
            error=(
                "AccessDeniedException",
                not_authorized(
                    u,
                    "kms:Decrypt",
                    "because no resource-based policy allows the kms:Decrypt action",
                    f"arn:aws:kms:eu-west-1:{PROD}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                ),
            ),
        ),
        event(
            t + "09:02:00Z",
            "s3.amazonaws.com",
            "GetObject",
            USER,
            params={"bucketName": "payroll-exports", "key": "2026/11/salaries.csv"},
            error=(
                "AccessDenied",
                not_authorized(
                    u,
                    "s3:GetObject",
                    "with an explicit deny in a resource-based policy",
                    "arn:aws:s3:::payroll-exports/2026/11/salaries.csv",
                ),
            ),
            resources=[
                {
                    "type": "AWS::S3::Object",
                    "ARN": "arn:aws:s3:::payroll-exports/2026/11/salaries.csv",
                }
            ],
        ),
        # a deployment that lost a permission
        event(
            t + "10:15:00Z",
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            DEPLOYER,
            ip="10.20.30.40",
            agent="Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.12.4",
            error=(
                "AccessDeniedException",
                not_authorized(
                    r,
                    "lambda:UpdateFunctionCode",
                    "with an explicit deny in a permissions boundary",
                    f"arn:aws:lambda:eu-west-1:{PROD}:function:orders-api",
                ),
            ),
            read_only=False,
        ),
        event(
            t + "10:15:02Z",
            "logs.amazonaws.com",
            "CreateLogGroup",
            DEPLOYER,
            ip="10.20.30.40",
            error=(
                "AccessDeniedException",
                not_authorized(
                    r,
                    "logs:CreateLogGroup",
                    "because no permissions boundary allows the logs:CreateLogGroup action",
                    f"arn:aws:logs:eu-west-1:{PROD}:log-group:/aws/lambda/orders-api",
                ),
            ),
            read_only=False,
        ),
        event(
            t + "10:15:04Z",
            "dynamodb.amazonaws.com",
            "PutItem",
            DEPLOYER,
            ip="10.20.30.40",
            error=(
                "AccessDeniedException",
                not_authorized(
                    r,
                    "dynamodb:PutItem",
                    "because no session policy allows the dynamodb:PutItem action",
                    f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders",
                ),
            ),
            read_only=False,
        ),
        event(
            t + "10:15:06Z",
            "dynamodb.amazonaws.com",
            "DeleteTable",
            DEPLOYER,
            ip="10.20.30.40",
            error=(
                "AccessDeniedException",
                not_authorized(
                    r,
                    "dynamodb:DeleteTable",
                    "with an explicit deny in a session policy",
                    f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders",
                ),
            ),
            read_only=False,
        ),
        # other errors: not denials
        event(
            t + "10:20:00Z",
            "s3.amazonaws.com",
            "GetObject",
            DEPLOYER,
            error=("NoSuchKey", "The specified key does not exist."),
        ),
        event(
            t + "10:20:01Z",
            "ec2.amazonaws.com",
            "DescribeInstances",
            DEPLOYER,
            error=("RequestLimitExceeded", "Request limit exceeded."),
        ),
        event(
            t + "10:20:02Z",
            "cloudformation.amazonaws.com",
            "CreateStack",
            DEPLOYER,
            error=("ValidationException", "Template format error"),
        ),
        event(
            t + "10:20:03Z",
            "dynamodb.amazonaws.com",
            "Query",
            DEPLOYER,
            error=("ThrottlingException", "Rate exceeded"),
        ),
        # default suppressions
        event(
            t + "11:00:00Z",
            "s3.amazonaws.com",
            "HeadBucket",
            DEPLOYER,
            error=("AccessDenied", "Access Denied"),
        ),
        event(
            t + "11:00:01Z",
            "s3.amazonaws.com",
            "GetBucketAcl",
            {"type": "AWSService", "invokedBy": "delivery.logs.amazonaws.com"},
            ip="delivery.logs.amazonaws.com",
            agent="delivery.logs.amazonaws.com",
            error=("AccessDenied", "Access Denied"),
        ),
        event(
            t + "11:00:02Z",
            "s3.amazonaws.com",
            "GetObject",
            ANONYMOUS,
            ip="198.51.100.77",
            agent="curl/8.5.0",
            error=("AccessDenied", "Access Denied"),
            resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::public-site/.env"}],
        ),
    ]


def day2() -> list[dict[str, Any]]:
    t = "2026-11-21T"
    return [
        event(
            t + "03:12:00Z",
            "organizations.amazonaws.com",
            "LeaveOrganization",
            ROOT_ID,
            region="us-east-1",
            ip="192.0.2.66",
            agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            error=(
                "AccessDeniedException",
                "You don't have permissions to access this resource. "
                f"User: arn:aws:iam::{PROD}:root is not authorized to perform: organizations:LeaveOrganization "
                "with an explicit deny in a service control policy",
            ),
            read_only=False,
        ),
        event(
            t + "03:14:00Z",
            "s3.amazonaws.com",
            "PutBucketPolicy",
            ROOT_ID,
            region="us-east-1",
            ip="192.0.2.66",
            error=(
                "AccessDenied",
                not_authorized(
                    f"arn:aws:iam::{PROD}:root",
                    "s3:PutBucketPolicy",
                    "with an explicit deny in a resource control policy",
                    "arn:aws:s3:::payroll-exports",
                ),
            ),
            read_only=False,
        ),
        event(
            t + "04:00:00Z",
            "s3.amazonaws.com",
            "GetObject",
            CROSS_ACCOUNT,
            ip="198.51.100.23",
            error=(
                "AccessDenied",
                not_authorized(
                    "arn:aws:iam::999988887777:user/partner",
                    "s3:GetObject",
                    "because no resource-based policy allows the s3:GetObject action",
                    "arn:aws:s3:::shared-data/feed.csv",
                ),
            ),
        ),
        event(
            t + "05:30:00Z",
            "s3.amazonaws.com",
            "GetObject",
            DEPLOYER,
            ip="10.20.30.41",
            error=(
                "VpceAccessDenied",
                not_authorized(
                    DEPLOYER["arn"],
                    "s3:GetObject",
                    "with an explicit deny in a VPC endpoint policy",
                    "arn:aws:s3:::artifacts/app.zip",
                ),
            ),
        ),
        event(
            t + "05:31:00Z",
            "s3.amazonaws.com",
            "PutObject",
            DEPLOYER,
            ip="10.20.30.41",
            error=(
                "AccessDenied",
                not_authorized(
                    DEPLOYER["arn"],
                    "s3:PutObject",
                    "because no VPC endpoint policy allows the s3:PutObject action",
                    "arn:aws:s3:::artifacts/app.zip",
                ),
            ),
        ),
        event(
            t + "06:00:00Z",
            "config.amazonaws.com",
            "PutEvaluations",
            SERVICE,
            ip="config.amazonaws.com",
            agent="config.amazonaws.com",
            error=("AccessDeniedException", "Service role lacks permission"),
        ),
        event(
            t + "07:45:00Z",
            "sns.amazonaws.com",
            "Publish",
            FEDERATED,
            region="us-east-1",
            error=(
                "AuthorizationError",
                f"User: {FEDERATED['arn']} is not authorized to perform: SNS:Publish on resource: "
                f"arn:aws:sns:us-east-1:{PROD}:alerts because no resource control policy allows the SNS:Publish action",
            ),
        ),
        event(t + "08:00:00Z", "s3.amazonaws.com", "ListObjects", DEPLOYER),
        event(t + "08:00:01Z", "s3.amazonaws.com", "PutObject", DEPLOYER, read_only=False),
    ]


def dev_day() -> list[dict[str, Any]]:
    t = "2026-11-21T"
    dev_role = role(DEV, "developer", "dave@example.com")
    return [
        event(
            t + "12:00:00Z",
            "ec2.amazonaws.com",
            "RunInstances",
            dev_role,
            account=DEV,
            region="us-west-2",
            ip="203.0.113.99",
            agent="console.amazonaws.com",
            error=(
                "Client.UnauthorizedOperation",
                "You are not authorized to perform this operation. "
                "Encoded authorization failure message: EXAMPLEENCODEDMESSAGE",
            ),
        ),
        event(
            t + "12:00:30Z",
            "ec2.amazonaws.com",
            "CreateVpc",
            dev_role,
            account=DEV,
            region="us-west-2",
            error=("UnauthorizedOperation", "You are not authorized to perform this operation."),
        ),
        event(
            t + "12:05:00Z",
            "apigateway.amazonaws.com",
            "GetRestApis",
            SSO_USER,
            account=DEV,
            region="us-west-2",
            error=("ForbiddenException", "User is not authorized to access this resource"),
        ),
        event(
            t + "12:06:00Z",
            "appsync.amazonaws.com",
            "ListGraphqlApis",
            SSO_USER,
            account=DEV,
            region="us-west-2",
            error=("UnauthorizedException", "You are not authorized to make this call."),
        ),
        event(
            t + "12:07:00Z",
            "sns.amazonaws.com",
            "ListTopics",
            SSO_USER,
            account=DEV,
            region="us-west-2",
            error=(
                "AuthorizationErrorException",
                "User is not authorized to perform SNS:ListTopics",
            ),
        ),
        event(
            t + "12:10:00Z",
            "sts.amazonaws.com",
            "GetCallerIdentity",
            dev_role,
            account=DEV,
            region="us-west-2",
        ),
    ]


def write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"Records": records}, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(body, mtime=0))


def file_name(account: str, region: str, stamp: str, index: int) -> str:
    return f"{account}_CloudTrail_{region}_{stamp}Z_{index:04x}.json.gz"


def main() -> None:
    """One file per (account, region, day), in the folder real CloudTrail would use."""
    shutil.rmtree(ROOT, ignore_errors=True)
    base = ROOT / "AWSLogs"
    files: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in [*day1(), *day2(), *dev_day()]:
        when = record["eventTime"]
        key = (record["recipientAccountId"], record["awsRegion"], when[:10])
        files.setdefault(key, []).append(record)
    for index, ((acct, region, day), records) in enumerate(sorted(files.items())):
        last = max(r["eventTime"] for r in records)  # delivered a few minutes after the last event
        stamp = day.replace("-", "") + f"T{last[11:13]}{min(59, int(last[14:16]) + 5):02d}"
        folder = base / acct / "CloudTrail" / region / day.replace("-", "/")
        write(folder / file_name(acct, region, stamp, index), records)
    digest = base / PROD / "CloudTrail-Digest" / "eu-west-1" / "2026/11/20"
    digest.mkdir(parents=True)
    digest_body = {"awsAccountId": PROD, "digestStartTime": "2026-11-20T09:00:00Z", "logFiles": []}
    name = f"{PROD}_CloudTrail-Digest_eu-west-1_demo_eu-west-1_20261120T100000Z.json.gz"
    (digest / name).write_bytes(gzip.compress(json.dumps(digest_body).encode(), mtime=0))
    insight = base / PROD / "CloudTrail-Insight" / "eu-west-1" / "2026/11/20"
    insight.mkdir(parents=True)
    insight_body = {"Records": [{"eventVersion": "1.08", "eventType": "AwsCloudTrailInsight"}]}
    name = f"{PROD}_CloudTrail-Insight_eu-west-1_20261120T1000Z_i1.json.gz"
    (insight / name).write_bytes(gzip.compress(json.dumps(insight_body).encode(), mtime=0))


if __name__ == "__main__":
    main()
