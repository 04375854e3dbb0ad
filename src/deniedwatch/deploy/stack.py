"""Create / update (through a change set) / delete the stack, reporting events as they come.

The CloudFormation client is passed in; what to show is the caller's business (the
Observer gets each new stack event), so this module has no terminal code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CAPABILITIES = ["CAPABILITY_IAM"]
# Statuses after which nothing more happens.
DONE_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"})
# A stack left here by a first create that failed (ROLLBACK_COMPLETE, ROLLBACK_FAILED) or
# never ran (REVIEW_IN_PROGRESS: a change set created, not executed) can only be deleted;
# deploy treats it as no stack: it deletes it, says so, and creates the stack again.
# (stack status codes: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html)
DEAD_ON_ARRIVAL = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"})
_CANCELLED = ("Resource creation cancelled", "Resource update cancelled")
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# How a just-created IAM role that is not yet usable everywhere shows up in a resource's
# failure. CloudTrail, creating a trail that delivers to CloudWatch Logs through a role
# made seconds before, answers InvalidCloudWatchLogsLogGroupArnException with "Access
# denied. Check the permissions for your role." (older wording: "Verify in IAM that the
# role has adequate permissions."), or InvalidCloudWatchLogsRoleArnException ("Check the
# trust relationships for your role"); seen in aws/aws-cdk#1963 and yaybu/touchdown#147.
# Lambda: "The role defined for the function cannot be assumed by Lambda".
_IAM_NOT_YET = (
    "role has adequate permissions",
    "Check the permissions for your role",
    "Check the trust relationships for your role",
    "cannot be assumed",
    "InvalidCloudWatchLogsRole",
    "InvalidCloudWatchLogsLogGroupArn",
)
RETRY_HINT = (
    "a role created moments before may not be usable yet (IAM propagates in seconds): "
    "run deploy again; the failed stack is removed first and nothing is left behind"
)


class StackError(RuntimeError):
    """The stack did not reach the state asked for; the message names what failed and why."""

    def __init__(self, message: str, failures: Iterable[StackFailure] = ()) -> None:
        self.failures = tuple(failures)
        lines = [message, *(f"  {f.describe()}" for f in self.failures)]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    timestamp: datetime | None
    logical_id: str
    resource_type: str
    status: str
    reason: str | None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> StackEvent:
        return cls(
            event_id=raw["EventId"],
            timestamp=raw.get("Timestamp"),
            logical_id=raw.get("LogicalResourceId", ""),
            resource_type=raw.get("ResourceType", ""),
            status=raw.get("ResourceStatus", ""),
            reason=raw.get("ResourceStatusReason") or None,
        )

    @property
    def is_stack(self) -> bool:
        return self.resource_type == "AWS::CloudFormation::Stack"


@dataclass(frozen=True)
class StackFailure:
    logical_id: str
    resource_type: str
    status: str
    reason: str

    def describe(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.status}: {self.reason}"


@dataclass(frozen=True)
class DeployResult:
    action: str  # "create" | "update" | "none"
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # logical id -> physical id


def root_failures(events: Iterable[StackEvent]) -> list[StackFailure]:
    """The failures that caused the rest, oldest first; cancellations are consequences."""
    failed = [
        e
        for e in sorted(events, key=lambda e: (e.timestamp is None, e.timestamp))
        if e.status.endswith("_FAILED") and not (e.reason or "").startswith(_CANCELLED)
    ]
    resources = [e for e in failed if not e.is_stack] or failed
    return [
        StackFailure(e.logical_id, e.resource_type, e.status, e.reason or "no reason given")
        for e in resources
    ]


def is_dead(stack: dict[str, Any] | None) -> bool:
    """A stack a failed (or never executed) first create left behind: deploy replaces it."""
    return stack is not None and stack.get("StackStatus") in DEAD_ON_ARRIVAL


def needs_retry(failures: Iterable[StackFailure]) -> bool:
    """Did the stack fail because a role made moments before was not usable yet?"""
    return any(text in f.reason for f in failures for text in _IAM_NOT_YET)


def is_no_change(reason: str | None) -> bool:
    return any(text in (reason or "") for text in _NO_CHANGES)


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def physical_ids(cfn: Any, stack: str) -> dict[str, str]:
    """Logical id -> physical id of the stack's resources that exist.

    deploy, destroy and status find resources this way rather than through Outputs: it
    also works for a template deployed by someone's own pipeline, and moto's change-set
    path leaves Outputs empty.
    """
    found: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for r in page.get("StackResourceSummaries", []):
            if r.get("LogicalResourceId") and r.get("PhysicalResourceId"):
                found[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    return found


class Observer:
    """Told what happens; the CLI draws it. Defaults do nothing (for scripts and tests)."""

    def started(self, action: str, total_changes: int) -> None: ...

    def event(self, event: StackEvent) -> None: ...


class Stacks:
    """One stack name's lifecycle through a CloudFormation client."""

    def __init__(
        self,
        cfn: Any,
        observer: Observer | None = None,
        *,
        poll_seconds: float = 3.0,
        timeout_seconds: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfn = cfn
        self.observer = observer or Observer()
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep
        self.clock = clock

    def describe(self, name: str) -> dict[str, Any] | None:
        """The stack, or None when there is none (deleted stacks are not listed by name)."""
        try:
            stacks = self.cfn.describe_stacks(StackName=name)["Stacks"]
        except self.cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return stacks[0] if stacks else None

    def deploy(self, name: str, template: str, parameters: dict[str, str]) -> DeployResult:
        """Create or update ``name`` through a change set and wait for the result."""
        existing = self.describe(name)
        if is_dead(existing):
            # A failed first create leaves a stack that can only be deleted.
            self.delete(name)
            existing = None
        if existing and existing["StackStatus"].endswith("_IN_PROGRESS"):
            raise StackError(
                f"stack {name} is busy ({existing['StackStatus']}); run again when it is done"
            )
        kind = "UPDATE" if existing else "CREATE"
        change_set = self.cfn.create_change_set(
            StackName=name,
            ChangeSetName=f"deniedwatch-{int(time.time())}",
            ChangeSetType=kind,
            TemplateBody=template,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=CAPABILITIES,
            Description="deniedwatch deploy",
        )
        change_set_id, stack_id = change_set["Id"], change_set["StackId"]
        described = self._wait_change_set(change_set_id)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason")
            if kind == "UPDATE" and is_no_change(reason):
                self.cfn.delete_change_set(ChangeSetName=change_set_id)
                return DeployResult(
                    "none",
                    existing["StackStatus"],
                    outputs_of(existing),
                    physical_ids(self.cfn, stack_id),
                )
            if kind == "CREATE":
                self.cfn.delete_stack(StackName=stack_id)  # leave no REVIEW_IN_PROGRESS shell
            raise StackError(f"CloudFormation rejected the change set: {reason}")
        seen = {e.event_id for e in self._events(stack_id)}
        self.observer.started(kind.lower(), len(described.get("Changes", [])))
        self.cfn.execute_change_set(ChangeSetName=change_set_id)
        status, events = self._wait_stack(stack_id, seen)
        if status not in DONE_OK:
            failures = root_failures(events)
            message = f"stack {name} did not {kind.lower()}: it ended {status}"
            if needs_retry(failures):
                message += f"; {RETRY_HINT}"
            raise StackError(message, failures)
        stack = self.describe(name) or {}
        return DeployResult(
            kind.lower(), status, outputs_of(stack), physical_ids(self.cfn, stack_id)
        )

    def delete(self, name: str) -> str:
        """Delete ``name`` and wait; returns DELETE_COMPLETE or raises with the reason."""
        stack = self.describe(name)
        if stack is None:
            return "DELETE_COMPLETE"
        stack_id = stack["StackId"]
        seen = {e.event_id for e in self._events(stack_id)}
        self.observer.started("delete", 0)
        self.cfn.delete_stack(StackName=stack_id)
        status, events = self._wait_stack(stack_id, seen)
        if status != "DELETE_COMPLETE":
            raise StackError(f"stack {name} was not deleted: {status}", root_failures(events))
        return status

    # -- waiting ---------------------------------------------------------------
    def _deadline_passed(self, started: float) -> bool:
        return self.clock() - started > self.timeout_seconds

    def _wait_change_set(self, change_set_id: str) -> dict[str, Any]:
        started = self.clock()
        while True:
            described = self.cfn.describe_change_set(ChangeSetName=change_set_id)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if self._deadline_passed(started):
                raise StackError(f"change set still {described['Status']} after the timeout")
            self.sleep(self.poll_seconds)

    def _events(self, stack_id: str) -> list[StackEvent]:
        """The newest page of events, oldest first."""
        raw = self.cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])
        return [StackEvent.from_api(e) for e in reversed(raw)]

    def _wait_stack(self, stack_id: str, seen: set[str]) -> tuple[str, list[StackEvent]]:
        """Poll until the stack settles, passing each new event on; (status, new events)."""
        started = self.clock()
        new: list[StackEvent] = []
        while True:
            for event in self._events(stack_id):
                if event.event_id not in seen:
                    seen.add(event.event_id)
                    new.append(event)
                    self.observer.event(event)
            status = self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                return status, new
            if self._deadline_passed(started):
                raise StackError(f"stack still {status} after the timeout", root_failures(new))
            self.sleep(self.poll_seconds)
