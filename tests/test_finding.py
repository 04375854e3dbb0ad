"""Finding.from_record: every principal type, every field's source, and bad input never crashes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from deniedwatch.finding import SCHEMA_FIELDS, Finding, action_of, console_url
from dwtest import DESIGN_FIELDS
from live_support import record
from strategies import CLOUDTRAIL_KEYS, random_records

ACCT = "111122223333"


ROLE_ARN = f"arn:aws:sts::{ACCT}:assumed-role/deploy-pipeline/build-4711"
ISSUER = {"type": "Role", "userName": "deploy-pipeline", "arn": f"arn:aws:iam::{ACCT}:role/x"}

# (identity, principal_type, principal_arn, principal_name)
PRINCIPALS = {
    "iam-user": (
        {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCT}:user/mallory",
            "userName": "mallory",
            "accountId": ACCT,
        },
        "IAMUser",
        f"arn:aws:iam::{ACCT}:user/mallory",
        "mallory",
    ),
    "iam-user-without-username": (
        {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/team/mallory"},
        "IAMUser",
        f"arn:aws:iam::{ACCT}:user/team/mallory",
        "team/mallory",
    ),
    "assumed-role": (
        {
            "type": "AssumedRole",
            "arn": ROLE_ARN,
            "principalId": "AROAEXAMPLE:build-4711",
            "sessionContext": {"sessionIssuer": ISSUER},
        },
        "AssumedRole",
        ROLE_ARN,
        "deploy-pipeline/build-4711",
    ),
    "assumed-role-without-arn": (
        {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:build-4711",
            "sessionContext": {"sessionIssuer": ISSUER},
        },
        "AssumedRole",
        None,
        "deploy-pipeline/build-4711",
    ),
    "root": (
        {"type": "Root", "arn": f"arn:aws:iam::{ACCT}:root", "accountId": ACCT},
        "Root",
        f"arn:aws:iam::{ACCT}:root",
        "root",
    ),
    "aws-service": (
        {"type": "AWSService", "invokedBy": "config.amazonaws.com"},
        "AWSService",
        None,
        "config.amazonaws.com",
    ),
    "federated-user": (
        {
            "type": "FederatedUser",
            "arn": f"arn:aws:sts::{ACCT}:federated-user/carol",
            "principalId": f"{ACCT}:carol",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "broker"}},
        },
        "FederatedUser",
        f"arn:aws:sts::{ACCT}:federated-user/carol",
        "carol",
    ),
    "aws-account": (
        {"type": "AWSAccount", "principalId": "AIDAEXTERNAL0001", "accountId": "999988887777"},
        "AWSAccount",
        None,
        "account 999988887777",
    ),
    "aws-account-without-account-id": (
        {"type": "AWSAccount", "principalId": "AIDAEXTERNAL0001"},
        "AWSAccount",
        None,
        "AIDAEXTERNAL0001",
    ),
    "identity-center-user": (
        {
            "type": "IdentityCenterUser",
            "accountId": ACCT,
            "onBehalfOf": {
                "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
                "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1234567890",
            },
            "credentialId": "EXAMPLE",
        },
        "IdentityCenterUser",
        None,
        "Identity Center user 544894e8-80c1-707f-60e3-3ba6510dfac1",
    ),
    "identity-center-user-with-name": (
        {
            "type": "IdentityCenterUser",
            "accountId": ACCT,
            "onBehalfOf": {"userId": "544894e8-80c1-707f-60e3-3ba6510dfac1"},
            "userName": "dave@example.com",
        },
        "IdentityCenterUser",
        None,
        "dave@example.com",
    ),
    "root-with-account-alias": (
        {"type": "Root", "arn": f"arn:aws:iam::{ACCT}:root", "userName": "acme-prod"},
        "Root",
        f"arn:aws:iam::{ACCT}:root",
        "root (acme-prod)",
    ),
    "assumed-role-session-only": (
        {"type": "AssumedRole", "principalId": "AROAEXAMPLE:build-4711"},
        "AssumedRole",
        None,
        "build-4711",
    ),
    "unknown-type-with-arn": (
        {"type": "SAMLUser", "arn": "arn:aws:sts::1:saml-user/erin", "principalId": "P1"},
        "SAMLUser",
        "arn:aws:sts::1:saml-user/erin",
        "erin",
    ),
    "unknown-type-principal-id-only": (
        {"type": "WebIdentityUser", "principalId": "accounts.google.com:123"},
        "WebIdentityUser",
        None,
        "accounts.google.com:123",
    ),
    "no-type-at-all": ({}, None, None, None),
}


@pytest.mark.parametrize("case", PRINCIPALS)
def test_principal(case: str) -> None:
    identity, kind, arn, name = PRINCIPALS[case]
    f = Finding.from_record(record(identity))
    assert (f.principal_type, f.principal_arn, f.principal_name) == (kind, arn, name)


def test_missing_user_identity() -> None:
    f = Finding.from_record(record())
    assert (f.principal_type, f.principal_arn, f.principal_name) == (None, None, None)
    assert f.account_id == ACCT


def test_to_dict_has_exactly_the_design_fields_in_order() -> None:
    f = Finding.from_record(record(PRINCIPALS["root"][0]))
    assert list(SCHEMA_FIELDS) == DESIGN_FIELDS
    assert list(f.to_dict()) == DESIGN_FIELDS
    assert json.loads(json.dumps(f.to_dict())) == f.to_dict()


def test_every_field_from_a_full_record() -> None:
    message = (
        f"User: arn:aws:sts::{ACCT}:assumed-role/deploy-pipeline/build-4711 is not authorized "
        "to perform: s3:GetObject on resource: arn:aws:s3:::artifacts/app.zip with an explicit "
        "deny in a VPC endpoint policy"
    )
    rec = record(
        PRINCIPALS["assumed-role"][0],
        errorCode="VpceAccessDenied",
        errorMessage=message,
        vpcEndpointId="vpce-0a1b2c3d4e5f67890",
        resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::other/thing"}],
    )
    assert Finding.from_record(rec).to_dict() == {
        "event_id": "0b1c2d3e-1111-2222-3333-444444444444",
        "event_time": "2026-11-20T09:01:10Z",
        "account_id": ACCT,
        "region": "eu-west-1",
        "principal_type": "AssumedRole",
        "principal_arn": ROLE_ARN,
        "principal_name": "deploy-pipeline/build-4711",
        "source_ip": "203.0.113.10",
        "user_agent": "aws-cli/2.17.0",
        "service": "s3.amazonaws.com",
        "event_name": "GetObject",
        "action": "s3:GetObject",
        "error_code": "VpceAccessDenied",
        "error_message": message,
        "denial_policy": "vpc-endpoint-policy",
        "denial_policy_arn": None,
        "denial_explicit": True,
        "vpc_endpoint_id": "vpce-0a1b2c3d4e5f67890",
        "hint": "Open the VPC endpoint policy of vpce-0a1b2c3d4e5f67890 and check the "
        "statement that denies s3:GetObject",
        "resource": "arn:aws:s3:::artifacts/app.zip",  # the message wins over resources[]
        "resource_id": None,
        "action_known": True,
        "console_url": "https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home"
        "?region=eu-west-1#/events/0b1c2d3e-1111-2222-3333-444444444444",
        "console_note": "not in Event history (a data event): see the trail's log files "
        "or log group",
    }


def test_account_falls_back_to_the_callers_account() -> None:
    rec = record({"type": "IAMUser", "userName": "u", "accountId": "999988887777"})
    del rec["recipientAccountId"]
    f = Finding.from_record(rec)
    assert (f.account_id, f.caller_account_id) == ("999988887777", "999988887777")


def test_caller_account_is_kept_apart_from_the_schema() -> None:
    f = Finding.from_record(record({"type": "AWSAccount", "accountId": "ANONYMOUS_PRINCIPAL"}))
    assert f.account_id == ACCT
    assert f.caller_account_id == "ANONYMOUS_PRINCIPAL"
    assert "caller_account_id" not in f.to_dict()


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{"ARN": "arn:aws:s3:::public-site/.env"}], "arn:aws:s3:::public-site/.env"),
        ([{"ARN": "arn:a"}, {"ARN": "arn:b"}], "arn:a"),
        ([], None),
        (None, None),
        ("arn:aws:s3:::x", None),
        (["arn:aws:s3:::x"], None),
        ([{"arn": "lower-case key"}], None),
        ([{"ARN": 42}], None),
        ({"ARN": "arn:not-a-list"}, None),
    ],
)
def test_resource_from_resources_when_the_message_has_none(resources: Any, expected: Any) -> None:
    assert Finding.from_record(record(resources=resources)).resource == expected


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("s3.amazonaws.com", "GetObject", "s3:GetObject"),
        ("monitoring.amazonaws.com", "PutMetricData", "cloudwatch:PutMetricData"),
        ("email.amazonaws.com", "SendEmail", "ses:SendEmail"),
        ("organizations.amazonaws.com", "LeaveOrganization", "organizations:LeaveOrganization"),
        (None, "GetObject", "GetObject"),
        ("s3.amazonaws.com", None, None),
        (None, None, None),
    ],
)
def test_action(source: str | None, name: str | None, action: str | None) -> None:
    assert action_of(source, name) == action


def test_console_url_needs_region_and_event_id() -> None:
    assert console_url("us-east-1", "e1") == (
        "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/e1"
    )
    assert console_url(None, "e1") is None
    assert console_url("us-east-1", None) is None
    assert Finding.from_record(record(awsRegion=None)).console_url is None


# The top-level CloudTrail fields a Finding reads (userIdentity is drawn apart below).


@pytest.mark.parametrize(
    "bad",
    [None, 0, 1.5, True, "", [], {}, ["x"], {"nested": "dict"}],
    ids=lambda v: type(v).__name__ + repr(v)[:10],
)
def test_wrongly_typed_fields_become_null(bad: Any) -> None:
    f = Finding.from_record(dict.fromkeys([*CLOUDTRAIL_KEYS, "userIdentity"], bad))
    assert all(v is None for v in f.to_dict().values()), f.to_dict()


def test_wrongly_typed_identity_fields() -> None:
    identity = {
        "type": ["IAMUser"],
        "arn": 5,
        "userName": {"x": 1},
        "sessionContext": "not a dict",
        "onBehalfOf": [1],
        "accountId": 111122223333,
        "invokedBy": None,
        "principalId": False,
    }
    f = Finding.from_record(record(identity, recipientAccountId=None))
    assert (f.principal_type, f.principal_arn, f.principal_name, f.account_id) == (
        None,
        None,
        None,
        None,
    )
    for kind in ("IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser", "AWSAccount"):
        Finding.from_record(record({**identity, "type": kind}))


def test_record_like_objects_are_accepted() -> None:
    """Anything with a dict-like ``get`` works (the scan passes decoded structs)."""

    class Wrapper:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def get(self, key: str, default: Any = None) -> Any:
            return self.data.get(key, default)

    rec = record(PRINCIPALS["iam-user"][0])
    assert Finding.from_record(Wrapper(rec)) == Finding.from_record(rec)


# ---- property: random records never crash -----------------------------------------


@settings(max_examples=300, deadline=None)
@given(random_records)
def test_random_records_never_crash(rec: dict[str, Any]) -> None:
    f = Finding.from_record(rec)
    for name, value in f.to_dict().items():
        if name in ("denial_explicit", "action_known"):
            assert value is None or isinstance(value, bool)
        else:
            assert value is None or (isinstance(value, str) and value), (name, value)


@pytest.mark.parametrize("kind", ["IAMUser", "AssumedRole", "FederatedUser", "SAMLUser"])
@pytest.mark.parametrize(
    "arn", ["a/", "arn:aws:iam::1:user/", "arn:aws:sts::1:assumed-role/", "x:federated-user/"]
)
def test_arn_with_nothing_after_the_marker_gives_null_not_empty(kind: str, arn: str) -> None:
    """Regression: these gave principal_name "" instead of null."""
    assert Finding.from_record(record({"type": kind, "arn": arn})).principal_name is None


# ---- issue 12: the exact "why" -----------------------------------------------------------

# A network activity event denied by a VPC endpoint policy, shaped like AWS's example
# (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-events.html,
# "Network activity events"): no userIdentity ARN is needed to read the reason.
VPCE_RECORD: dict[str, Any] = {
    "eventVersion": "1.11",
    "userIdentity": {
        "type": "AWSAccount",
        "principalId": "AIDAEXAMPLE",
        "accountId": "444455556666",
    },
    "eventTime": "2026-11-20T09:01:10Z",
    "eventSource": "kms.amazonaws.com",
    "eventName": "ListKeys",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "10.0.1.23",
    "errorCode": "VpceAccessDenied",
    "errorMessage": "The request was denied due to a VPC endpoint policy",
    "eventID": "3a5a1b2c-0000-1111-2222-333344445555",
    "eventType": "AwsVpceEvent",
    "recipientAccountId": ACCT,
    "vpcEndpointId": "vpce-EXAMPLE08c1b6b9b7",
    "vpcEndpointAccountId": ACCT,
    "eventCategory": "NetworkActivity",
}


def test_vpce_access_denied_gives_the_endpoint_policy_and_id() -> None:
    f = Finding.from_record(VPCE_RECORD)
    assert (f.denial_policy, f.denial_explicit) == ("vpc-endpoint-policy", None)
    assert f.vpc_endpoint_id == "vpce-EXAMPLE08c1b6b9b7"
    assert f.hint is not None and "vpce-EXAMPLE08c1b6b9b7" in f.hint
    assert f.console_note is not None and "network activity" in f.console_note


def test_vpce_access_denied_without_the_message_phrase() -> None:
    f = Finding.from_record({**VPCE_RECORD, "errorMessage": "Access denied"})
    assert f.denial_policy == "vpc-endpoint-policy"


@pytest.mark.parametrize("bad", ["not-an-endpoint", "vpce-" + "x" * 100, 7, ["vpce-1"]])
def test_vpc_endpoint_id_must_look_like_one(bad: Any) -> None:
    f = Finding.from_record({**VPCE_RECORD, "vpcEndpointId": bad, "errorMessage": "x"})
    assert f.vpc_endpoint_id is None


def test_scp_message_gives_the_policy_arn_and_a_hint_to_open_it() -> None:
    arn = "arn:aws:organizations::111122223333:policy/o-a1b2c3d4e5/service_control_policy/p-ab12"
    message = (
        f"User: {ROLE_ARN} is not authorized to perform: s3:PutBucketPolicy on resource: "
        f"arn:aws:s3:::payroll with an explicit deny in a service control policy: {arn}"
    )
    f = Finding.from_record(record(errorMessage=message, eventName="PutBucketPolicy"))
    assert (f.denial_policy, f.denial_policy_arn, f.denial_explicit) == (
        "service-control-policy",
        arn,
        True,
    )
    assert f.hint == (
        f"Open the service control policy (SCP) {arn} and check the statement that denies "
        "s3:PutBucketPolicy"
    )


# (errorCode, errorMessage, eventSource, eventName, requestParameters, words in the hint)
HINTS = [
    (
        "Client.UnauthorizedOperation",
        "You are not authorized to perform this operation. Encoded authorization failure "
        "message: EXAMPLEWodyRNrtlQARDip-eTA6i6DrlUhHhPQrLWB_lAbl5pAKxl9mPDLexYcGBreyIKQC1",
        "ec2.amazonaws.com",
        "RunInstances",
        {"instancesSet": {"items": [{"imageId": "ami-1"}]}},
        ["aws sts decode-authorization-message --encoded-message"],
    ),
    (
        "AccessDenied",
        f"User: {ROLE_ARN} is not authorized to perform: sts:AssumeRole on resource: "
        "arn:aws:iam::111122223333:role/admin",
        "sts.amazonaws.com",
        "AssumeRole",
        {"roleArn": "arn:aws:iam::111122223333:role/admin"},
        ["trust policy of arn:aws:iam::111122223333:role/admin", "sts:AssumeRole"],
    ),
    (
        "AccessDenied",
        "IAM user access not activated",
        "billingconsole.amazonaws.com",
        "GetBillingData",
        None,
        ["account setting", "Billing"],
    ),
    (
        "AccessDenied",
        "Access Denied",
        "s3.amazonaws.com",
        "GetObject",
        {"bucketName": "payroll", "key": "s.csv"},
        ["does not name the policy", "s3:GetObject on arn:aws:s3:::payroll/s.csv"],
    ),
]


@pytest.mark.parametrize(("code", "message", "source", "name", "params", "words"), HINTS)
def test_hint_says_what_to_do_next(
    code: str, message: str, source: str, name: str, params: Any, words: list[str]
) -> None:
    f = Finding.from_record(
        record(
            errorCode=code,
            errorMessage=message,
            eventSource=source,
            eventName=name,
            requestParameters=params,
        )
    )
    assert f.denial_policy is None
    assert f.hint is not None
    for w in words:
        assert w in f.hint


def test_every_example_finding_without_a_policy_has_a_hint() -> None:
    import gzip
    from pathlib import Path

    from deniedwatch.rules import Ruleset

    ruleset = Ruleset()
    files = sorted((Path(__file__).parent.parent / "examples" / "cloudtrail").rglob("*.json.gz"))
    seen = 0
    for path in files:
        for rec in json.loads(gzip.decompress(path.read_bytes())).get("Records", []):
            detection = ruleset.evaluate(rec)
            if detection.finding is None:
                continue
            seen += 1
            if detection.finding.denial_policy is None:
                assert detection.finding.hint, rec
    assert seen > 10


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", "eu-west-1.console.aws.amazon.com"),
        # China and GovCloud: the partition's console, region in the query
        # (https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html)
        ("cn-north-1", "console.amazonaws.cn"),
        ("cn-northwest-1", "console.amazonaws.cn"),
        ("us-gov-west-1", "console.amazonaws-us-gov.com"),
        ("us-gov-east-1", "console.amazonaws-us-gov.com"),
    ],
)
def test_console_host_follows_the_partition(region: str, host: str) -> None:
    url = console_url(region, "e1")
    assert url == f"https://{host}/cloudtrailv2/home?region={region}#/events/e1"


def test_s3_arn_from_request_parameters_follows_the_partition() -> None:
    f = Finding.from_record(
        record(
            awsRegion="cn-north-1",
            errorMessage="Access Denied",
            requestParameters={"bucketName": "b"},
        )
    )
    assert f.resource == "arn:aws-cn:s3:::b"


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"eventCategory": "Data"}, "a data event"),
        ({"eventCategory": "NetworkActivity"}, "a network activity event"),
        ({"eventCategory": "Management"}, None),
        ({"eventType": "AwsVpceEvent"}, "a network activity event"),
        ({"eventSource": "s3.amazonaws.com", "eventName": "PutObject"}, "a data event"),
        ({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets"}, None),
        ({"eventSource": "appsync.amazonaws.com", "eventName": "GraphQL"}, "a data event"),
        ({"eventSource": "iam.amazonaws.com", "eventName": "ListUsers"}, None),
    ],
)
def test_events_event_history_cannot_show_say_so(fields: dict[str, Any], kind: str | None) -> None:
    rec = record(**fields)
    f = Finding.from_record(rec)
    if kind is None:
        assert f.console_note is None
    else:
        assert f.console_note is not None and kind in f.console_note


def test_history_note_for_events_older_than_90_days() -> None:
    from datetime import UTC, datetime

    from deniedwatch.finding import history_note

    f = Finding.from_record(record(eventSource="iam.amazonaws.com", eventName="ListUsers"))
    event = datetime(2026, 11, 20, 9, 1, 10, tzinfo=UTC).timestamp()
    assert history_note(f, event + 89 * 86400) is None
    assert "older than 90 days" in (history_note(f, event + 91 * 86400) or "")
    assert history_note(f, None) is None
    unreadable = Finding.from_record(
        record(eventTime="yesterday", eventSource="iam.amazonaws.com", eventName="ListUsers")
    )
    assert history_note(unreadable, event) is None
