"""Checks before anything is created, each asking AWS where AWS is the judge.

PREFLIGHT_CHECKS is the list deploy runs, in order; each check takes a Preflight (the
plan, the rule and a boto3 client factory) and returns the plan, possibly completed
(the organization check fills in the trail owner), or raises PlanError with one line
saying what to do. A new check is one function appended (check_events_pattern was).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from deniedwatch.alerts.text import looks_like_html
from deniedwatch.awsclient import NOT_AWS_CODE
from deniedwatch.deploy import names
from deniedwatch.deploy.aws import (
    check_existing_log_group,
    missing_secret_error,
    secret_not_made,
    secret_state,
)
from deniedwatch.deploy.eventpattern import check_event_pattern
from deniedwatch.deploy.plan import CONDITIONS, DeployPlan, PlanError
from deniedwatch.rules import DENIAL_EXACT, DENIAL_PREFIXES, DENIAL_SUFFIXES, DenialRule

# logs:TestMetricFilter takes 1 to 50 messages.
TEST_MESSAGES_LIMIT = 50
CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
SECRET_LOGICAL_ID = "SlackWebhookSecret"  # the stack's secret in template.yaml


@dataclass(frozen=True)
class Preflight:
    plan: DeployPlan
    rule: DenialRule
    clients: Callable[[str], Any]  # service name -> boto3 client
    account: str
    stack_exists: bool
    notes: list[str] = field(default_factory=list)  # what was proven, for the user
    # logical ids of what a failed first create left (deleted before the stack is created)
    failed_stack_resources: frozenset[str] = frozenset()
    # AWS_ENDPOINT_URL: a local stand-in (moto_server, LocalStack) answers, not AWS
    stand_in: str | None = None
    skipped: list[str] = field(default_factory=list)  # checks not made, one line each


Check = Callable[[Preflight], DeployPlan]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- the filter pattern, judged by CloudWatch Logs itself -------------------------------
def sample_codes(rule: DenialRule) -> list[str | None]:
    """One code per denial family and a few that are not denials (None: no errorCode)."""
    denials = [f"{p}Sample" for p in DENIAL_PREFIXES] + [f"Sample{s}" for s in DENIAL_SUFFIXES]
    denials += [*DENIAL_PREFIXES, *DENIAL_EXACT, *sorted(rule.extra_codes)]
    others = [
        None,
        "NoSuchKey",
        "ThrottlingException",
        "accessdenied",
        "Sample" + DENIAL_SUFFIXES[0] + "Later",
        *sorted(rule.ignored_codes),
    ]
    codes = list(dict.fromkeys([*denials, *others]))
    return codes[:TEST_MESSAGES_LIMIT]


def sample_message(code: str | None) -> str:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
    }
    if code is not None:
        record["errorCode"] = code
    return json.dumps(record, separators=(",", ":"))


def pattern_disagreements(logs: Any, pattern: str, rule: DenialRule) -> list[str]:
    """Codes where CloudWatch Logs' match (TestMetricFilter) differs from is_denial()."""
    codes = sample_codes(rule)
    messages = [sample_message(c) for c in codes]
    response = logs.test_metric_filter(filterPattern=pattern, logEventMessages=messages)
    matched = {m.get("eventMessage") for m in response.get("matches", [])}
    return [
        f"{code or '(no errorCode)'}: CloudWatch {'matches' if hit else 'skips'} it, "
        f"the function {'alerts' if rule.is_denial(code) else 'ignores'} it"
        for code, message in zip(codes, messages, strict=True)
        if (hit := message in matched) != rule.is_denial(code)
    ]


def filter_pattern_forms(rule: DenialRule, pattern: str) -> list[tuple[str, str]]:
    """(name, pattern) to try, in order: the plan's, then, when that is the rule's wildcard
    form, the same rule with one regular expression (rules.filter_pattern_regex)."""
    forms = [("wildcard", pattern)]
    if pattern == rule.filter_pattern():
        forms.append(("regular-expression", rule.filter_pattern_regex()))
    return forms


def filter_pattern_form(rule: DenialRule, pattern: str | None) -> str:
    """Which form of ``rule``'s pattern ``pattern`` is (for `status`)."""
    if pattern == rule.filter_pattern():
        return "wildcard form"
    if pattern == rule.filter_pattern_regex():
        return "regular-expression form (CloudWatch Logs refused the wildcard form)"
    return "not what these settings render (deployed with other settings?)"


