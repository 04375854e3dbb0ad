"""rules: which codes are denials, the patterns rendered from them, suppressions, evaluate()."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwl_filter import matches
from deniedwatch.finding import Finding
from deniedwatch.rules import (
    CIS_METRIC_FILTER_PATTERN,
    DEFAULT_SUPPRESSIONS,
    DenialRule,
    Ruleset,
    Suppression,
    Verdict,
    build_ruleset,
)
from live_support import record
from strategies import random_records

DENIALS = [
    "AccessDenied",
    "AccessDeniedException",
    "VpceAccessDenied",
    "KMSAccessDeniedException",  # Lambda: KMS refused the function's key
    "AccessDeniedForDependencyException",  # Organizations
    "Client.UnauthorizedOperation",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "ForbiddenException",
    "UnauthorizedException",
]
NOT_DENIALS = [
    "NoSuchKey",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ValidationException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "accessdenied",  # CloudTrail codes are case-sensitive
    "UnauthorizedOperationRetry",
    "AuthorizationErrorX",
    "Forbidden",
    "Client.AccessDeniedX",  # AccessDenied in the middle: no documented pattern form says so
    "",
]


@pytest.mark.parametrize("code", DENIALS)
def test_denial_codes(code: str) -> None:
    assert DenialRule().is_denial(code)


@pytest.mark.parametrize("code", [*NOT_DENIALS, None, 5, ["AccessDenied"], {"c": 1}])
def test_not_denial_codes(code: Any) -> None:
    assert not DenialRule().is_denial(code)


def test_extra_and_ignored_codes() -> None:
    rule = DenialRule(
        extra_codes=frozenset({"InvalidClientTokenId"}),
        ignored_codes=frozenset({"VpceAccessDenied", "ForbiddenException"}),
    )
    assert rule.is_denial("InvalidClientTokenId")
    assert not rule.is_denial("VpceAccessDenied")
    assert not rule.is_denial("ForbiddenException")
    assert rule.is_denial("AccessDenied")


# ---- filter patterns ----------------------------------------------------------------


def test_cis_metric_filter_pattern_is_byte_exact() -> None:
    # Security Hub CloudWatch.2 / CIS 4.1 check this text to the letter.
    expected = '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'
    assert expected == CIS_METRIC_FILTER_PATTERN


@pytest.mark.parametrize(
    "rule",
    [
        DenialRule(),
        DenialRule(extra_codes=frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch"})),
        DenialRule(ignored_codes=frozenset({"VpceAccessDenied", "ForbiddenException"})),
        DenialRule(frozenset({"InvalidClientTokenId"}), frozenset({"AccessDeniedException"})),
    ],
    ids=["default", "extra", "ignored", "both"],
)
def test_filter_pattern_says_what_is_denial_says(rule: DenialRule) -> None:
    pattern = rule.filter_pattern()
    for code in [*DENIALS, *NOT_DENIALS[:-1], "InvalidClientTokenId", "SignatureDoesNotMatch"]:
        assert matches(pattern, {"errorCode": code}) == rule.is_denial(code), code


def test_filter_pattern_names_every_code_family() -> None:
    pattern = DenialRule(extra_codes=frozenset({"InvalidClientTokenId"})).filter_pattern()
    for text in [
        "AccessDenied",
        "UnauthorizedOperation",
        '"AuthorizationError"',
        '"AuthorizationErrorException"',
        '"ForbiddenException"',
        '"UnauthorizedException"',
        '"InvalidClientTokenId"',
    ]:
        assert text in pattern
    # CloudWatch Logs caps a filter pattern at 1024 characters.
    assert len(pattern) <= 1024


def test_the_pattern_uses_only_documented_wildcard_forms() -> None:
    # cwl_filter refuses a wildcard at both ends (UndocumentedPattern) instead of guessing
    pattern = DenialRule(frozenset({"X.Y-z_1"}), frozenset({"AccessDeniedX"})).filter_pattern()
    assert matches(pattern, {"errorCode": "AccessDenied"})
    assert not re.search(r'"\*[^"]*\*"', pattern)


def test_ignored_codes_are_excluded_from_the_pattern() -> None:
    pattern = DenialRule(ignored_codes=frozenset({"VpceAccessDenied"})).filter_pattern()
    assert '($.errorCode != "VpceAccessDenied")' in pattern


# ---- suppressions -------------------------------------------------------------------

DEPLOYER = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::111122223333:assumed-role/deploy-pipeline/build-4711",
    "accountId": "111122223333",
}


def finding(**overrides: Any) -> Finding:
    return Finding.from_record(record(DEPLOYER, **overrides))


@pytest.mark.parametrize(
    ("rec", "rule_name"),
    [
        (record(DEPLOYER, eventName="HeadBucket"), "default:head-bucket"),
        (
            record(
                {"type": "AWSService", "invokedBy": "delivery.logs.amazonaws.com"},
                eventName="GetBucketAcl",
                sourceIPAddress="delivery.logs.amazonaws.com",
            ),
            "default:log-delivery",
        ),
        (
            record({"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}),
            "default:anonymous",
        ),
    ],
    ids=["head-bucket", "log-delivery", "anonymous"],
)
def test_default_suppressions(rec: dict[str, Any], rule_name: str) -> None:
    detection = Ruleset().evaluate(rec)
    assert detection.verdict is Verdict.SUPPRESSED
    assert detection.suppressed_by == rule_name
    assert detection.finding == Finding.from_record(rec)  # counted, with its finding
    off = build_ruleset(default_suppressions=False).evaluate(rec)
    assert off.verdict is Verdict.DENIED
    assert off.suppressed_by is None


def test_defaults_do_not_touch_look_alikes() -> None:
    ruleset = Ruleset()
    for rec in [
        record(DEPLOYER, eventName="HeadObject"),
        record(DEPLOYER, sourceIPAddress="logs.amazonaws.com"),
        record({"type": "AWSAccount", "accountId": "999988887777"}),
        # anonymous is about the caller, not the account that received the call
        record(DEPLOYER, recipientAccountId="ANONYMOUS_PRINCIPAL"),
    ]:
        assert ruleset.evaluate(rec).verdict is Verdict.DENIED, rec


def test_default_suppression_names_are_unique() -> None:
    names = [s.name for s in DEFAULT_SUPPRESSIONS]
    assert len(set(names)) == len(names) == 3


@pytest.mark.parametrize(
    ("rule", "hit", "miss"),
    [
        (
            Suppression("arn-glob", principal_arn="arn:aws:sts::*:assumed-role/deploy-*"),
            finding(),
            Finding.from_record(record({"type": "IAMUser", "arn": "arn:aws:iam::1:user/deploy"})),
        ),
        (
            Suppression("name", principal_name="deploy-pipeline/build-4711"),
            finding(),
            Finding.from_record(
                record({**DEPLOYER, "arn": DEPLOYER["arn"].replace("4711", "4712")})
            ),
        ),
        (
            Suppression("source", event_source="s3.amazonaws.com"),
            finding(),
            finding(eventSource="kms.amazonaws.com"),
        ),
        (
            Suppression("event-glob", event_name="Get*"),
            finding(eventName="GetObjectAcl"),
            finding(eventName="PutObject"),
        ),
        (
            Suppression("code", error_code="AccessDenied"),
            finding(),
            finding(errorCode="AccessDeniedException"),
        ),
        (
            Suppression("account", account_id="111122223333"),
            finding(),
            finding(recipientAccountId="444455556666"),
        ),
        (
            Suppression("caller", caller_account_id="111122223333"),
            finding(recipientAccountId="444455556666"),
            Finding.from_record(record({"type": "AWSAccount", "accountId": "999988887777"})),
        ),
        (
            Suppression("cidr-v4", source_ip="10.20.0.0/16"),
            finding(sourceIPAddress="10.20.30.40"),
            finding(sourceIPAddress="10.21.0.1"),
        ),
        (
            Suppression("single-ip", source_ip="203.0.113.10"),
            finding(sourceIPAddress="203.0.113.10"),
            finding(sourceIPAddress="203.0.113.11"),
        ),
        (
            Suppression("cidr-v6", source_ip="2001:db8::/32"),
            finding(sourceIPAddress="2001:db8:ffff::1"),
            finding(sourceIPAddress="2001:db9::1"),
        ),
        (
            Suppression("v4-rule-v6-caller", source_ip="0.0.0.0/0"),
            finding(sourceIPAddress="198.51.100.1"),
            finding(sourceIPAddress="2001:db8::1"),
        ),
        (
            Suppression("service-source", source_ip="cloudformation.amazonaws.com"),
            finding(sourceIPAddress="cloudformation.amazonaws.com"),
            finding(sourceIPAddress="cloudformation.amazonaws.com.evil.example"),
        ),
        (
            Suppression("cidr-vs-service-name", source_ip="10.0.0.0/8"),
            finding(sourceIPAddress="10.0.0.1"),
            finding(sourceIPAddress="AWS Internal"),
        ),
        (
            Suppression("agent-glob", user_agent="*Terraform/*"),
            finding(userAgent="APN/1.0 HashiCorp/1.0 Terraform/1.9.0"),
            finding(userAgent="aws-cli/2.17.0"),
        ),
        (
            Suppression("all-keys", event_name="GetObject", source_ip="203.0.113.0/24"),
            finding(),
            finding(sourceIPAddress="198.51.100.1"),  # one key differs: no match
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Suppression) else "",
)
def test_suppression_keys(rule: Suppression, hit: Finding, miss: Finding) -> None:
    assert rule.matches(hit)
    assert not rule.matches(miss)


@pytest.mark.parametrize(
    "rule",
    [
        Suppression("arn", principal_arn="*"),
        Suppression("name", principal_name="x"),
        Suppression("ip", source_ip="10.0.0.0/8"),
        Suppression("agent", user_agent="*"),
        Suppression("event", event_name="*"),
    ],
    ids=lambda r: r.name,
)
def test_a_missing_value_never_matches_a_set_key(rule: Suppression) -> None:
    assert not rule.matches(Finding.from_record({"errorCode": "AccessDenied"}))


def test_globs_are_case_sensitive() -> None:
    assert not Suppression("x", event_name="get*").matches(finding(eventName="GetObject"))


def test_evaluate_reports_the_first_matching_rule() -> None:
    ruleset = build_ruleset(
        suppressions=[
            Suppression("first", event_name="Get*"),
            Suppression("second", error_code="AccessDenied"),
        ]
    )
    detection = ruleset.evaluate(record(DEPLOYER))
    assert (detection.verdict, detection.suppressed_by) == (Verdict.SUPPRESSED, "first")


def test_evaluate_skips_non_denials_without_building_a_finding() -> None:
    for code in [None, "NoSuchKey", "ThrottlingException"]:
        detection = Ruleset().evaluate(record(DEPLOYER, errorCode=code))
        assert detection.verdict is Verdict.NOT_DENIED
        assert detection.finding is None


def test_extra_codes_reach_evaluate() -> None:
    rec = record(DEPLOYER, errorCode="InvalidClientTokenId")
    assert Ruleset().evaluate(rec).verdict is Verdict.NOT_DENIED
    ruleset = build_ruleset(extra_codes=["InvalidClientTokenId"])
    assert ruleset.evaluate(rec).verdict is Verdict.DENIED


def test_account_labels() -> None:
    ruleset = build_ruleset(account_labels={"111122223333": "prod"})
    assert ruleset.label("111122223333") == "prod"
    assert ruleset.label("444455556666") is None
    assert ruleset.label(None) is None


RULESET_WITH_EVERY_KEY = build_ruleset(
    extra_codes=["X"],
    suppressions=[
        Suppression(
            "every-key",
            principal_arn="arn:*",
            principal_name="a*",
            event_source="s3.amazonaws.com",
            event_name="Get*",
            error_code="AccessDenied",
            account_id="111122223333",
            caller_account_id="111122223333",
            source_ip="10.0.0.0/8",
            user_agent="*",
        ),
        Suppression("v6", source_ip="::/0"),
        Suppression("name", source_ip="not-an-ip"),
    ],
)


@settings(max_examples=300, deadline=None)
@given(random_records)
def test_random_records_never_crash_evaluate(rec: dict[str, Any]) -> None:
    detection = RULESET_WITH_EVERY_KEY.evaluate(rec)
    assert (detection.finding is None) == (detection.verdict is Verdict.NOT_DENIED)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_random_source_ips_never_crash(ip: str) -> None:
    for rule in RULESET_WITH_EVERY_KEY.suppressions:
        rule.matches(finding(sourceIPAddress=ip))


# ---- suppressions that cannot be borrowed ----------------------------------------------

CONFIG_SERVICE = {"type": "AWSService", "invokedBy": "config.amazonaws.com"}
FEDERATED_CONFIG = {
    "type": "FederatedUser",
    "principalId": "111122223333:config.amazonaws.com",
    "arn": "arn:aws:sts::111122223333:federated-user/config.amazonaws.com",
    "accountId": "111122223333",
    "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "mallory"}},
}
IAM_USER_CONFIG = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLE",
    "arn": "arn:aws:iam::111122223333:user/config.amazonaws.com",
    "accountId": "111122223333",
    "userName": "config.amazonaws.com",
}


def test_a_service_name_rule_matches_only_the_service_itself() -> None:
    rule = Suppression(
        "config-gap", event_source="config.amazonaws.com", principal_name="config.amazonaws.com"
    )
    ruleset = build_ruleset(suppressions=[rule])
    service = record(CONFIG_SERVICE, eventSource="config.amazonaws.com")
    assert ruleset.evaluate(service).suppressed_by == "config-gap"
    for borrowed in (FEDERATED_CONFIG, IAM_USER_CONFIG):
        rec = record(borrowed, eventSource="config.amazonaws.com")
        assert Finding.from_record(rec).principal_name == "config.amazonaws.com"
        assert ruleset.evaluate(rec).verdict is Verdict.DENIED, borrowed["type"]


def test_principal_type_is_a_rule_key() -> None:
    rule = Suppression("feds", principal_type="FederatedUser")
    assert rule.matches(Finding.from_record(record(FEDERATED_CONFIG)))
    assert not rule.matches(Finding.from_record(record(IAM_USER_CONFIG)))
    # an explicit type wins over the one a service name implies
    named = Suppression("n", principal_name="config.amazonaws.com", principal_type="IAMUser")
    assert named.matches(Finding.from_record(record(IAM_USER_CONFIG)))


def test_head_bucket_default_is_only_for_the_accounts_own_callers() -> None:
    own = record(DEPLOYER, eventName="HeadBucket")
    assert Ruleset().evaluate(own).suppressed_by == "default:head-bucket"
    outsider = record(
        {**DEPLOYER, "accountId": "999988887777", "arn": "arn:aws:iam::999988887777:user/x"},
        eventName="HeadBucket",
    )
    assert Ruleset().evaluate(outsider).verdict is Verdict.DENIED
    unknown_caller = record({"type": "AWSAccount", "principalId": "AIDAX"}, eventName="HeadBucket")
    assert Ruleset().evaluate(unknown_caller).verdict is Verdict.DENIED


def test_log_delivery_default_needs_the_service_itself() -> None:
    forged = record(DEPLOYER, sourceIPAddress="delivery.logs.amazonaws.com")
    assert Ruleset().evaluate(forged).verdict is Verdict.DENIED


IAM = "arn:aws:iam::111122223333:"
STS = "arn:aws:sts::111122223333:assumed-role/"
_ARN_UA = ["principal_arn", "user_agent"]
_ARN = ["principal_arn"]


@pytest.mark.parametrize(
    ("rule", "forgeable"),
    [
        (Suppression("ua", user_agent="*Terraform*"), ["user_agent"]),
        (Suppression("ua+event", user_agent="*Terraform*", event_name="Get*"), ["user_agent"]),
        (Suppression("name", principal_name="ci-bot"), ["principal_name"]),
        (Suppression("via", source_ip="cloudformation.amazonaws.com"), ["source_ip"]),
        (Suppression("ua+arn", user_agent="*", principal_arn=f"{IAM}user/ci"), []),
        (Suppression("ua+path", user_agent="*", principal_arn=f"{IAM}user/ops/ci"), []),
        (Suppression("session*", user_agent="*", principal_arn=f"{STS}terraform/*"), []),
        (Suppression("root", event_name="Get*", principal_arn=f"{IAM}root"), []),
        # pinned means one account and one user or role name (issue 20, item 5)
        (Suppression("ua+arn1", user_agent="*", principal_arn="arn:aws:iam::1:user/ci"), _ARN_UA),
        (Suppression("anyacct", principal_arn="arn:aws:sts::*:assumed-role/tf/*"), _ARN),
        (Suppression("role*", principal_arn=f"{STS}terraform-*"), ["principal_arn"]),
        (Suppression("user*", principal_arn=f"{IAM}user/ci-*"), ["principal_arn"]),
        (Suppression("ua+cidr", user_agent="*", source_ip="10.0.0.0/8"), ["user_agent"]),
        (Suppression("ua+caller", user_agent="*", caller_account_id="1"), ["user_agent"]),
        (Suppression("ua+own", user_agent="Terraform/*", same_account=True), ["user_agent"]),
        (Suppression("service", principal_name="config.amazonaws.com"), []),
        (Suppression("event", event_name="HeadBucket"), []),
    ],
    ids=lambda v: v.name if isinstance(v, Suppression) else "",
)
def test_forgeable_keys(rule: Suppression, forgeable: list[str]) -> None:
    assert rule.forgeable_keys() == forgeable
