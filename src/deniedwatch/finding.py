"""Finding: the one record type every part of deniedwatch speaks.

Built from a CloudTrail record that may be missing fields or carry the wrong
types (it is attacker-influenced input): every getter here returns None rather
than raising.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Protocol

from deniedwatch.actions import action_known, action_of, api_name, service_prefix
from deniedwatch.explain import action_in, explain, hint_for, resource_in
from deniedwatch.partition import console_base, partition_of
from deniedwatch.request_resource import ec2_arn, ec2_id, resource_from_request
from deniedwatch.timespec import event_time as checked_time

__all__ = ["SCHEMA_FIELDS", "Finding", "action_of", "console_url", "principal_name"]


class RecordLike(Protocol):
    """A CloudTrail record: a dict, or anything with a dict-like ``get``."""

    def get(self, key: str, default: Any = None, /) -> Any: ...


_REGION = re.compile(r"[a-z0-9-]{1,40}")
# After the partition's console host (deniedwatch.partition.console_base).
CONSOLE_PATH = "/cloudtrailv2/home?region={region}#/events/{event_id}"


# An identity store user id: a UUID, optionally after a 10-digit store prefix.
_GUID = re.compile(
    r"(?:[0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _vpce(value: Any) -> str | None:
    """A record's vpcEndpointId, if it looks like one (AWS's own examples use any letters)."""
    text = _str(value)
    return text if text and text.startswith("vpce-") and len(text) <= 64 else None


def _map(value: Any) -> Mapping[str, Any]:
    # dict first: the ABC check behind isinstance(x, Mapping) is slow on the hot path
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def _arn_tail(arn: str | None) -> str | None:
    if not arn:
        return None
    _, _, resource = arn.rpartition(":")
    return (resource.split("/", 1)[-1] if "/" in resource else resource) or None


def _after(arn: str | None, marker: str) -> str | None:
    """'arn:aws:sts::1:assumed-role/R/S' after ':assumed-role/' -> 'R/S'; None if empty."""
    return (arn.split(marker, 1)[1] or None) if arn and marker in arn else None


def principal_name(identity: Mapping[str, Any]) -> str | None:
    """The name a human recognises, per principal type (see docs/explain.md).

    Record shapes: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
    """
    kind = _str(identity.get("type"))
    arn = _str(identity.get("arn"))
    issuer = _map(_map(identity.get("sessionContext")).get("sessionIssuer"))
    if kind == "Root":
        # the account alias, when the account has one, is the root's userName
        alias = _str(identity.get("userName"))
        return f"root ({alias})" if alias else "root"
    if kind == "IAMUser":
        return _str(identity.get("userName")) or _arn_tail(arn)
    if kind == "AssumedRole":
        # arn:aws:sts::123:assumed-role/RoleName/SessionName
        if name := _after(arn, ":assumed-role/"):
            return name
        role = _str(issuer.get("userName"))
        session = _str(identity.get("principalId"))
        session = (session.split(":", 1)[1] or None) if session and ":" in session else None
        if role and session:
            return f"{role}/{session}"
        return role or session
    if kind == "AWSService":
        return _str(identity.get("invokedBy"))
    if kind == "FederatedUser":
        return _after(arn, ":federated-user/") or _str(issuer.get("userName"))
    if kind == "AWSAccount":
        account = _str(identity.get("accountId"))
        return f"account {account}" if account else _str(identity.get("principalId"))
    on_behalf = _map(identity.get("onBehalfOf"))
    # IAM Identity Center users: onBehalfOf.userId is the identity store's GUID; a
    # name, where the record has one, is what people recognise.
    named = _str(identity.get("userName")) or _str(on_behalf.get("userName"))
    guid = _str(on_behalf.get("userId"))
    if named:
        return named
    if guid:
        return f"Identity Center user {guid}" if _GUID.fullmatch(guid) else guid
    return (
        _str(issuer.get("userName"))
        or _arn_tail(arn)
        or _str(identity.get("principalId"))
        or _str(identity.get("invokedBy"))
    )


def console_url(region: str | None, event_id: str | None) -> str | None:
    # awsRegion becomes the link's host name: anything but a region's shape
    # (e.g. "evil.example/#") could point "Open the event in CloudTrail" elsewhere.
    if not region or not event_id or not _REGION.fullmatch(region):
        return None
    return console_base(region) + CONSOLE_PATH.format(region=region, event_id=event_id)


def with_history_note(f: Finding, now: float) -> Finding:
    """``f`` with ``console_note`` set when Event history no longer shows it at ``now``."""
    note = history_note(f, now)
    return f if note == f.console_note else replace(f, console_note=note)


# Event history shows management events of the last 90 days only:
# https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html
HISTORY_DAYS = 90
_NOT_IN_HISTORY = {"Data": "a data event", "NetworkActivity": "a network activity event"}
# Data-plane sources for records without eventCategory (eventVersion < 1.07): AppSync,
# and S3's object-level calls. https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html
_S3_OBJECT_CALLS = re.compile(
    r"Object|MultipartUpload|UploadPart|^ListParts$|^SelectObjectContent$"
)


def event_category(record: RecordLike, source: str | None, name: str | None) -> str | None:
    """'Management', 'Data', 'NetworkActivity': the record's own word, else inferred."""
    category = _str(record.get("eventCategory"))
    if category:
        return category
    if _str(record.get("eventType")) == "AwsVpceEvent":
        return "NetworkActivity"
    if source == "appsync.amazonaws.com":
        return "Data"
    if source == "s3.amazonaws.com" and name and _S3_OBJECT_CALLS.search(name):
        return "Data" if not name.startswith("ListObject") else None
    return None


