"""Every policy type x explicit/implicit x same/cross account, from the message formats AWS
documents, through Finding.from_record; and the real message shapes issue 24 found.

Sources of the formats (each fixture below names the one it follows):

- IAM_PAGE: "Troubleshoot access denied error messages", IAM user guide,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
  ("with an explicit deny in a <type> policy" / "because no <type> policy allows the
  <action> action"; only one policy type is named even when several deny).
- ARN_BLOG: "Enhanced access denied error messages with policy ARNs", AWS Security Blog,
  https://aws.amazon.com/blogs/security/enhanced-access-denied-error-messages-with-policy-arns/
  (the ARN of the denying SCP, RCP, permissions boundary, session policy or identity-based
  policy follows the type after ": ", same account and same organization only; its
  "Before" message is the older phrasing).
- SCP_KC: "How do I troubleshoot explicit deny in a service control policy errors?",
  https://repost.aws/knowledge-center/organizations-troubleshoot-explicit-deny-scp (EC2's
  message: the IAM sentence followed by "Encoded authorization failure message: …").
- USER_IDENTITY: CloudTrail userIdentity element (AWSAccount, IdentityCenterUser shapes),
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
"""

from __future__ import annotations

from typing import Any

import pytest

from deniedwatch.alerts import wording
from deniedwatch.explain import POLICY_KINDS, PolicyType
from deniedwatch.finding import Finding

OWNER = "111122223333"  # the account the denial happened in (recipientAccountId)
OTHER = "444455556666"  # a caller from another account
ORG_MGMT = "987654321098"

# The denying policy's ARN as ARN_BLOG shows it, per type (None: types the blog does not
# cover: resource-based and VPC endpoint policies are never named by ARN).
POLICY_ARNS: dict[str, str | None] = {
    "service-control-policy": f"arn:aws:organizations::{ORG_MGMT}:policy/o-qv5af4abcd/"
    "service_control_policy/p-2kgnabcd",
    "resource-control-policy": f"arn:aws:organizations::{ORG_MGMT}:policy/o-qv5af4abcd/"
    "resource_control_policy/p-3kgnabcd",
    "permissions-boundary": f"arn:aws:iam::{OWNER}:policy/DeveloperBoundary",
    "session-policy": f"arn:aws:iam::{OWNER}:policy/SessionScopeDown",
    "identity-based-policy": f"arn:aws:iam::{OWNER}:policy/DenyKms",
    "resource-based-policy": None,
    "vpc-endpoint-policy": None,
}
KEY = f"arn:aws:kms:eu-west-1:{OWNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _article(phrase: str) -> str:
    return "an" if phrase[0] in "aeiou" else "a"


def _message(caller: str, kind: PolicyType, explicit: bool, arn: str | None) -> str:
    """IAM_PAGE's two sentences (ARN_BLOG's ": <arn>" after an explicit deny's type)."""
    head = f"User: {caller} is not authorized to perform: kms:Decrypt on resource: {KEY} "
    phrase = kind.words if kind.name == "vpc-endpoint-policy" else kind.phrase
    if explicit:
        return (
            head
            + f"with an explicit deny in {_article(phrase)} {phrase}"
            + (f": {arn}" if arn else "")
        )
    return head + f"because no {phrase} allows the kms:Decrypt action"


CALLERS: dict[str, tuple[dict[str, Any], str, str]] = {
    # (userIdentity, the ARN the message names, principal_name)
    "same-account role": (
        {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{OWNER}:assumed-role/app/session-1",
            "accountId": OWNER,
            "principalId": "AROAEXAMPLE:session-1",
        },
        f"arn:aws:sts::{OWNER}:assumed-role/app/session-1",
        "app/session-1",
    ),
    # a cross-account call: USER_IDENTITY's AWSAccount shape; the message names the
    # caller's own ARN
    "cross-account (AWSAccount)": (
        {"type": "AWSAccount", "principalId": "AIDAEXTERNAL0001", "accountId": OTHER},
        f"arn:aws:iam::{OTHER}:user/partner",
        f"account {OTHER}",
    ),
    # an IAM Identity Center user (USER_IDENTITY), working through a permission set role
    "identity-center user": (
        {
            "type": "IdentityCenterUser",
            "accountId": OWNER,
            "onBehalfOf": {
                "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
                "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-1",
            },
            "credentialId": "EXAMPLE",
        },
        f"arn:aws:sts::{OWNER}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/dave",
        "Identity Center user 544894e8-80c1-707f-60e3-3ba6510dfac1",
    ),
}