def check_filter_pattern(pf: Preflight) -> DeployPlan:
    """The one place real CloudWatch Logs judges the rendered pattern before it is used:
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_TestMetricFilter.html
    (metric and subscription filters share the pattern syntax). The first form it accepts
    and that agrees with the rule on every sample is deployed: a third-party emulator's
    review claims a cap on wildcards per JSON pattern that AWS's pages do not state
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html),
    so an InvalidParameterException on the wildcard form falls back to the regex form."""
    if not pf.plan.subscribes_to_logs:  # no subscription filter in this mode
        return pf.plan
    logs = pf.clients("logs")
    samples = len(sample_codes(pf.rule))
    refused: list[str] = []
    for name, pattern in filter_pattern_forms(pf.rule, pf.plan.filter_pattern):
        try:
            problems = pattern_disagreements(logs, pattern, pf.rule)
        except ClientError as exc:
            if _code(exc) != "InvalidParameterException":
                raise
            message = exc.response.get("Error", {}).get("Message", "")
            refused.append(f"the {name} form is invalid to it ({message})")
            continue
        if problems:
            refused.append(f"the {name} form reads differently: " + "; ".join(problems))
            continue
        said = f"filter pattern: CloudWatch Logs agrees with the denial rule on {samples} samples"
        if refused:
            said += f" in the {name} form, deployed because " + "; ".join(refused)
        pf.notes.append(said)
        return dataclasses.replace(pf.plan, filter_pattern=pattern)
    raise PlanError(
        "CloudWatch Logs reads the denial filter pattern differently from the function "
        "(logs:TestMetricFilter): " + "; ".join(refused)
    )


def check_events_pattern(pf: Preflight) -> DeployPlan:
    """The same proof by EventBridge (events:TestEventPattern) when it is a live source."""
    if pf.plan.uses_eventbridge:
        checked = check_event_pattern(pf.clients("events"), pf.rule, pf.plan.event_pattern)
        pf.notes.append(
            f"event pattern: EventBridge agrees with the denial rule on {checked} samples"
        )
    return pf.plan


# -- organization trail ---------------------------------------------------------------
def check_organization(pf: Preflight) -> DeployPlan:
    """An organization trail needs trusted access for CloudTrail, and its ARN carries the
    management account's id:
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-an-organizational-trail-prepare.html
    """
    if not pf.plan.organization_trail or pf.plan.existing_log_group:
        return pf.plan
    orgs = pf.clients("organizations")
    try:
        management = orgs.describe_organization()["Organization"]["MasterAccountId"]
    except ClientError as exc:
        if _code(exc) == "AWSOrganizationsNotInUseException":
            raise PlanError(
                f"account {pf.account} is not in an AWS organization: drop --organization-trail"
            ) from None
        raise
    try:
        enabled = {
            p["ServicePrincipal"]
            for page in orgs.get_paginator("list_aws_service_access_for_organization").paginate()
            for p in page.get("EnabledServicePrincipals", [])
        }
    except ClientError as exc:
        if _code(exc) != "AccessDeniedException" or pf.account == management:
            raise
        raise PlanError(
            f"account {pf.account} is neither the management account ({management}) nor a "
            "CloudTrail delegated administrator: deploy from the management account, or "
            "there run `aws cloudtrail register-organization-delegated-admin "
            f"--member-account-id {pf.account}`"
        ) from None
    if CLOUDTRAIL_PRINCIPAL not in enabled:
        raise PlanError(
            "trusted access for CloudTrail is off in AWS Organizations: in the management "
            f"account run `aws organizations enable-aws-service-access --service-principal "
            f"{CLOUDTRAIL_PRINCIPAL}` (or create any organization trail in the CloudTrail "
            "console once), then deploy again"
        )
    owner = None if pf.account == management else management
    return dataclasses.replace(pf.plan, trail_owner_account_id=owner)


# -- existing log group, and the stack's secret ------------------------------------------
def check_log_group(pf: Preflight) -> DeployPlan:
    if pf.plan.existing_log_group:
        check_existing_log_group(
            pf.clients("logs"),
            pf.plan.existing_log_group,
            names.function_name(pf.plan.stack_name),
            subscribes=pf.plan.subscribes_to_logs,
        )
    return pf.plan