def console_note_of(category: str | None) -> str | None:
    """Why Event history will not show this event (data / network activity), else None."""
    kind = _NOT_IN_HISTORY.get(category or "")
    if not kind:
        return None
    return f"not in Event history ({kind}): see the trail's log files or log group"


def history_note(f: Finding, now: float | None) -> str | None:
    """``f.console_note``, or the 90-day limit when the event is older than that at ``now``."""
    if f.console_note or now is None or not f.event_time:
        return f.console_note
    try:
        when = datetime.fromisoformat(f.event_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    if now - when.timestamp() > HISTORY_DAYS * 86400:
        return f"not in Event history (older than {HISTORY_DAYS} days): see the trail's log files"
    return None


def _first_resource(record: RecordLike) -> str | None:
    resources = record.get("resources")
    first = _map(resources[0]) if isinstance(resources, list) and resources else {}
    return _str(first.get("ARN"))


def resource_of(record: RecordLike) -> str | None:
    """The resource a denial was about: "on resource: X" in the message, else the
    record's first resources[].ARN, else the target its requestParameters name
    (Finding.resource, without building a Finding)."""
    return (
        resource_in(_str(record.get("errorMessage")))
        or _first_resource(record)
        or _request_resource(record)
    )


def _request_resource(record: RecordLike) -> str | None:
    """The target named in requestParameters; an EC2 id as its ARN where the record
    gives the region and account (so it groups with the messages that name the ARN)."""
    source = _str(record.get("eventSource"))
    if source is None:
        return None
    region = _str(record.get("awsRegion"))
    prefix = service_prefix(source)
    partition = partition_of(region)
    params = record.get("requestParameters")
    name = _str(record.get("eventName"))
    found = resource_from_request(prefix, params, partition, api_name(name) if name else None)
    if found and prefix == "ec2":
        account = _str(record.get("recipientAccountId"))
        return ec2_arn(found, partition, region, account)
    return found


def record_action(record: RecordLike) -> str | None:
    """Finding.action without building a Finding: the message's IAM action, else the
    API's (see actions.py)."""
    return action_in(_str(record.get("errorMessage"))) or action_of(
        _str(record.get("eventSource")), _str(record.get("eventName"))
    )


class RecordView:
    """The fields of a raw record that suppressions read, under a Finding's names and
    with its rules (non-strings and empty strings are None), computed only when read:
    a record is classified without building a Finding."""

    __slots__ = ("_r", "_ui")

    def __init__(self, record: RecordLike) -> None:
        self._r = record
        self._ui = _map(record.get("userIdentity"))

    @property
    def principal_arn(self) -> str | None:
        return _str(self._ui.get("arn"))

    @property
    def principal_type(self) -> str | None:
        return _str(self._ui.get("type"))

    @property
    def principal_name(self) -> str | None:
        return principal_name(self._ui)

    @property
    def caller_account_id(self) -> str | None:
        return _str(self._ui.get("accountId"))

    @property
    def account_id(self) -> str | None:
        return _str(self._r.get("recipientAccountId")) or self.caller_account_id

    @property
    def service(self) -> str | None:
        return _str(self._r.get("eventSource"))

    @property
    def event_name(self) -> str | None:
        return _str(self._r.get("eventName"))

    @property
    def error_code(self) -> str | None:
        return _str(self._r.get("errorCode"))

    @property
    def source_ip(self) -> str | None:
        return _str(self._r.get("sourceIPAddress"))

    @property
    def user_agent(self) -> str | None:
        return _str(self._r.get("userAgent"))


@dataclass(frozen=True, slots=True)
class Finding:
    """Who tried what, when, from where, why it was denied, and where to look."""

    event_id: str | None
    event_time: str | None
    account_id: str | None
    region: str | None
    principal_type: str | None
    principal_arn: str | None
    principal_name: str | None
    source_ip: str | None
    user_agent: str | None
    service: str | None
    event_name: str | None
    action: str | None
    error_code: str | None
    error_message: str | None
    denial_policy: str | None
    denial_policy_arn: str | None
    denial_explicit: bool | None
    vpc_endpoint_id: str | None
    hint: str | None
    resource: str | None
    resource_id: str | None  # the EC2 id of the resource ("i-0abc…"), bare or from its ARN
    action_known: bool | None  # False: not an IAM action AWS lists (as the record wrote it)
    console_url: str | None
    console_note: str | None
    # Not part of the JSON schema: the caller's own account (userIdentity.accountId),
    # which differs from account_id for cross-account and anonymous calls.
    caller_account_id: str | None = field(default=None, compare=False, repr=False)
    # Not part of the JSON schema either: userIdentity.principalId, which tells
    # callers apart where there is no ARN (an AWSAccount principal).
    principal_id: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_record(cls, record: RecordLike) -> Finding:
        """A pure function of the record (no clock, no I/O): scan and Lambda agree."""
        identity = _map(record.get("userIdentity"))
        message = _str(record.get("errorMessage"))
        why = explain(message)
        region = _str(record.get("awsRegion"))
        event_id = _str(record.get("eventID"))
        source = _str(record.get("eventSource"))
        name = _str(record.get("eventName"))
        error_code = _str(record.get("errorCode"))
        caller_account = _str(identity.get("accountId"))
        action = why.action or action_of(source, name)
        resource = why.resource or _first_resource(record) or _request_resource(record)
        policy = why.policy
        if policy is None and error_code == "VpceAccessDenied":
            policy = "vpc-endpoint-policy"
        vpce = why.vpc_endpoint_id or _vpce(record.get("vpcEndpointId"))
        if why.policy is None and policy is not None:
            why = replace(why, policy=policy)
        known = action_known(action)
        return cls(
            event_id=event_id,
            event_time=checked_time(record.get("eventTime")),
            account_id=_str(record.get("recipientAccountId")) or caller_account,
            region=region,
            principal_type=_str(identity.get("type")),
            principal_arn=_str(identity.get("arn")),
            principal_name=principal_name(identity),
            source_ip=_str(record.get("sourceIPAddress")),
            user_agent=_str(record.get("userAgent")),
            service=source,
            event_name=name,
            action=action,
            error_code=error_code,
            error_message=message,
            denial_policy=policy,
            denial_policy_arn=why.policy_arn,
            denial_explicit=why.explicit,
            vpc_endpoint_id=vpce,
            hint=hint_for(why, action, resource, vpce, known) if error_code else None,
            resource=resource,
            resource_id=ec2_id(resource),
            action_known=known,
            console_url=console_url(region, event_id),
            console_note=console_note_of(event_category(record, source, name)),
            caller_account_id=caller_account,
            principal_id=_str(identity.get("principalId")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines schema (the README's "The Finding" table), field for field."""
        return {name: getattr(self, name) for name in SCHEMA_FIELDS}


SCHEMA_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Finding) if f.name not in ("caller_account_id", "principal_id")
)
