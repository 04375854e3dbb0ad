"""explain(): the IAM user guide's access-denied message formats -> policy, explicit, resource."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deniedwatch.explain import NOTHING, POLICY_KINDS, POLICY_TYPES, Explanation, explain

USER = "arn:aws:iam::111122223333:user/mallory"
OBJECT = "arn:aws:s3:::payroll/2026/salaries.csv"

# (phrase in the message, article, value in the Finding), one per policy type.
PHRASES = [
    ("service control policy", "a", "service-control-policy"),
    ("resource control policy", "a", "resource-control-policy"),
    ("identity-based policy", "an", "identity-based-policy"),
    ("resource-based policy", "a", "resource-based-policy"),
    ("permissions boundary", "a", "permissions-boundary"),
    ("session policy", "a", "session-policy"),
    ("VPC endpoint policy", "a", "vpc-endpoint-policy"),
]


def test_every_policy_type_is_covered_here() -> None:
    assert sorted(v for _, _, v in PHRASES) == sorted(POLICY_TYPES.values())


@pytest.mark.parametrize(("phrase", "article", "policy"), PHRASES)
def test_explicit_deny(phrase: str, article: str, policy: str) -> None:
    message = (
        f"User: {USER} is not authorized to perform: s3:GetObject on resource: "
        f'"{OBJECT}" with an explicit deny in {article} {phrase}'
    )
    assert explain(message) == Explanation(policy, True, OBJECT, action="s3:GetObject")


@pytest.mark.parametrize(("phrase", "article", "policy"), PHRASES)
def test_implicit_deny(phrase: str, article: str, policy: str) -> None:
    message = (
        f"User: {USER} is not authorized to perform: s3:GetObject on resource: {OBJECT} "
        f"because no {phrase} allows the s3:GetObject action"
    )
    assert explain(message) == Explanation(policy, False, OBJECT, action="s3:GetObject")


@pytest.mark.parametrize(("phrase", "article", "policy"), PHRASES)
def test_without_a_resource(phrase: str, article: str, policy: str) -> None:
    head = f"User: {USER} is not authorized to perform: ec2:RunInstances"
    explicit = f"{head} with an explicit deny in {article} {phrase}"
    implicit = f"{head} because no {phrase} allows the ec2:RunInstances action"
    assert explain(explicit) == Explanation(policy, True, None, action="ec2:RunInstances")
    assert explain(implicit) == Explanation(policy, False, None, action="ec2:RunInstances")


def test_policy_arn_after_the_type_is_not_the_resource() -> None:
    message = (
        f"User: {USER} is not authorized to perform: ec2:RunInstances with an explicit deny in a "
        "service control policy: "
        "arn:aws:organizations::111122223333:policy/o-abc/service_control_policy/p-1"
    )
    assert explain(message) == Explanation(
        "service-control-policy",
        True,
        None,
        policy_arn="arn:aws:organizations::111122223333:policy/o-abc/service_control_policy/p-1",
        action="ec2:RunInstances",
    )


def test_ec2_wrapper_text_around_the_iam_message() -> None:
    message = (
        "You are not authorized to perform this operation. User: "
        f"{USER} is not authorized to perform: ec2:DescribeInstances with an explicit deny in a "
        "service control policy"
    )
    assert explain(message) == Explanation(
        "service-control-policy", True, None, action="ec2:DescribeInstances"
    )


# Messages that name the denying policy's ARN (IAM user guide, "Access denied error
# messages": https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
@pytest.mark.parametrize(
    ("message", "policy", "arn"),
    [
        (
            f"User: {USER} is not authorized to perform: s3:GetObject on resource: "
            f'"{OBJECT}" with an explicit deny in a resource control policy: '
            "arn:aws:organizations::111122223333:policy/o-abc/resource_control_policy/p-2",
            "resource-control-policy",
            "arn:aws:organizations::111122223333:policy/o-abc/resource_control_policy/p-2",
        ),
        (
            f"User: {USER} is not authorized to perform: iam:CreateUser on resource: "
            "arn:aws:iam::111122223333:user/x with an explicit deny in an identity-based "
            "policy: arn:aws:iam::111122223333:policy/DenyIam.",
            "identity-based-policy",
            "arn:aws:iam::111122223333:policy/DenyIam",
        ),
        (
            f"User: {USER} is not authorized to perform: s3:GetObject because no "
            "identity-based policy allows the s3:GetObject action",
            "identity-based-policy",
            None,
        ),
        (  # an ARN with no policy type named is not taken as the denying policy
            "Access denied by policy: arn:aws:iam::111122223333:policy/X",
            None,
            None,
        ),
        (
            f"User: {USER} is not authorized to perform: s3:GetObject with an explicit deny "
            "in a service control policy: arn:aws-us-gov:organizations::1:policy/o-a/"
            "service_control_policy/p-3",
            "service-control-policy",
            "arn:aws-us-gov:organizations::1:policy/o-a/service_control_policy/p-3",
        ),
    ],
)
def test_policy_arn(message: str, policy: str | None, arn: str | None) -> None:
    why = explain(message)
    assert (why.policy, why.policy_arn) == (policy, arn)


def test_vpce_access_denied_message() -> None:
    """CloudTrail network activity events: errorCode VpceAccessDenied with this message
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-events.html)."""
    why = explain("The request was denied due to a VPC endpoint policy")
    assert (why.policy, why.explicit) == ("vpc-endpoint-policy", None)
    why = explain(
        f"User: {USER} is not authorized to perform: kms:Decrypt because no VPC endpoint "
        "policy allows the kms:Decrypt action via vpce-0a1b2c3d4e5f67890"
    )
    assert (why.policy, why.explicit, why.vpc_endpoint_id) == (
        "vpc-endpoint-policy",
        False,
        "vpce-0a1b2c3d4e5f67890",
    )


def test_encoded_ec2_message() -> None:
    """EC2's Client.UnauthorizedOperation message (STS API reference,
    https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html)."""
    blob = "EXAMPLEWodyRNrtlQARDip-eTA6i6DrlUhHhPQrLWB_lAbl5pAKxl9mPDLexYcGBreyIKQC1"
    why = explain(
        f"You are not authorized to perform this operation. Encoded authorization failure "
        f"message: {blob}"
    )
    assert why.encoded == blob and why.policy is None


def test_billing_access_not_activated() -> None:
    why = explain("IAM user access not activated. Contact the account owner.")
    assert why.billing_access_off and why.policy is None


@pytest.mark.parametrize(
    ("tail", "resource"),
    [
        (
            " on resource: arn:aws:sns:us-east-1:111122223333:alerts",
            "arn:aws:sns:us-east-1:111122223333:alerts",
        ),
        (
            " on resource: arn:aws:sns:us-east-1:111122223333:alerts.",
            "arn:aws:sns:us-east-1:111122223333:alerts",
        ),
        (
            " on resource: arn:aws:s3:::my.bucket/k.txt because no identity-based policy allows it",
            "arn:aws:s3:::my.bucket/k.txt",
        ),
        (
            ' on resource: "arn:aws:s3:::b/a key with spaces" with an explicit deny in a '
            "session policy",
            "arn:aws:s3:::b/a key with spaces",
        ),
        (" on resource: arn:aws:s3:::b, because no session policy allows it", "arn:aws:s3:::b"),
        (" ON RESOURCE: arn:aws:iam::111122223333:user/", "arn:aws:iam::111122223333:user/"),
        (' on resource: ""', None),
        (" on resource:", None),
        ("", None),
    ],
)
def test_resource(tail: str, resource: str | None) -> None:
    message = f"User: {USER} is not authorized to perform: x:Y{tail}"
    assert explain(message).resource == resource


@pytest.mark.parametrize(
    "message",
    [
        None,
        "",
        "Access Denied",
        "You are not authorized to perform this operation. Encoded authorization failure message",
        "User is not authorized to access this resource",
        "because no policy allows",
        12,
        ["with an explicit deny in a session policy"],
    ],
)
def test_no_explanation(message: object) -> None:
    assert explain(message) == NOTHING  # type: ignore[arg-type]


def test_explicit_wins_when_both_phrases_appear() -> None:
    message = (
        "... with an explicit deny in a permissions boundary and because no "
        "identity-based policy allows the x:Y action"
    )
    why = explain(message)
    assert (why.policy, why.explicit) == ("permissions-boundary", True)


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *['on resource: "', "ON Resource:", "on resource:", " ", '"', ".", "x", "İ"],
                *["\n", ",", ";", ".;", "\t", "\x1c", "\x85", "arn:aws:s3:::b/k", "\u3000"],
            ]
        )
        | st.text(max_size=5),
        max_size=12,
    ).map("".join)
)
def test_resource_in_finds_what_the_regex_search_finds(message: str) -> None:
    """Read where its words stand, without the regex's lazy match (issue 25): the same."""
    from deniedwatch.explain import _RESOURCE, resource_in

    m = _RESOURCE.search(message)
    expected = ((m.group(1) if m.group(1) is not None else m.group(2)) or None) if m else None
    assert resource_in(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        # the pre-2021 phrasing, from real data (issue 24): explicit, type unknown
        f"User: {USER} is not authorized to perform: lambda:ListFunctions on resource: * "
        "with an explicit deny",
        # an explicit deny in something that is not a type AWS names: explicit, type unknown
        "with an explicit deny in a bucket policy",
    ],
)
def test_untyped_explicit_deny(message: str) -> None:
    why = explain(message)
    assert (why.policy, why.explicit, why.policy_arn) == (None, True, None)


