"""deploy/preflight.py: each check against AWS's answers, given by botocore's Stubber
(no server): logs:TestMetricFilter, the organization's trusted access, the secret."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cwl_filter import compile_pattern
from deniedwatch.deploy import preflight
from deniedwatch.deploy.plan import DeployPlan, PlanError
from deniedwatch.rules import DenialRule

RULE = DenialRule(frozenset({"Client.CustomDenied"}), frozenset({"VpceAccessDenied"}))
ACCOUNT, MANAGEMENT = "111122223333", "999988887777"


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _plan(**changes: Any) -> DeployPlan:
    base = DeployPlan("dw", "us-east-1", "code-bucket", RULE.filter_pattern())
    return DeployPlan(**{**base.__dict__, **changes})


def _preflight(clients: dict[str, Any], plan: DeployPlan, stack_exists: bool = False) -> Any:
    return preflight.Preflight(plan, RULE, clients.__getitem__, ACCOUNT, stack_exists)


# -- logs:TestMetricFilter --------------------------------------------------------------
def _answer_like(judge: Any, pattern: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """TestMetricFilter's request for RULE (its wildcard form unless ``pattern``), and a
    response whose matches ``judge`` picks."""
    messages = [preflight.sample_message(c) for c in preflight.sample_codes(RULE)]
    request = {"filterPattern": pattern or RULE.filter_pattern(), "logEventMessages": messages}
    matches = [
        {"eventNumber": i + 1, "eventMessage": m, "extractedValues": {}}
        for i, m in enumerate(messages)
        if judge(m)
    ]
    return request, {"matches": matches}


def test_samples_cover_each_family_the_settings_and_non_denials() -> None:
    codes = preflight.sample_codes(RULE)
    assert len(codes) <= preflight.TEST_MESSAGES_LIMIT
    assert "Client.CustomDenied" in codes and "VpceAccessDenied" in codes and None in codes
    assert any(c and c.endswith("UnauthorizedOperation") for c in codes)
    assert {RULE.is_denial(c) for c in codes} == {True, False}
    assert "errorCode" not in json.loads(preflight.sample_message(None))


def test_agreement_with_cloudwatch_passes() -> None:
    logs = _client("logs")
    request, response = _answer_like(compile_pattern(RULE.filter_pattern()))
    with Stubber(logs) as stub:
        stub.add_response("test_metric_filter", response, request)
        plan = preflight.check_filter_pattern(_preflight({"logs": logs}, _plan()))
        stub.assert_no_pending_responses()
    assert plan == _plan()


def test_disagreement_stops_the_deploy_and_names_the_code() -> None:
    """Say CloudWatch read the suffix wildcard literally, and the regular expression's
    UnauthorizedOperation alternative too: no *UnauthorizedOperation match either way."""
    logs = _client("logs")
    judge = compile_pattern(RULE.filter_pattern())
    request, response = _answer_like(lambda m: judge(m) and "UnauthorizedOperation" not in m)
    regex = RULE.filter_pattern_regex()
    again = _answer_like(lambda m: judge(m) and "UnauthorizedOperation" not in m, regex)
    with Stubber(logs) as stub:
        stub.add_response("test_metric_filter", response, request)
        stub.add_response("test_metric_filter", again[1], again[0])
        with pytest.raises(PlanError) as caught:
            preflight.check_filter_pattern(_preflight({"logs": logs}, _plan()))
        stub.assert_no_pending_responses()
    message = str(caught.value)
    assert "TestMetricFilter" in message
    assert "SampleUnauthorizedOperation: CloudWatch skips it, the function alerts it" in message
    assert "the wildcard form" in message and "the regular-expression form" in message
    assert "\n" not in message


# CloudWatch Logs' answer to a pattern it cannot parse (TestMetricFilter, Errors):
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_TestMetricFilter.html
INVALID = "Invalid metric filter pattern"


def test_a_refused_wildcard_form_falls_back_to_the_regular_expression() -> None:
    logs = _client("logs")
    regex = RULE.filter_pattern_regex()
    accepted = _answer_like(compile_pattern(regex), regex)
    with Stubber(logs) as stub:
        stub.add_client_error(
            "test_metric_filter",
            "InvalidParameterException",
            INVALID,
            expected_params=_answer_like(lambda m: False)[0],
        )
        stub.add_response("test_metric_filter", accepted[1], accepted[0])
        pf = _preflight({"logs": logs}, _plan())
        plan = preflight.check_filter_pattern(pf)
        stub.assert_no_pending_responses()
    assert plan.filter_pattern == regex and "%" in regex and "(" not in regex.split("%")[1]
    assert (
        "in the regular-expression form, deployed because the wildcard form is invalid"
        in (pf.notes[-1])
    )
    assert preflight.filter_pattern_form(RULE, plan.filter_pattern).startswith("regular")


def test_both_forms_refused_is_one_line_naming_both() -> None:
    logs = _client("logs")
    with Stubber(logs) as stub:
        stub.add_client_error("test_metric_filter", "InvalidParameterException", INVALID)
        stub.add_client_error("test_metric_filter", "InvalidParameterException", INVALID)
        with pytest.raises(PlanError) as caught:
            preflight.check_filter_pattern(_preflight({"logs": logs}, _plan()))
    message = str(caught.value)
    assert message.count(INVALID) == 2 and "\n" not in message


def test_a_pattern_not_the_rules_is_tried_alone() -> None:
    custom = '{ $.errorCode = "AccessDenied" }'
    assert preflight.filter_pattern_forms(RULE, custom) == [("wildcard", custom)]


# -- organization trail ---------------------------------------------------------------
def _orgs(management: str, enabled: list[str] | None, list_error: str | None = None) -> Any:
    orgs = _client("organizations")
    stub = Stubber(orgs)
    stub.add_response(
        "describe_organization",
        {"Organization": {"Id": "o-example", "MasterAccountId": management}},
    )
    if list_error:
        stub.add_client_error("list_aws_service_access_for_organization", list_error)
    else:
        stub.add_response(
            "list_aws_service_access_for_organization",
            {"EnabledServicePrincipals": [{"ServicePrincipal": p} for p in enabled or []]},
        )
    stub.activate()
    return orgs


def test_an_account_trail_asks_organizations_nothing() -> None:
    plan = _plan()
    assert preflight.check_organization(_preflight({}, plan)) is plan


def test_trusted_access_off_says_how_to_turn_it_on() -> None:
    orgs = _orgs(ACCOUNT, ["config.amazonaws.com"])
    with pytest.raises(PlanError, match="enable-aws-service-access --service-principal cloudtrail"):
        preflight.check_organization(
            _preflight({"organizations": orgs}, _plan(organization_trail=True))
        )


def test_management_account_with_trusted_access_goes_ahead_as_the_owner() -> None:
    orgs = _orgs(ACCOUNT, ["cloudtrail.amazonaws.com"])
    plan = preflight.check_organization(
        _preflight({"organizations": orgs}, _plan(organization_trail=True))
    )
    assert plan.trail_owner_account_id is None
    assert plan.parameters("k")["TrailOwnerAccountId"] == ""


def test_delegated_admin_builds_the_trail_arn_from_the_management_account() -> None:
    orgs = _orgs(MANAGEMENT, ["cloudtrail.amazonaws.com"])
    plan = preflight.check_organization(
        _preflight({"organizations": orgs}, _plan(organization_trail=True))
    )
    assert plan.trail_owner_account_id == MANAGEMENT
    assert plan.parameters("k")["TrailOwnerAccountId"] == MANAGEMENT


def test_a_member_that_is_not_delegated_admin_is_refused_clearly() -> None:
    orgs = _orgs(MANAGEMENT, None, list_error="AccessDeniedException")
    with pytest.raises(PlanError) as caught:
        preflight.check_organization(
            _preflight({"organizations": orgs}, _plan(organization_trail=True))
        )
    assert f"management account ({MANAGEMENT})" in str(caught.value)
    assert "register-organization-delegated-admin" in str(caught.value)


def test_not_in_an_organization() -> None:
    orgs = _client("organizations")
    with Stubber(orgs) as stub:
        stub.add_client_error("describe_organization", "AWSOrganizationsNotInUseException")
        with pytest.raises(PlanError, match="not in an AWS organization"):
            preflight.check_organization(
                _preflight({"organizations": orgs}, _plan(organization_trail=True))
            )


# -- the stack's secret -------------------------------------------------------------------
def _secrets(state: str) -> Any:
    sm = _client("secretsmanager")
    stub = Stubber(sm)
    if state == "missing":
        stub.add_client_error("describe_secret", "ResourceNotFoundException")
    else:
        answer: dict[str, Any] = {"Name": "dw/slack-webhook-url"}
        if state == "scheduled":
            answer["DeletedDate"] = "2026-11-29T00:00:00Z"
        stub.add_response("describe_secret", answer)
    stub.activate()
    return sm


@pytest.mark.parametrize(
    ("stack_exists", "state", "expected"),
    [
        (True, "present", None),
        (False, "missing", None),
        (True, "scheduled", "restore-secret --secret-id dw/slack-webhook-url"),
        (True, "missing", "deniedwatch destroy --stack-name dw"),
        (False, "present", "already exists"),
    ],
)
def test_the_secret_is_only_ever_the_stacks(
    stack_exists: bool, state: str, expected: str | None
) -> None:
    pf = _preflight({"secretsmanager": _secrets(state)}, _plan(), stack_exists)
    if expected is None:
        assert preflight.check_secret(pf) == _plan()
    else:
        with pytest.raises(PlanError, match=expected.replace("-", r"\-")):
            preflight.check_secret(pf)


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        # ROLLBACK_FAILED may keep the stack's own secret: deleting the stack removes it
        (frozenset({"SlackWebhookSecret", "DedupTable"}), None),
        # a failed stack that never had it: the secret is someone else's
        (frozenset({"DedupTable"}), "already exists"),
    ],
)
def test_a_failed_stacks_own_secret_does_not_block_its_replacement(
    left: frozenset[str], expected: str | None
) -> None:
    pf = dataclasses.replace(
        _preflight({"secretsmanager": _secrets("present")}, _plan(), False),
        failed_stack_resources=left,
    )
    if expected is None:
        assert preflight.check_secret(pf) == _plan()
    else:
        with pytest.raises(PlanError, match=expected):
            preflight.check_secret(pf)


def test_checks_run_in_order_and_pass_the_plan_on() -> None:
    seen = []

    def first(pf: Any) -> DeployPlan:
        seen.append(("first", pf.plan.email))
        return DeployPlan(**{**pf.plan.__dict__, "email": "a@example.com"})

    def second(pf: Any) -> DeployPlan:
        seen.append(("second", pf.plan.email))
        return pf.plan

    plan = preflight.run_checks(_preflight({}, _plan()), (first, second))
    assert seen == [("first", None), ("second", "a@example.com")]
    assert plan.email == "a@example.com"
