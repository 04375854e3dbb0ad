"""How important a finding is: one pure function for routing and paging.

``severity(finding)`` is ``high``, ``medium`` or ``low`` (table in docs/routing.md):

- high: the root user; a high-impact action (``HIGH_IMPACT_ACTIONS``); a caller
  from another account;
- medium: any other write; any explicit deny;
- low: a read-only call (Get/List/Describe/...) of a principal of the same
  account, no explicit deny.

Settings override it per rule (``[[severity.rule]]``: the match keys of a
suppression rule plus ``level``); the first matching rule wins. Novelty (a
principal new in the window) raises the order of posting, not the severity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from deniedwatch.finding import Finding
from deniedwatch.rules import Suppression

LEVELS: tuple[str, ...] = ("high", "medium", "low")

# Actions whose denial says someone reached for control: identity, keys, audit,
# organisation, secrets. Globs on the IAM action (fnmatch, case-sensitive).
HIGH_IMPACT_ACTIONS: tuple[str, ...] = (
    "iam:Create*",
    "iam:Put*",
    "iam:Attach*",
    "iam:Update*",
    "iam:Delete*",
    "iam:PassRole",
    "iam:Add*",
    "sts:AssumeRole*",
    "sts:GetFederationToken",
    "kms:Decrypt",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "organizations:*",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPublicAccessBlock",
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "guardduty:Delete*",
    "guardduty:Disassociate*",
    "guardduty:UpdateDetector",
    "config:Stop*",
    "config:Delete*",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter*",
)

# API verbs that only read (CloudTrail's readOnly is not kept in a Finding).
READ_ONLY_PREFIXES: tuple[str, ...] = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "Search",
    "Select",
    "Scan",
    "Query",
    "BatchGet",
    "Check",
    "View",
)


def is_high_impact(action: str | None) -> bool:
    return bool(action) and any(fnmatchcase(action, p) for p in HIGH_IMPACT_ACTIONS)


def is_read_only(f: Finding) -> bool:
    name = f.event_name or (f.action or "").partition(":")[2]
    return name.startswith(READ_ONLY_PREFIXES)


def from_another_account(f: Finding) -> bool:
    """The caller's own account differs from the one called (not an AWS service)."""
    return (
        f.principal_type not in ("AWSService", None)
        and f.caller_account_id is not None
        and f.account_id is not None
        and f.caller_account_id.isdigit()
        and f.caller_account_id != f.account_id
    )


@dataclass(frozen=True)
class SeverityRule:
    """``[[severity.rule]]``: a finding matching ``match`` gets ``level``."""

    level: str
    match: Suppression


def builtin_severity(f: Finding) -> str:
    if f.principal_type == "Root" or is_high_impact(f.action) or from_another_account(f):
        return "high"
    if not is_read_only(f) or f.denial_explicit:
        return "medium"
    return "low"


def severity(f: Finding, rules: Sequence[SeverityRule] = ()) -> str:
    """``high`` | ``medium`` | ``low``: the settings' first matching rule, else the table."""
    for rule in rules:
        if rule.match.matches(f):
            return rule.level
    return builtin_severity(f)