def test_one_record_per_policy_type() -> None:
    """POLICY_TYPES / POLICY_WORDS are derived from POLICY_KINDS; every kind has an AWS page."""
    assert len({k.name for k in POLICY_KINDS}) == len(POLICY_KINDS) == len(POLICY_TYPES)
    for kind in POLICY_KINDS:
        assert kind.phrase == kind.phrase.lower() and kind.doc.startswith("https://docs.aws.")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "with an explicit deny in a service control policy",
                "WITH AN EXPLICIT DENY IN AN identity-based POLICY",
                "with an explicit deny in the ",
                "with an explicit deny",
                "with an explİcit deny",  # not ASCII: the plain search
                "because no resource-based policy allows",
                "BECAUSE NO permissions boundary allows",
                "because no ",
                "due to a VPC endpoint policy",
                "Due To the vpc endpoint policy",
                "xwith an explicit deny",
                " ",
                "K",  # the Kelvin sign: case-blind, it is a "k"
            ]
        )
        | st.text(max_size=5),
        max_size=8,
    ).map("".join)
)
def test_policy_and_explicit_are_what_the_plain_searches_find(message: str) -> None:
    """``_policy_of`` starts each case-blind search where its words stand: the same
    policy type and explicit/implicit as searching the whole message (issue 25)."""
    from deniedwatch import explain as ex

    if typed := ex._EXPLICIT.search(message):
        expected = (POLICY_TYPES[typed.group(1).lower()], True, typed.span())
    elif typed := ex._IMPLICIT.search(message):
        expected = (POLICY_TYPES[typed.group(1).lower()], False, typed.span())
    elif ex._VPCE_POLICY.search(message):
        expected = ("vpc-endpoint-policy", None, None)
    else:
        expected = (None, True if ex._UNTYPED_EXPLICIT.search(message) else None, None)
    policy, explicit, match = ex._policy_of(message)
    assert (policy, explicit, match.span() if match else None) == expected
    assert ex.explicit_in(message or None) == explain(message).explicit