MATRIX = [
    pytest.param(kind, explicit, caller, id=f"{kind.name}-{explicit=}-{caller}")
    for kind in POLICY_KINDS
    for explicit in (True, False)
    for caller in CALLERS
]


@pytest.mark.parametrize(("kind", "explicit", "caller"), MATRIX)
def test_every_policy_type_both_ways_same_and_cross_account(
    kind: PolicyType, explicit: bool, caller: str
) -> None:
    identity, caller_arn, name = CALLERS[caller]
    cross = identity["accountId"] != OWNER
    # ARN_BLOG: the ARN is given for an explicit deny, same account / organization only
    arn = POLICY_ARNS[kind.name] if explicit and not cross else None
    record = {
        "eventVersion": "1.11",
        "eventID": "6f2c1a9e-0000-4000-8000-000000000001",
        "eventTime": "2026-11-20T09:01:10Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "eu-west-1",
        "errorCode": "AccessDenied",
        "errorMessage": _message(caller_arn, kind, explicit, arn),
        "userIdentity": identity,
        "recipientAccountId": OWNER,
    }
    f = Finding.from_record(record)
    assert f.action == "kms:Decrypt" and f.action_known is True
    assert f.resource == KEY
    assert (f.denial_policy, f.denial_explicit, f.denial_policy_arn) == (kind.name, explicit, arn)
    assert f.principal_name == name and f.account_id == OWNER
    assert f.caller_account_id == identity["accountId"]
    hint = f.hint or ""
    assert kind.words in hint and "kms:Decrypt" in hint
    if arn:
        assert arn in hint
    if explicit:
        assert hint.startswith(f"Open the {kind.words}") and "statement that denies" in hint
    else:
        assert hint.startswith(f"No {kind.words} allows kms:Decrypt") and "add an allow" in hint
        assert kind.doc in hint
    if kind.name == "resource-based-policy":
        assert "key policy" in hint  # KMS's resource-based policy is the key policy
    said = wording.why(f) or ""
    assert said.startswith("explicit deny in" if explicit else "no allow in")


# ---- the real message shapes of issue 24 -------------------------------------------------


def _record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventID": "6f2c1a9e-0000-4000-8000-000000000002",
        "eventTime": "2026-11-20T09:01:10Z",
        "awsRegion": "us-east-1",
        "errorCode": "AccessDenied",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{OWNER}:user/u"},
        "recipientAccountId": OWNER,
    }
    return base | fields


def test_item2_old_style_explicit_deny_is_explicit_with_the_places_to_look() -> None:
    """Issue 24 item 2, the real message (ARN_BLOG's "Before" phrasing, without a type)."""
    message = (
        f"User: arn:aws:iam::{OWNER}:user/u is not authorized to perform: "
        "lambda:ListFunctions on resource: * with an explicit deny"
    )
    f = Finding.from_record(
        _record(
            eventSource="lambda.amazonaws.com",
            eventName="ListFunctions20150331",
            errorMessage=message,
        )
    )
    assert (f.denial_explicit, f.denial_policy, f.denial_policy_arn) == (True, None, None)
    hint = f.hint or ""
    assert hint.startswith("A Deny statement denies lambda:ListFunctions on *")
    for place in ("identity-based policies", "permissions boundary", "session policy", "SCP"):
        assert place in hint, place
    assert "missing" not in hint and "for an allow" not in hint
    assert wording.why(f) == "explicit deny (the message does not say in which policy)"


