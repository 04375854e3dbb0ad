"""Writes a realistic CloudTrail log tree for the benchmarks (deterministic from a seed).

Real-shaped events (1-3 KB each, with requestParameters / responseElements /
additionalEventData / tlsDetails as AWS writes them), several identity types, laid
out as ``AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/`` with one digest file per
folder (a scan skips them). Two shapes of the same events:

- ``--shape worst``: 2,000 events in every ``.json.gz`` file, ~2% errors of which
  ~0.5% of all events are denials, spread evenly: every file holds ~10 denials, so
  every file must be parsed.
- ``--shape real``: files as CloudTrail delivers them, one per account, region and
  5 minutes, so many small files and a few large ones (sizes drawn log-normally per
  region: a busy region, a quieter one, an almost idle one); ~1.5% other errors
  everywhere; denials in bursts (one caller, one call, many times in a row) in 20% of
  the files, the share measured in a public account's trail (11 of 55 files; see
  docs/performance.md).

    python bench/generate.py --shape real --events 1000000 --seed 7 --out bench/data/real

Each file is generated from its own seed (seed, file number), so files can be
made in parallel and the tree is the same whatever ``--procs``. A tree already
there with the same parameters (``.manifest``, not a log file) is left as it is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:  # the project's fastest gzip; CloudTrail's own files are plain gzip too
    from isal import igzip as _gzip

    def _compress(data: bytes) -> bytes:
        return _gzip.compress(data, compresslevel=2, mtime=0)
except ImportError:  # pragma: no cover
    import gzip as _gzip

    def _compress(data: bytes) -> bytes:
        return _gzip.compress(data, compresslevel=6, mtime=0)


EVENTS_PER_FILE = 2000
SHAPES = ("worst", "real")
# --shape real: the median events of a 5-minute file in each region (log-normal, sigma
# REAL_SIGMA, at most REAL_MAX_EVENTS), and the share of files that hold any denial
REAL_MEDIANS = {"us-east-1": 1200, "eu-west-1": 300, "us-west-2": 40}
REAL_SIGMA = 1.0
REAL_MAX_EVENTS = 20_000
REAL_DENIAL_FILES = 0.20
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
REGIONS = ("eu-west-1", "us-east-1", "us-west-2")
START = datetime(2026, 10, 1, tzinfo=UTC)
AGENTS = (
    "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.102 md/arch#x86_64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.cp",
    "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#5.10.223-211.872.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy",
    "aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 "
    "api/s3#1.58.2 m/E,Z",
    "aws-sdk-java/2.26.25 Linux/5.10.220-209.869.amzn2.x86_64 "
    "OpenJDK_64-Bit_Server_VM/17.0.12+7-LTS Java/17.0.12 vendor/Amazon.com_Inc. "
    "io/sync http/Apache cfg/retry-mode/legacy",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/127.0.0.0 Safari/537.36",
    "Terraform/1.9.3 (+https://www.terraform.io) terraform-provider-aws/5.61.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3",
)
ROLES = (
    "orders-api",
    "billing-worker",
    "deploy-pipeline",
    "data-lake-etl",
    "eks-node",
    "AWSReservedSSO_Admin_abc123",
)
USERS = ("alice", "bob", "ci-bot", "legacy-backup", "mallory")
BUCKETS = ("orders-artifacts", "data-lake-raw", "payroll-exports", "static-site", "tf-state")

# other errors (not denials), with their messages
OTHER_ERRORS = (
    ("ThrottlingException", "Rate exceeded"),
    ("NoSuchKey", "The specified key does not exist."),
    ("ResourceNotFoundException", "Requested resource not found"),
    (
        "ValidationException",
        "1 validation error detected: Value null at 'name' failed to satisfy constraint",
    ),
    ("RequestLimitExceeded", "Request limit exceeded."),
    ("InvalidParameterValueException", "The parameter value is not valid."),
    ("ConditionalCheckFailedException", "The conditional request failed"),
)


@dataclass(frozen=True)
class Params:
    events: int
    seed: int
    events_per_file: int = EVENTS_PER_FILE
    version: int = 2  # bump when the shape of the data changes
    shape: str = "worst"


# ---- identities ------------------------------------------------------------------


def _id(rng: random.Random, prefix: str, n: int = 17) -> str:
    return prefix + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=n))


def _assumed_role(rng: random.Random, account: str) -> dict[str, Any]:
    role = rng.choice(ROLES)
    session = rng.choice(
        (
            "i-0a1b2c3d4e5f67890",
            "botocore-session-1732000000",
            "alice@example.com",
            f"build-{rng.randint(1000, 9999)}",
        )
    )
    role_id = "AROA" + account[:4] + role.upper().replace("-", "")[:12].ljust(12, "X")
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": _id(rng, "ASIA", 16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-10-01T07:12:44Z", "mfaAuthenticated": "false"},
            "ec2RoleDelivery": "2.0",
        },
        "inScopeOf": {
            "issuerType": "AWS::Lambda::Function",
            "credentialsIssuedTo": f"arn:aws:lambda:eu-west-1:{account}:function:{role}",
        },
    }


def _iam_user(rng: random.Random, account: str) -> dict[str, Any]:
    user = rng.choice(USERS)
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + account[:4] + user.upper().ljust(13, "Q")[:13],
        "arn": f"arn:aws:iam::{account}:user/{user}",
        "accountId": account,
        "accessKeyId": _id(rng, "AKIA", 16),
        "userName": user,
    }


def _identity(rng: random.Random, account: str) -> tuple[dict[str, Any], str]:
    """(userIdentity, sourceIPAddress): mostly roles, then users, services, rarer kinds."""
    roll = rng.random()
    octets = (
        rng.choice((10, 172, 54, 3)),
        rng.randint(0, 255),
        rng.randint(0, 255),
        rng.randint(1, 254),
    )
    ip = ".".join(map(str, octets))
    if roll < 0.62:
        return _assumed_role(rng, account), ip
    if roll < 0.80:
        return _iam_user(rng, account), ip
    if roll < 0.93:
        svc = rng.choice(
            (
                "lambda.amazonaws.com",
                "ec2.amazonaws.com",
                "config.amazonaws.com",
                "cloudformation.amazonaws.com",
            )
        )
        return {"type": "AWSService", "invokedBy": svc}, svc
    if roll < 0.97:
        return {
            "type": "FederatedUser",
            "principalId": f"{account}:carol",
            "arn": f"arn:aws:sts::{account}:federated-user/carol",
            "accountId": account,
            "accessKeyId": _id(rng, "ASIA", 16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "IAMUser",
                    "principalId": "AIDABROKER",
                    "arn": f"arn:aws:iam::{account}:user/broker",
                    "accountId": account,
                    "userName": "broker",
                },
                "attributes": {"creationDate": "2026-10-01T06:00:00Z", "mfaAuthenticated": "false"},
            },
        }, ip
    if roll < 0.99:
        return {
            "type": "AWSAccount",
            "principalId": "AIDAEXTERNAL0001",
            "accountId": "999988887777",
        }, ip
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": _id(rng, "ASIA", 16),
    }, ip


# ---- calls -----------------------------------------------------------------------


def _call(
    rng: random.Random, account: str, region: str
) -> tuple[str, str, dict, Any, Any, list | None]:
    """(eventSource, eventName, requestParameters, responseElements, additionalEventData,
    resources) of one API call."""
    kind = rng.randrange(10)
    if kind <= 2:
        bucket = rng.choice(BUCKETS)
        key = (
            f"{rng.choice(('exports', 'raw', 'tmp', 'builds'))}/2026/{rng.randint(1, 12):02d}/"
            f"part-{rng.randint(0, 99999):05d}-{_id(rng, '', 8).lower()}.parquet"
        )
        name = rng.choice(("GetObject", "PutObject", "HeadObject", "HeadBucket"))
        params = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key}
        if name == "PutObject":
            params["x-amz-server-side-encryption"] = "aws:kms"
        extra = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0 if name != "PutObject" else rng.randint(100, 9_000_000),
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": _id(rng, "", 60),
            "bytesTransferredOut": rng.randint(100, 9_000_000) if name == "GetObject" else 0,
        }
        res = [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ]
        return "s3.amazonaws.com", name, params, None, extra, res
    if kind == 3:
        name = rng.choice(("DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes"))
        params = {
            "instancesSet": {
                "items": [
                    {"instanceId": f"i-0{_id(rng, '', 16).lower()}"}
                    for _ in range(rng.randint(1, 4))
                ]
            },
            "filterSet": {
                "items": [
                    {"name": "tag:Environment", "valueSet": {"items": [{"value": "prod"}]}},
                    {
                        "name": "instance-state-name",
                        "valueSet": {"items": [{"value": "running"}, {"value": "pending"}]},
                    },
                    {"name": "tag:Team", "valueSet": {"items": [{"value": "platform"}]}},
                ]
            },
            "maxResults": 1000,
        }
        return "ec2.amazonaws.com", name, params, None, None, None
    if kind == 4:
        role = rng.choice(ROLES)
        params = {
            "roleArn": f"arn:aws:iam::{account}:role/{role}",
            "roleSessionName": f"session-{rng.randint(1, 10**6)}",
            "durationSeconds": 3600,
        }
        resp = {
            "credentials": {
                "accessKeyId": _id(rng, "ASIA", 16),
                "sessionToken": _id(rng, "IQoJb3JpZ2luX2Vj", 300),
                "expiration": "Oct 1, 2026, 9:12:44 AM",
            },
            "assumedRoleUser": {
                "assumedRoleId": f"AROA{_id(rng, '', 17)}:session",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session",
            },
        }
        res = [
            {
                "accountId": account,
                "type": "AWS::IAM::Role",
                "ARN": f"arn:aws:iam::{account}:role/{role}",
            }
        ]
        return "sts.amazonaws.com", "AssumeRole", params, resp, None, res
    if kind == 5:
        key_id = f"{_id(rng, '', 8).lower()}-12ab-34cd-56ef-{_id(rng, '', 12).lower()}"
        params = {
            "keyId": f"arn:aws:kms:{region}:{account}:alias/{rng.choice(ROLES)}",
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {
                "aws:lambda:FunctionArn": (
                    f"arn:aws:lambda:{region}:{account}:function:{rng.choice(ROLES)}"
                )
            },
        }
        res = [
            {
                "accountId": account,
                "type": "AWS::KMS::Key",
                "ARN": f"arn:aws:kms:{region}:{account}:key/{key_id}",
            }
        ]
        return (
            "kms.amazonaws.com",
            rng.choice(("Decrypt", "GenerateDataKey")),
            params,
            None,
            None,
            res,
        )
    if kind == 6:
        table = rng.choice(("orders", "sessions", "dedup", "inventory"))
        params = {
            "tableName": table,
            "key": {"pk": f"ORDER#{rng.randint(1, 10**9)}", "sk": "META"},
            "consistentRead": False,
            "projectionExpression": "#s, total, updatedAt",
            "expressionAttributeNames": {"#s": "status"},
        }
        res = [
            {
                "accountId": account,
                "type": "AWS::DynamoDB::Table",
                "ARN": f"arn:aws:dynamodb:{region}:{account}:table/{table}",
            }
        ]
        return (
            "dynamodb.amazonaws.com",
            rng.choice(("GetItem", "PutItem", "Query")),
            params,
            None,
            None,
            res,
        )
    if kind == 7:
        fn = rng.choice(ROLES)
        arn = f"arn:aws:lambda:{region}:{account}:function:{fn}"
        params = {
            "functionName": arn,
            "invocationType": "Event",
            "qualifier": "$LATEST",
            "clientContext": _id(rng, "eyJjdXN0b20iOnsi", 80),
            "logType": "None",
        }
        res = [{"accountId": account, "type": "AWS::Lambda::Function", "ARN": arn}]
        return (
            "lambda.amazonaws.com",
            "Invoke",
            params,
            None,
            {"functionVersion": f"{arn}:$LATEST"},
            res,
        )
    if kind == 8:
        env, app = rng.choice(("prod", "stage")), rng.choice(ROLES)
        names = [
            f"/{env}/{app}/{k}" for k in ("db-url", "api-key", "flags", "queue-url", "feature-x")
        ]
        params = {"names": names[: rng.randint(3, 5)], "withDecryption": True}
        resp = (
            {"invalidParameters": [f"/{env}/{app}/deprecated-setting"]}
            if rng.random() < 0.2
            else None
        )
        res = [
            {
                "accountId": account,
                "type": "AWS::SSM::Parameter",
                "ARN": f"arn:aws:ssm:{region}:{account}:parameter{n}",
            }
            for n in params["names"][:2]
        ]
        return "ssm.amazonaws.com", "GetParameters", params, resp, None, res
    ns = rng.choice(("orders", "billing", "AWS/Lambda"))
    params = {
        "namespace": ns,
        "metricData": [
            {
                "metricName": m,
                "unit": "Count",
                "value": rng.randint(0, 500),
                "dimensions": [
                    {"name": "Service", "value": rng.choice(ROLES)},
                    {"name": "Stage", "value": "prod"},
                ],
            }
            for m in ("Requests", "Errors", "Latency", "Retries")[: rng.randint(2, 4)]
        ],
    }
    return "monitoring.amazonaws.com", "PutMetricData", params, None, None, None


def _denial(
    rng: random.Random, arn: str | None, source: str, name: str, resource: str | None
) -> tuple[str, str]:
    prefix = source.split(".", 1)[0]
    action = f"{'cloudwatch' if prefix == 'monitoring' else prefix}:{name}"
    who = arn or "anonymous"
    on = f" on resource: {resource}" if resource else ""
    tail = rng.choice(
        (
            f"because no identity-based policy allows the {action} action",
            "with an explicit deny in a service control policy",
            f"because no resource-based policy allows the {action} action",
            "with an explicit deny in a permissions boundary",
            f"because no session policy allows the {action} action",
        )
    )
    if source == "ec2.amazonaws.com":
        return (
            "Client.UnauthorizedOperation",
            "You are not authorized to perform this operation. "
            f"User: {who} is not authorized to perform: {action} {tail}. "
            f"Encoded authorization failure message: {_id(rng, '', 120)}",
        )
    code = "AccessDenied" if source == "s3.amazonaws.com" else "AccessDeniedException"
    return code, f"User: {who} is not authorized to perform: {action}{on} {tail}"


Call = tuple[str, str, dict, Any, Any, list | None]


def make_record(
    rng: random.Random,
    account: str,
    region: str,
    when: datetime,
    *,
    denial_rate: float = 0.005,
    caller: tuple[dict[str, Any], str] | None = None,
    call: Call | None = None,
) -> dict[str, Any]:
    """One event. A denial with probability ``denial_rate`` (1: always), another error
    with ~1.5%; ``caller`` and ``call`` fix who calls what (a burst of denials)."""
    identity, ip = caller or _identity(rng, account)
    source, name, params, resp, extra, resources = call or _call(rng, account, region)
    record: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ip if identity["type"] == "AWSService" else rng.choice(AGENTS),
    }
    roll = rng.random()
    if roll < denial_rate:
        resource = resources[0]["ARN"] if resources else None
        record["errorCode"], record["errorMessage"] = _denial(
            rng, identity.get("arn"), source, name, resource
        )
        resp = None
    elif roll < denial_rate + 0.015:
        record["errorCode"], record["errorMessage"] = rng.choice(OTHER_ERRORS)
        resp = None
    record["requestParameters"] = params
    record["responseElements"] = resp
    if extra is not None:
        record["additionalEventData"] = extra
    record["requestID"] = (
        _id(rng, "", 16)
        if source == "s3.amazonaws.com"
        else f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
        f"a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
    )
    record["eventID"] = (
        f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
        f"b{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
    )
    record["readOnly"] = name.startswith(("Get", "Describe", "Head", "List", "Query"))
    if resources:
        record["resources"] = resources
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = source != "s3.amazonaws.com" and name not in ("Invoke", "Decrypt")
    record["recipientAccountId"] = account
    if source != "s3.amazonaws.com" and rng.random() < 0.5:
        record["vpcEndpointId"] = f"vpce-0{rng.getrandbits(64):016x}"
        record["vpcEndpointAccountId"] = account
    if source == "s3.amazonaws.com" or identity["type"] == "AWSService":
        record["sharedEventID"] = f"{rng.getrandbits(64):016x}"
    record["eventCategory"] = "Management" if record["managementEvent"] else "Data"
    record["tlsDetails"] = {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
    }
    return record


# ---- files -----------------------------------------------------------------------

STREAMS = [(a, r) for r in REGIONS for a in ACCOUNTS]  # one file each per 5 minutes


@dataclass(frozen=True)
class FilePlan:
    """One log file to write: which stream and slot, how many events, its denials."""

    index: int
    events: int
    bursts: tuple[tuple[int, int], ...] = ()  # (first record, length) of each burst

    @property
    def account(self) -> str:
        return STREAMS[self.index % len(STREAMS)][0]

    @property
    def region(self) -> str:
        return STREAMS[self.index % len(STREAMS)][1]

    @property
    def start(self) -> datetime:
        return START + timedelta(minutes=5 * (self.index // len(STREAMS)))


def file_path(root: Path, plan: FilePlan) -> Path:
    """The file's standard key, as CloudTrail names it."""
    account, region, when = plan.account, plan.region, plan.start
    day = when.strftime("%Y/%m/%d")
    stamp = when.strftime("%Y%m%dT%H%MZ")
    name = f"{account}_CloudTrail_{region}_{stamp}_{plan.index:08x}Ab3dEf9h.json.gz"
    return root / "AWSLogs" / account / "CloudTrail" / region / day / name