def check_secret(pf: Preflight) -> DeployPlan:
    """Only the stack creates the secret. A stack whose secret was deleted by hand, or a
    new stack whose secret name is taken, would fail later; say so now."""
    name = names.secret_name(pf.plan.stack_name)
    state = secret_state(pf.clients("secretsmanager"), name)
    if pf.stack_exists and pf.stand_in and state == "missing":
        pf.skipped.append(f"not checked: secret ({secret_not_made(pf.stand_in, name)})")
        return pf.plan
    if pf.stack_exists and state != "present":
        raise missing_secret_error(name, state, pf.plan.stack_name)
    # A failed create whose rollback itself failed may still hold its secret; deleting
    # that stack (deploy does, first) deletes the secret with it.
    leftover = SECRET_LOGICAL_ID in pf.failed_stack_resources and state == "present"
    if not pf.stack_exists and state != "missing" and not leftover:
        raise PlanError(
            f"a secret named {name} already exists, so the stack cannot create it: delete it "
            f"(`aws secretsmanager delete-secret --secret-id {name} "
            "--force-delete-without-recovery`) or pick another --stack-name"
        )
    return pf.plan


# -- what an earlier deploy of this stack left behind ------------------------------------
def check_trail_bucket(pf: Preflight) -> DeployPlan:
    """A new stack with a fixed trail bucket name fails "already exists" when the bucket is
    there, as it is after `destroy` (it keeps the trail bucket: CloudTrail history). Say so
    before anything is created. A bucket the stack itself made (an update) is its own."""
    bucket = pf.plan.trail_bucket
    if pf.stack_exists or not bucket or pf.plan.existing_log_group:
        return pf.plan
    try:
        pf.clients("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=pf.account)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return pf.plan
        if _code(exc) in ("403", "AccessDenied"):
            raise PlanError(
                f"trail bucket name {bucket} is taken by another account (S3 bucket names "
                "are global): pass another --trail-bucket, or none for a generated name"
            ) from None
        raise
    purge = f"deniedwatch destroy --purge --stack-name {pf.plan.stack_name} --trail-bucket {bucket}"
    raise PlanError(
        f"trail bucket {bucket} already exists in this account (an earlier deploy's, kept by "
        "destroy with its CloudTrail history), so the stack cannot create it: pass another "
        f"--trail-bucket (or none for a generated name), or delete it first with `{purge}`"
    )


def note_kept_log_groups(pf: Preflight) -> DeployPlan:
    """The trail log group an earlier deploy of this stack left (destroy keeps it) is not
    reused: no trail writes to it any more, and the new stack makes its own (the group has
    a generated name, so nothing collides). Name it, so its history is not forgotten."""
    creates_group = CONDITIONS["CreateTrailLogGroup"](pf.plan.parameters(""))
    if pf.stack_exists or not creates_group:
        return pf.plan
    prefix = f"{pf.plan.stack_name}-TrailLogGroup-"
    groups = pf.clients("logs").describe_log_groups(logGroupNamePrefix=prefix).get("logGroups", [])
    for group in groups:
        name = group["logGroupName"]
        pf.notes.append(
            f"log group {name} (kept by an earlier destroy of {pf.plan.stack_name}) keeps its "
            "history and is not reused; the new stack makes its own. "
            f"`deniedwatch destroy --purge --trail-log-group {name}` removes it"
        )
    return pf.plan


PREFLIGHT_CHECKS: tuple[Check, ...] = (
    check_trail_bucket,
    note_kept_log_groups,
    check_log_group,
    check_organization,
    check_secret,
    check_filter_pattern,
    check_events_pattern,
)


# What a stand-in says for an operation it does not implement (moto, LocalStack).
UNIMPLEMENTED_CODES = frozenset(
    {NOT_AWS_CODE, "NotImplemented", "NotImplementedException", "InvalidAction"}
)


def check_name(check: Check) -> str:
    return check.__name__.removeprefix("check_").replace("_", " ")


def unanswered(exc: ClientError) -> str | None:
    """Why the endpoint could not answer (it lacks the operation), or None: a real refusal."""
    code = _code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if code == NOT_AWS_CODE:
        return message
    if code in UNIMPLEMENTED_CODES or status == 501 or looks_like_html(message):
        return f"{exc.operation_name}: {code or status}"
    return None


def run_checks(
    pf: Preflight, checks: Sequence[Check] = PREFLIGHT_CHECKS, *, skip: bool = False
) -> DeployPlan:
    """Each check in turn. ``skip`` (``--skip-preflight``) makes none; against a stand-in
    (``pf.stand_in``) a check whose call the stand-in does not implement is named in
    ``pf.skipped`` and the rest go on. Against AWS every failure stops the deploy."""
    plan = pf.plan
    for check in checks:
        if skip:
            pf.skipped.append(f"not checked (--skip-preflight): {check_name(check)}")
            continue
        try:
            plan = check(dataclasses.replace(pf, plan=plan))
        except ClientError as exc:
            why = unanswered(exc) if pf.stand_in else None
            if why is None:
                raise
            pf.skipped.append(f"not checked: {check_name(check)} ({why})")
    return plan
