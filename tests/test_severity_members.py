"""A group's severity members (issue 25 item 4): the handler keeps one member per distinct
value of what severity and routing read, instead of one per distinct source IP and user
agent, and must still pick exactly what the most severe of *all* the group's denials is.

Hostile groups: records drawn from small pools, so many share a group key while their
type, caller account, event name, message (typed, untyped, upper-case and VPC-endpoint
explicit denies), IP and user agent vary; random `[[severity.rule]]`s and routes read
what the settings let them read.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from deniedwatch.alerts.group import MEMBER_READS, group_findings, group_records
from deniedwatch.alerts.routing import ROUTE_READS, Route, Router
from deniedwatch.finding import Finding
from deniedwatch.rules import Suppression
from deniedwatch.severity import LEVELS, SeverityRule, fields_read, most_severe, severity
from strategies import random_records

A, B, IAM = "111122223333", "444455556666", "iam.amazonaws.com"
ARNS = [f"arn:aws:iam::{A}:user/mallory", f"arn:aws:iam::{A}:root", "", None]
DENY = "User: x is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k"
MESSAGES = [
    f"{DENY} with an explicit deny in a service control policy",
    f"{DENY} because no identity-based policy allows the s3:GetObject action",
    f"{DENY} WITH AN EXPLICIT DENY",
    f"{DENY} due to a VPC endpoint policy with an explicit deny",  # explicit: None
    "Access Denied",
    "not an explicit deny-list",
    None,
]
identities = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["IAMUser", "Root", "AWSAccount", "AWSService", "", 7]),
        "arn": st.sampled_from(ARNS[:2] * 3 + ARNS[2:]),  # mostly a group by ARN
        "accountId": st.sampled_from([A, B, "ANONYMOUS_PRINCIPAL", None]),
        "principalId": st.sampled_from(["AIDAX", "AROAY:s1", "AROAY:s2"]),
        "userName": st.sampled_from(["mallory", "config.amazonaws.com"]),
        "invokedBy": st.just("config.amazonaws.com"),
    },
)
hostile_records = st.fixed_dictionaries(
    {
        "errorCode": st.sampled_from(["AccessDenied", "Client.UnauthorizedOperation"]),
        "userIdentity": identities,
    },
    optional={
        "eventTime": st.sampled_from(["2026-11-20T09:00:00Z", "2026-11-20T09:00:01Z", "x"]),
        "eventID": st.sampled_from(["e1", "e2", "e3", ""]),
        "eventSource": st.sampled_from(["s3.amazonaws.com", "iam.amazonaws.com", ""]),
        "eventName": st.sampled_from(["GetObject", "ListUsers", "CreateUser", "HeadBucket"]),
        "errorMessage": st.sampled_from(MESSAGES),
        "sourceIPAddress": st.sampled_from(["10.0.0.1", "203.0.113.9", "cloudformation.x", 5]),
        "userAgent": st.sampled_from(["aws-cli/2", "Terraform/1.5", ""]),
        "recipientAccountId": st.sampled_from([A, B, None]),
        "awsRegion": st.sampled_from(["eu-west-1", "us-east-1"]),
    },
)
# One denial changed in one to three fields, again and again: most stay in its group.
CHANGES = [
    *[("sourceIPAddress", v) for v in ("10.0.0.1", "203.0.113.9", "cloudformation.x")],
    *[("userAgent", v) for v in ("aws-cli/2", "Terraform/1.5")],
    *[("eventName", v) for v in ("GetObject", "CreateUser", "HeadBucket")],
    *[("errorMessage", v) for v in MESSAGES[:4]],
    *[("eventTime", v) for v in ("2026-11-20T09:00:00Z", "2026-11-20T09:00:01Z")],
    *[("eventID", v) for v in ("e1", "e2")],
    ("eventSource", "iam.amazonaws.com"),
    *[("type", v) for v in ("IAMUser", "Root", "AWSService")],
    *[("accountId", v) for v in (A, B)],
    ("userName", "config.amazonaws.com"),
]
_IDENTITY = {"type", "accountId", "userName", "arn", "principalId"}


def _changed(base: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    record = {**base, "userIdentity": dict(base["userIdentity"])}
    for name, value in changes:
        (record["userIdentity"] if name in _IDENTITY else record)[name] = value
    return record


batches = st.builds(
    lambda base, changes, others: [_changed(base, c) for c in changes] + others,
    hostile_records,
    st.lists(st.lists(st.sampled_from(CHANGES), max_size=3), min_size=1, max_size=12),
    st.lists(hostile_records, max_size=3),
)

# (key, value) pairs a rule may set; a rule sets one to three of them, so rules do match
RULE_KEYS = [
    *[("principal_arn", v) for v in (f"arn:aws:iam::{A}:*", ARNS[0])],
    *[("principal_name", v) for v in ("mallory", "config.amazonaws.com")],
    *[("principal_type", v) for v in ("IAMUser", "Root", "AWSService")],
    ("event_source", "iam.amazonaws.com"),
    *[("event_name", v) for v in ("Get*", "HeadBucket")],
    ("error_code", "AccessDenied"),
    ("account_id", A),
    ("caller_account_id", B),
    *[("source_ip", v) for v in ("10.0.0.0/8", "cloudformation.x")],
    *[("user_agent", v) for v in ("Terraform/*", "aws-cli/2")],
    ("same_account", True),
]
rules = st.lists(
    st.builds(
        SeverityRule,
        level=st.sampled_from(LEVELS),
        match=st.lists(st.sampled_from(RULE_KEYS), min_size=1, max_size=3).map(
            lambda keys: Suppression(name="r", **dict(keys))
        ),
    ),
    max_size=3,
)
routes = st.lists(
    st.builds(
        Route,
        name=st.sampled_from(["r1", "r2"]),
        destinations=st.sampled_from([("pager",), ("slack",), ("audit",)]),
        accounts=st.sampled_from([frozenset(), frozenset({A})]),
        severity=st.sampled_from([frozenset(), frozenset({"high"}), frozenset({"medium"})]),
        principal_type=st.sampled_from([frozenset(), frozenset({"Root"})]),
        event_source=st.sampled_from([frozenset(), frozenset({"iam.amazonaws.com"})]),
        error_code=st.sampled_from([frozenset(), frozenset({"AccessDenied"})]),
        continue_=st.booleans(),
    ),
    max_size=3,
)


def _by_time(f: Finding) -> tuple[str, str]:
    return f.event_time or "", f.event_id or ""


@settings(max_examples=500, deadline=None)
@given(batches, rules, routes)
def test_members_pick_what_the_most_severe_of_every_denial_is(records, rules, routes) -> None:
    """Level and destinations from ``alert.members`` are those of the most severe of all
    the group's denials (the sample first, then in time order): the very same denial."""
    router = Router(tuple(routes), ("slack",), lambda f: severity(f, rules))
    reads = fields_read(rules) | ROUTE_READS
    findings = [Finding.from_record(r) for r in records]
    groups: dict[Any, list[Finding]] = {}
    for f in findings:
        (alert,) = group_findings([f])
        groups.setdefault(alert.key, []).append(f)
    for alerts in (
        group_records(records, reads=reads),
        group_findings(findings, reads=reads),
        group_records(records),  # reads unknown: every field a rule could read
    ):
        assert len(alerts) == len(groups)
        for alert in alerts:
            every = sorted(groups[alert.key], key=_by_time)
            truth = most_severe([every[-1], *every], router.severity)
            chosen = most_severe(alert.members, router.severity)
            assert chosen == truth
            assert router.decide(chosen) == router.decide(truth)


