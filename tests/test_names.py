"""Names and facts declared once (deploy/names.py, plan.CONDITIONS, deploy/resources.py,
cfn_permissions.json): the rendered template says the same as the code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cfn_schemas import SHIPPED, render
from deniedwatch.deploy import names, plan
from deniedwatch.deploy.plan import DeployPlan, PlanError
from deniedwatch.deploy.resources import every_resource, template_resources
from deniedwatch.rules import DenialRule


@pytest.fixture(scope="module")
def tpl() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, problems = decode_str(plan.render_template(DenialRule()))
    assert not problems
    return template


def _subs(node: Any) -> list[str]:
    """Every Fn::Sub format string in the template."""
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key == "Fn::Sub":
                found.append(value if isinstance(value, str) else value[0])
            found += _subs(value)
        return found
    if isinstance(node, list):
        return [s for item in node for s in _subs(item)]
    return []


def test_every_derived_name_in_the_template_is_the_codes(tpl: dict[str, Any]) -> None:
    res = tpl["Resources"]
    fn = res["Function"]["Properties"]
    assert fn["FunctionName"] == {"Fn::Sub": names.FUNCTION.in_template}
    assert res["FunctionLogGroup"]["Properties"]["LogGroupName"] == {
        "Fn::Sub": names.FUNCTION_LOG_GROUP.in_template
    }
    assert res["Trail"]["Properties"]["TrailName"] == {"Fn::Sub": names.TRAIL.in_template}
    secret = {"Fn::Sub": names.SECRET.in_template}
    assert res["SlackWebhookSecret"]["Properties"]["Name"] == secret
    assert fn["Environment"]["Variables"]["DENIEDWATCH_SECRETS_ARN"] == secret
    assert tpl["Outputs"]["SlackSecretName"]["Value"] == secret
    metric = res["UnauthorizedApiCallsMetricFilter"]["Properties"]["MetricTransformations"][0]
    assert metric["MetricNamespace"] == {"Fn::Sub": names.METRIC_NAMESPACE.in_template}
    alarm = res["UnauthorizedApiCallsAlarm"]["Properties"]
    assert alarm["Namespace"] == {"Fn::Sub": names.METRIC_NAMESPACE.in_template}
    # and no other stack-derived name is typed in the template
    # and no other stack-derived name is typed in the template (ARNs embed the trail name)
    known = {n.in_template for n in names.DERIVED_NAMES}
    typed = {s for s in _subs(tpl) if names.STACK_PLACEHOLDER in s and not s.startswith("arn:")}
    assert typed - known == set()


def test_retention_values_and_alarm_periods_are_the_templates(tpl: dict[str, Any]) -> None:
    params = tpl["Parameters"]
    assert [int(v) for v in params["LogRetentionDays"]["AllowedValues"]] == list(
        names.LOG_RETENTION_DAYS
    )
    assert [int(v) for v in params["AlarmPeriodSeconds"]["AllowedValues"]] == list(
        names.ALARM_PERIODS
    )


def test_deploy_passes_every_template_parameter(tpl: dict[str, Any]) -> None:
    """No parameter the code never passes (TrailBucketRetentionDays once was one)."""
    passed = DeployPlan("s", "eu-west-1", "bucket", "{ $.x = 1 }").parameters("key")
    assert set(passed) == set(tpl["Parameters"])


def test_the_code_evaluates_every_template_condition(tpl: dict[str, Any]) -> None:
    assert set(plan.CONDITIONS) == set(tpl["Conditions"])


def test_the_resource_scan_reads_the_template_as_cfn_lint_does(tpl: dict[str, Any]) -> None:
    scanned = {(r.logical_id, r.type, r.condition) for r in template_resources()}
    parsed = {(n, r["Type"], r.get("Condition")) for n, r in tpl["Resources"].items()}
    assert scanned == parsed


def test_shipped_cfn_permissions_match_cloudformations_resource_schemas() -> None:
    """Regenerate with `.venv/bin/python tests/cfn_schemas.py` after adding a type."""
    types = {r.type for r in every_resource()}
    assert SHIPPED.read_text(encoding="utf-8") == render(types)
    assert all(json.loads(render(types)).values())


def test_max_stack_name_fits_the_function_name() -> None:
    assert 64 - len("-alerts") == names.MAX_STACK_NAME
    longest = "a" * names.MAX_STACK_NAME
    assert names.too_long(longest) == []
    assert names.too_long(longest + "b") != []


@pytest.mark.parametrize("stack", ["a" * 60, "a" * (names.MAX_STACK_NAME + 1), "1abc", "a_b"])
def test_bad_stack_names_are_refused(stack: str) -> None:
    with pytest.raises(PlanError, match="stack name"):
        plan.check_stack_name(stack)
    plan.check_stack_name("a" * names.MAX_STACK_NAME)
