"""A first deploy that fails because a just-created role is not usable yet: the error says
to run again, and the second run removes the failed stack and creates it (a scripted
CloudFormation stand-in: moto cannot fail a resource on IAM propagation)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from deniedwatch.deploy.stack import RETRY_HINT, StackError, Stacks

DENIED = "Access denied. Verify in IAM that the role has adequate permissions."


class ScriptedCloudFormation:
    """Just enough of the CloudFormation API for Stacks, with scripted outcomes."""

    class exceptions:
        class ClientError(Exception):
            pass

    def __init__(self, outcomes: list[str], reason: str = DENIED) -> None:
        self.outcomes = outcomes  # per executed change set: "fail" or "ok"
        self.reason = reason  # why the trail fails
        self.status: str | None = None
        self.events: list[dict[str, Any]] = []
        self.ids = itertools.count(1)
        self.calls: list[str] = []

    def _event(self, logical: str, rtype: str, status: str, reason: str = "") -> None:
        self.events.insert(
            0,
            {
                "EventId": str(next(self.ids)),
                "LogicalResourceId": logical,
                "ResourceType": rtype,
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
            },
        )

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if self.status is None:
            raise self.exceptions.ClientError(f"Stack with id {StackName} does not exist")
        return {"Stacks": [{"StackId": "sid", "StackStatus": self.status, "Outputs": []}]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": list(self.events)}

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(f"create_change_set:{kwargs['ChangeSetType']}")
        self.status = "REVIEW_IN_PROGRESS"
        return {"Id": "cs", "StackId": "sid"}

    def describe_change_set(self, ChangeSetName: str) -> dict[str, Any]:
        return {"Status": "CREATE_COMPLETE", "Changes": [{}, {}]}

    def execute_change_set(self, ChangeSetName: str) -> None:
        self.calls.append("execute")
        if self.outcomes.pop(0) == "fail":
            self._event("Trail", "AWS::CloudTrail::Trail", "CREATE_FAILED", self.reason)
            self.status = "ROLLBACK_COMPLETE"
        else:
            self._event("Trail", "AWS::CloudTrail::Trail", "CREATE_COMPLETE")
            self.status = "CREATE_COMPLETE"

    def delete_stack(self, StackName: str) -> None:
        self.calls.append("delete")
        self._event("dw", "AWS::CloudFormation::Stack", "DELETE_COMPLETE")
        self.status = "DELETE_COMPLETE"

    def get_paginator(self, name: str) -> Any:
        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"StackResourceSummaries": []}]

        return Pages()


def test_iam_propagation_failure_says_run_again_and_the_rerun_succeeds() -> None:
    cfn = ScriptedCloudFormation(["fail", "ok"])
    stacks = Stacks(cfn, sleep=lambda s: None)
    with pytest.raises(StackError) as caught:
        stacks.deploy("dw", "{}", {})
    assert RETRY_HINT in str(caught.value) and DENIED in str(caught.value)
    assert cfn.status == "ROLLBACK_COMPLETE"
    result = stacks.deploy("dw", "{}", {})
    assert result.action == "create" and result.status == "CREATE_COMPLETE"
    first, retry = ["create_change_set:CREATE", "execute"], ["delete"]
    assert cfn.calls == [*first, *retry, *first]


# CloudTrail's answer when the trail's delivery role is too new: the wording AWS gives
# today (aws/aws-cdk#1963, yaybu/touchdown#147), which the older one did not cover.
NEW_ROLE_DENIED = (
    "Access denied. Check the permissions for your role. (Service: AWSCloudTrail; Status "
    "Code: 400; Error Code: InvalidCloudWatchLogsLogGroupArnException; Request ID: 377ff359)"
)


def test_cloudtrails_current_wording_of_a_too_new_role_is_wait_and_retry() -> None:
    cfn = ScriptedCloudFormation(["fail"], reason=NEW_ROLE_DENIED)
    with pytest.raises(StackError) as caught:
        Stacks(cfn, sleep=lambda s: None).deploy("dw", "{}", {})
    assert RETRY_HINT in str(caught.value)
    assert "InvalidCloudWatchLogsLogGroupArnException" in str(caught.value)