@settings(max_examples=120, deadline=None)
@given(batches, st.integers(1, 5))
def test_group_records_equals_grouping_their_findings_on_hostile_groups(records, examples):
    """As ``test_group_records_equals_grouping_their_findings``, on records that share
    group keys (random records rarely do)."""
    findings = [Finding.from_record(r) for r in records]
    assert group_records(records, max_examples=examples) == group_findings(
        findings, max_examples=examples
    )


class _Reads:
    """A Finding that writes down every field read of it."""

    def __init__(self, finding: Finding) -> None:
        self._finding, self.read = finding, set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self._finding, name)


@settings(max_examples=300, deadline=None)
@given(st.one_of(hostile_records, random_records), rules, routes)
def test_severity_and_routes_read_only_what_they_declare(record, rules, routes) -> None:
    """``fields_read`` and ``ROUTE_READS`` are what grouping keeps members apart by: a
    field severity or a route reads that they do not name would make it lose a member."""
    f = _Reads(Finding.from_record(record))
    level = severity(f, rules)  # type: ignore[arg-type]
    assert f.read <= fields_read(rules) <= MEMBER_READS | {"action", "account_id", "error_code"}
    f.read.clear()
    for route in routes:
        route.matches(f, level, frozenset())  # type: ignore[arg-type]
    assert f.read <= ROUTE_READS <= MEMBER_READS | {"account_id", "error_code"}