def plan_files(params: Params) -> list[FilePlan]:
    """Every file of the tree, deterministic from the seed."""
    if params.shape == "worst":
        full, rest = divmod(params.events, params.events_per_file)
        counts = [params.events_per_file] * full + ([rest] if rest else [])
        return [FilePlan(i, n) for i, n in enumerate(counts)]
    rng = random.Random(params.seed)
    counts: list[int] = []
    left = params.events
    while left > 0:
        region = STREAMS[len(counts) % len(STREAMS)][1]
        drawn = rng.lognormvariate(math.log(REAL_MEDIANS[region]), REAL_SIGMA)
        n = min(left, max(1, min(REAL_MAX_EVENTS, round(drawn))))
        counts.append(n)
        left -= n
    denied = set(rng.sample(range(len(counts)), round(len(counts) * REAL_DENIAL_FILES)))
    plans = []
    for i, n in enumerate(counts):
        bursts: list[tuple[int, int]] = []
        if i in denied:
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                length = min(n, max(1, round(rng.lognormvariate(math.log(6), 1.0))))
                bursts.append((rng.randrange(n - length + 1), length))
        plans.append(FilePlan(i, n, tuple(bursts)))
    return plans


def _records(rng: random.Random, plan: FilePlan, shape: str) -> list[dict[str, Any]]:
    account, region, start = plan.account, plan.region, plan.start
    step = timedelta(milliseconds=300_000 // max(1, plan.events))
    if shape == "worst":
        step = timedelta(milliseconds=150)
        return [make_record(rng, account, region, start + step * i) for i in range(plan.events)]
    in_burst: dict[int, tuple[dict[str, Any], str, Call]] = {}
    for first, length in plan.bursts:
        caller = _identity(rng, account)
        while "arn" not in caller[0]:  # someone with a name, as a broken deploy or a probe
            caller = _identity(rng, account)
        call = _call(rng, account, region)
        for i in range(first, first + length):
            in_burst[i] = (caller[0], caller[1], call)
    records = []
    for i in range(plan.events):
        when = start + step * i
        if i in in_burst:
            identity, ip, call = in_burst[i]
            record = make_record(
                rng, account, region, when, denial_rate=1.0, caller=(identity, ip), call=call
            )
        else:
            record = make_record(rng, account, region, when, denial_rate=0.0)
        records.append(record)
    return records


def write_file(root: Path, plan: FilePlan, seed: int, shape: str) -> tuple[int, int]:
    """One log file; returns (uncompressed bytes, compressed bytes)."""
    rng = random.Random(seed * 1_000_003 + plan.index)
    path = file_path(root, plan)
    body = json.dumps({"Records": _records(rng, plan, shape)}, separators=(",", ":")).encode()
    packed = _compress(body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(packed)
    account, region = plan.account, plan.region
    digest = (
        root
        / "AWSLogs"
        / account
        / "CloudTrail-Digest"
        / region
        / path.parent.relative_to(root / "AWSLogs" / account / "CloudTrail" / region)
        / f"{account}_CloudTrail-Digest_{region}_digest.json.gz"
    )
    if not digest.exists():
        digest.parent.mkdir(parents=True, exist_ok=True)
        digest.write_bytes(
            _compress(json.dumps({"awsAccountId": account, "logFiles": []}).encode())
        )
    return len(body), len(packed)


def log_files(root: Path) -> list[Path]:
    """The tree's log files (digests left out), sorted."""
    return sorted(root.glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz"))


def generate(params: Params, root: Path, procs: int) -> dict[str, Any]:
    manifest = root / ".manifest"
    if manifest.exists() and json.loads(manifest.read_text()).get("params") == asdict(params):
        return json.loads(manifest.read_text())
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    plans = plan_files(params)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=procs) as pool:
        sizes = list(
            pool.map(
                write_file,
                [root] * len(plans),
                plans,
                [params.seed] * len(plans),
                [params.shape] * len(plans),
                chunksize=4,
            )
        )
    counts = sorted(p.events for p in plans)
    info = {
        "params": asdict(params),
        "files": len(plans),
        "events": sum(counts),
        "files_with_denials": sum(1 for p in plans if p.bursts) if params.shape == "real" else None,
        "events_per_file": {
            "min": counts[0],
            "median": counts[len(counts) // 2],
            "max": counts[-1],
        },
        "bytes_uncompressed": sum(s[0] for s in sizes),
        "bytes_compressed": sum(s[1] for s in sizes),
        "seconds": round(time.perf_counter() - started, 1),
    }
    manifest.write_text(json.dumps(info, indent=2) + "\n")
    return info


def default_out(shape: str) -> Path:
    return Path(__file__).resolve().parent / "data" / shape


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--events", type=int, default=1_000_000, help="events in total (default 1,000,000)"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shape", choices=SHAPES, default="worst")
    ap.add_argument("--out", type=Path, help="default: bench/data/<shape>")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    if args.events < 1:
        ap.error("--events must be positive")
    out = args.out or default_out(args.shape)
    info = generate(Params(args.events, args.seed, shape=args.shape), out, args.procs)
    per = info["events_per_file"]
    print(
        f"{out}: {info['files']} files ({per['min']}/{per['median']}/{per['max']} events "
        f"min/median/max), {info['events']} events, "
        f"{info['bytes_uncompressed'] / 1e6:.0f} MB of JSON, "
        f"{info['bytes_compressed'] / 1e6:.0f} MB gzipped "
        f"(generated in {info['seconds']} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