def test_item3_vpc_endpoint_id_alone_does_not_blame_the_endpoint() -> None:
    """Issue 24 item 3: S3 PutBucketPolicy, an empty message, vpcEndpointId vpce-1111."""
    f = Finding.from_record(
        _record(
            eventSource="s3.amazonaws.com",
            eventName="PutBucketPolicy",
            errorMessage="",
            requestParameters={"bucketName": "payroll", "policy": ""},
            vpcEndpointId="vpce-1111",
        )
    )
    assert f.denial_policy is None
    hint = f.hint or ""
    assert not hint.startswith("Check the policy of VPC endpoint")
    assert hint.startswith("The message does not name the policy")
    for place in ("bucket policy", "S3 Block Public Access", "any SCP or RCP", "vpce-1111"):
        assert place in hint, place


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # the message says so (IAM_PAGE's VPC endpoint phrasing)
        ("AccessDenied", "… with an explicit deny in a VPC endpoint policy"),
        # VpceAccessDenied (CloudTrail network activity events)
        ("VpceAccessDenied", "The request was denied due to a VPC endpoint policy"),
    ],
)
def test_item3_the_endpoint_is_blamed_when_the_message_does(code: str, message: str) -> None:
    f = Finding.from_record(
        _record(
            eventSource="s3.amazonaws.com",
            eventName="PutBucketPolicy",
            errorCode=code,
            errorMessage=message,
            vpcEndpointId="vpce-1111",
        )
    )
    assert f.denial_policy == "vpc-endpoint-policy"
    assert (f.hint or "").startswith("Open the VPC endpoint policy of vpce-1111")


ENCODED = "EXAMPLEWodyRNrtlQARDip-eTA6i6DrlUhHhPQrLWB_lAbl5pAKxl9mPDLexYcGBreyIKQC1"
ENCODED_TAIL = f"Encoded authorization failure message: {ENCODED}"


def test_item4_ec2_plain_reason_comes_before_the_decode_advice() -> None:
    """Issue 24 item 4: the real GetPasswordData message (reason + encoded message)."""
    resource = f"arn:aws:ec2:us-east-1:{OWNER}:instance/*"
    message = (
        f"You are not authorized to perform this operation. User: arn:aws:iam::{OWNER}:user/u "
        f"is not authorized to perform: ec2:GetPasswordData on resource: {resource} because no "
        "identity-based policy allows the ec2:GetPasswordData action. Encoded authorization "
        f"failure message: {ENCODED}"
    )
    f = Finding.from_record(
        _record(
            eventSource="ec2.amazonaws.com",
            eventName="GetPasswordData",
            errorCode="Client.UnauthorizedOperation",
            errorMessage=message,
        )
    )
    assert (f.denial_policy, f.denial_explicit) == ("identity-based-policy", False)
    hint = f.hint or ""
    assert hint.startswith("No identity-based policy allows ec2:GetPasswordData")
    assert "add an allow of ec2:GetPasswordData to the identity-based policy" in hint
    assert hint.index("add an allow") < hint.index("decode-authorization-message")


def test_item4_scp_with_an_encoded_message() -> None:
    """SCP_KC's message: an explicit deny in an SCP, then the encoded message."""
    message = (
        "You are not authorized to perform this operation. User: arn:aws:sts::999888777666:"
        "assumed-role/ReadOnly/Tom is not authorized to perform: ec2:RunInstances on resource: "
        "arn:aws:ec2:us-east-1:999888777666:instance/* with an explicit deny in a service "
        f"control policy. Encoded authorization failure message: {ENCODED}"
    )
    f = Finding.from_record(
        _record(eventSource="ec2.amazonaws.com", eventName="RunInstances", errorMessage=message)
    )
    assert (f.denial_policy, f.denial_explicit) == ("service-control-policy", True)
    hint = f.hint or ""
    assert hint.startswith("Open the service control policy (SCP) in AWS Organizations")
    assert "EC2 also encoded the details" in hint