BASE = {
    "eventTime": "2026-11-20T09:00:05Z",
    "eventID": "late",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "errorCode": "AccessDenied",
    "errorMessage": MESSAGES[1],  # names s3:GetObject, implicit: low
    "sourceIPAddress": "203.0.113.9",
    "userAgent": "aws-cli/2",
    "recipientAccountId": A,
    "userIdentity": {"type": "IAMUser", "arn": ARNS[0], "accountId": A, "userName": "mallory"},
}
# field -> (how the earlier denial differs, its rules; none: the built-in table decides)
EACH: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {
    "source_ip": ({"sourceIPAddress": "10.0.0.1"}, [("high", {"source_ip": "10.0.0.0/8"})]),
    "user_agent": ({"userAgent": "Terraform/1.5"}, [("high", {"user_agent": "Terraform/*"})]),
    "event_name": ({"eventName": "HeadBucket"}, [("high", {"event_name": "HeadBucket"})]),
    "service": (
        {"eventSource": "iam.amazonaws.com"},
        [("high", {"event_source": "iam.amazonaws.com"})],
    ),
    "denial_explicit": ({"errorMessage": MESSAGES[2]}, []),  # explicit: medium
    "principal_type": ({"type": "Root"}, []),
    "caller_account_id": ({"accountId": B}, []),  # another account's caller: high
    "principal_name": ({"userName": "break-glass"}, [("high", {"principal_name": "break-glass"})]),
    # no ARN, its principalId the other's ARN: one group (the key's principal), two ARNs
    "principal_arn": (
        {"arn": None, "principalId": ARNS[0]},
        [("low", {"principal_arn": ARNS[0]}), ("high", {"event_name": "GetObject"})],
    ),
}


def test_each_field_severity_or_routing_reads_keeps_its_member() -> None:
    """For every field in MEMBER_READS: an earlier denial that differs from the sample in
    that field alone, and is more severe for it, is the member severity picks."""
    assert set(EACH) == MEMBER_READS
    for name, (change, given_rules) in EACH.items():
        rules = [SeverityRule(lv, Suppression(name="r", **keys)) for lv, keys in given_rules]
        early = _changed(BASE, list(change.items()))
        early |= {"eventID": "early", "eventTime": "2026-11-20T09:00:00Z"}

        def level(f: Finding, rules: list[SeverityRule] = rules) -> str:
            return severity(f, rules)

        reads = fields_read(rules) | ROUTE_READS
        for alerts in (group_records([early, BASE]), group_records([early, BASE], reads=reads)):
            (alert,) = alerts
            assert level(alert.sample) != "high" and alert.sample.event_id == "late", name
            assert most_severe(alert.members, level).event_id == "early", name
