"""severity: the one list of high-impact actions and the alert order."""

from __future__ import annotations

import pytest

from deniedwatch.severity import Importance, importance, is_high_impact, is_high_impact_action


@pytest.mark.parametrize(
    "action",
    [
        "iam:CreateUser",
        "iam:AttachUserPolicy",
        "iam:PassRole",
        "sts:AssumeRole",
        "sts:GetFederationToken",  # a read verb, but it mints credentials
        "kms:Decrypt",
        "kms:ScheduleKeyDeletion",
        "organizations:LeaveOrganization",
        "s3:PutBucketPolicy",
        "cloudtrail:StopLogging",
        "cloudtrail:DeleteTrail",
        "guardduty:DeleteDetector",
        "guardduty:DisableOrganizationAdminAccount",
        "config:StopConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "secretsmanager:GetSecretValue",
    ],
)
def test_high_impact_actions(action: str) -> None:
    assert is_high_impact_action(action)


@pytest.mark.parametrize(
    "action",
    [
        "iam:ListUsers",
        "iam:GetAccountAuthorizationDetails",
        "kms:DescribeKey",
        "organizations:DescribeOrganization",
        "sts:GetCallerIdentity",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:GetBucketPolicy",
        "ec2:DescribeInstances",
        "cloudtrail:LookupEvents",
        "cloudtrail:DescribeTrails",
        "config:DescribeConfigRules",
        "secretsmanager:ListSecrets",
        "iamx:CreateUser",  # only the real service prefix counts
        "GetObject",  # no service prefix
        "",
        None,
    ],
)
def test_reads_and_other_actions_are_not_high_impact(action: str | None) -> None:
    assert not is_high_impact_action(action)


def test_root_is_high_impact_whatever_it_does() -> None:
    assert is_high_impact("s3:GetObject", "Root")
    assert not is_high_impact("s3:GetObject", "IAMUser")
    assert is_high_impact("iam:CreateUser", "IAMUser")


def order(*items: dict) -> list[int]:
    keyed = [(importance(**item), i) for i, item in enumerate(items)]
    return [i for _, i in sorted(keyed)]


def test_high_impact_first_then_own_account_then_novelty_then_count() -> None:
    known_read_big = dict(
        action="s3:GetObject", principal_type="IAMUser", count=500, new_principal=False
    )
    known_write = dict(
        action="iam:CreateUser", principal_type="IAMUser", count=1, new_principal=False
    )
    new_read = dict(action="s3:GetObject", principal_type="IAMUser", count=1, new_principal=True)
    new_root_read = dict(action="s3:GetObject", principal_type="Root", count=1, new_principal=True)
    known_read_small = dict(
        action="ec2:DescribeInstances", principal_type=None, count=3, new_principal=False
    )
    new_write = dict(action="iam:CreateUser", principal_type="IAMUser", count=9, new_principal=True)
    foreign_write = dict(**known_write, foreign=True)
    assert order(
        known_read_big,
        known_write,
        new_read,
        new_root_read,
        known_read_small,
        new_write,
        foreign_write,
    ) == [
        1,  # high impact, own account, known principal
        5,  # high impact, own account, new principal (9 denials)
        3,  # high impact (root), new principal
        6,  # high impact, another account
        2,  # new principal, a read
        0,  # known, read, 500 denials
        4,  # known, read, 3 denials
    ]


def test_importance_is_a_plain_sort_key() -> None:
    a = importance(action="s3:GetObject", principal_type=None, count=2, new_principal=True)
    assert a == Importance(low_impact=True, foreign=False, novelty_last=False, fewer=-2)
    assert a < importance(action="s3:GetObject", principal_type=None, count=1, new_principal=True)