def test_item4_encoded_only_keeps_the_decode_advice() -> None:
    message = f"You are not authorized to perform this operation. {ENCODED_TAIL}"
    f = Finding.from_record(
        _record(eventSource="ec2.amazonaws.com", eventName="RunInstances", errorMessage=message)
    )
    assert (f.hint or "").startswith("EC2 encoded the reason: decode it with")


def test_item9_placeholder_action_is_kept_and_marked_unknown() -> None:
    """Issue 24 item 9: detection-rule fixtures name `iam:Action`."""
    message = (
        f"User: arn:aws:iam::{OWNER}:user/u is not authorized to perform: iam:Action on "
        f"resource: arn:aws:iam::{OWNER}:role/x"
    )
    f = Finding.from_record(
        _record(eventSource="iam.amazonaws.com", eventName="Action", errorMessage=message)
    )
    assert (f.action, f.action_known) == ("iam:Action", False)
    assert "iam:Action is not an IAM action AWS lists" in (f.hint or "")
    g = Finding.from_record(
        _record(eventSource="iam.amazonaws.com", eventName="GetRole", errorMessage="Access denied")
    )
    assert (g.action, g.action_known) == ("iam:GetRole", True)
    assert "not an IAM action" not in (g.hint or "")


def test_item6_one_instance_one_name() -> None:
    """Issue 24 item 6: an encoded-only EC2 denial names the bare id in requestParameters;
    an ARN message names the ARN: both give the same resource and the same resource_id."""
    instance = "i-yo72hkw7elzv1ald"
    encoded_only = _record(
        eventSource="ec2.amazonaws.com",
        eventName="StopInstances",
        errorCode="Client.UnauthorizedOperation",
        errorMessage=f"You are not authorized to perform this operation. {ENCODED_TAIL}",
        requestParameters={"instancesSet": {"items": [{"instanceId": instance}]}},
    )
    arn = f"arn:aws:ec2:us-east-1:{OWNER}:instance/{instance}"
    with_arn = _record(
        eventSource="ec2.amazonaws.com",
        eventName="StopInstances",
        errorMessage=f"User: arn:aws:iam::{OWNER}:user/u is not authorized to perform: "
        f"ec2:StopInstances on resource: {arn} because no identity-based policy allows "
        "the ec2:StopInstances action",
    )
    a, b = Finding.from_record(encoded_only), Finding.from_record(with_arn)
    assert a.resource == b.resource == arn
    assert a.resource_id == b.resource_id == instance
    gov = Finding.from_record({**encoded_only, "awsRegion": "us-gov-west-1"})
    assert gov.resource == f"arn:aws-us-gov:ec2:us-gov-west-1:{OWNER}:instance/{instance}"
    image = Finding.from_record(
        {**encoded_only, "requestParameters": {"imageId": "ami-0abcdef1234567890"}}
    )
    assert image.resource == "arn:aws:ec2:us-east-1::image/ami-0abcdef1234567890"
    # no account to build it with: the bare id stays, and is still the resource_id
    bare = Finding.from_record({**encoded_only, "recipientAccountId": None})
    assert (bare.resource, bare.resource_id) == (instance, instance)


@pytest.mark.parametrize(
    "bad",
    ["redacted", "2025-02-14 19:43:09.000000000 UTC", "2026-13-01T00:00:00Z", 1732000000, ""],
)
def test_item7_a_bad_event_time_is_never_a_time(bad: Any) -> None:
    f = Finding.from_record(_record(eventSource="s3.amazonaws.com", eventTime=bad))
    assert f.event_time is None and f.error_code == "AccessDenied"


@pytest.mark.parametrize("good", ["2026-11-20T09:01:10Z", "2026-11-20T09:01:10.123Z"])
def test_item7_cloudtrail_times_pass(good: str) -> None:
    assert Finding.from_record(_record(eventTime=good)).event_time == good
