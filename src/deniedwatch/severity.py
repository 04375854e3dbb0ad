"""How important a denial is: the one list of high-impact actions, the alert order and
the severity routes and paging use.

Pure, stdlib only, no I/O: the Lambda's alert budget orders its posts with
``importance`` (docs/alert-policy.md); routes and PagerDuty use ``severity``, built
on the same ``is_high_impact`` (docs/routing.md).

High impact means a denied call that, had it been allowed, would change who can
do what, hide activity or hand out secrets:

- any call to IAM, STS, KMS or Organizations that is not a read (its name does not
  start with one of ``READ_VERBS``), plus the STS calls that mint credentials;
- the named actions in ``HIGH_IMPACT_ACTIONS`` (globs): bucket policies and ACLs,
  stopping or deleting CloudTrail, GuardDuty and Config, reading secrets;
- anything the account's root user does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deniedwatch.finding import Finding
    from deniedwatch.rules import Suppression

# Services where every write is high impact ("iam" is the prefix of the IAM action).
WRITE_SERVICES: frozenset[str] = frozenset({"iam", "sts", "kms", "organizations"})

# API name prefixes that only read. Everything else in WRITE_SERVICES is a write.
READ_VERBS: tuple[str, ...] = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Check")

# The named high-impact actions (fnmatch globs over the IAM action "service:Name").
HIGH_IMPACT_ACTIONS: tuple[str, ...] = (
    # STS reads that hand out credentials
    "sts:GetFederationToken",
    "sts:GetSessionToken",
    # who may read or write a bucket
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:DeleteBucketPublicAccessBlock",
    "s3:PutAccountPublicAccessBlock",
    # turning off the record of what happens
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "guardduty:Delete*",
    "guardduty:Disable*",
    "guardduty:UpdateDetector",
    "config:Stop*",
    "config:Delete*",
    # secrets
    "secretsmanager:GetSecretValue",
)

ROOT = "Root"  # userIdentity.type of the account's root user


@lru_cache(maxsize=4096)  # a flood repeats a few hundred actions at most
def is_high_impact_action(action: str | None) -> bool:
    """True for the actions listed above; ``action`` is ``service:ApiName``."""
    if not action or ":" not in action:
        return False
    service, _, name = action.partition(":")
    if service in WRITE_SERVICES and not name.startswith(READ_VERBS):
        return True
    return any(fnmatchcase(action, pattern) for pattern in HIGH_IMPACT_ACTIONS)


def is_high_impact(action: str | None, principal_type: str | None = None) -> bool:
    """A high-impact action, or anything the root user was denied."""
    return principal_type == ROOT or is_high_impact_action(action)


@dataclass(frozen=True, order=True, slots=True)
class Importance:
    """Sorts ascending from most to least important (use as a sort key as is)."""

    low_impact: bool  # False first: high-impact actions (and root) before the rest
    foreign: bool  # False first: callers of the account itself before other accounts'
    novelty_last: bool  # high impact: known principals first; the rest: new ones first
    fewer: int  # the negated count: more denials first


def importance(
    *,
    action: str | None,
    principal_type: str | None,
    count: int,
    new_principal: bool,
    foreign: bool = False,
) -> Importance:
    """The alert order: high-impact actions (root included) first; within each class,
    the account's own callers before callers from other accounts (whoever owns another
    account can make any number of callers in it); then, for high impact, a principal
    already seen in the window before a new one (new callers are the caller's to make:
    novelty must never cost a known principal's serious denial its post), for the rest a
    new principal first (novelty is news); then by count, largest first.
    """
    low = not is_high_impact(action, principal_type)
    return Importance(
        low_impact=low,
        foreign=foreign,
        novelty_last=not new_principal if low else new_principal,
        fewer=-count,
    )


# --- severity: high | medium | low (routes, PagerDuty) -----------------------
#
# | severity | when |
# | high     | the root user; a high-impact action (above); a caller from another account |
# | medium   | any other write; any explicit deny |
# | low      | a read-only call by a principal of the same account, no explicit deny |
#
# Novelty (a principal new in the window) raises the order of posting (importance),
# not the severity.

LEVELS: tuple[str, ...] = ("high", "medium", "low")


def is_read_only(f: Finding) -> bool:
    """The API name starts with a read verb (CloudTrail's readOnly is not in a Finding)."""
    name = f.event_name or (f.action or "").partition(":")[2]
    return name.startswith(READ_VERBS)


def from_another_account(f: Finding) -> bool:
    """The caller's own account differs from the one it called (AWS services excepted)."""
    return (
        f.principal_type not in ("AWSService", None)
        and f.caller_account_id is not None
        and f.caller_account_id.isdigit()
        and f.account_id is not None
        and f.caller_account_id != f.account_id
    )


@dataclass(frozen=True)
class SeverityRule:
    """``[[severity.rule]]``: a finding matching ``match`` gets ``level``."""

    level: str
    match: Suppression


# The Finding fields builtin_severity reads; ``fields_read`` adds the rules' keys.
BUILTIN_READS: frozenset[str] = frozenset(
    {"action", "principal_type", "caller_account_id", "account_id", "event_name", "denial_explicit"}
)


def fields_read(rules: Sequence[SeverityRule] = ()) -> frozenset[str]:
    """Every Finding field ``severity(f, rules)`` may read: members whose values of these
    agree get the same level (alerts/group.py keeps one member per distinct value)."""
    return BUILTIN_READS.union(*(rule.match.reads() for rule in rules))


def builtin_severity(f: Finding) -> str:
    """The table above."""
    if is_high_impact(f.action, f.principal_type) or from_another_account(f):
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


def most_severe(findings: Iterable[Finding], level_of: Callable[[Finding], str]) -> Finding:
    """The first of ``findings`` with the highest level: a group's severity and routing
    read its most severe member, so decoys around a serious denial cannot lower them."""
    best: Finding | None = None
    rank = len(LEVELS)
    for f in findings:
        level = level_of(f)
        r = LEVELS.index(level) if level in LEVELS else len(LEVELS) - 1
        if best is None or r < rank:
            best, rank = f, r
            if r == 0:
                break
    if best is None:
        raise ValueError("no findings")
    return best
