"""Finding: the one record type every part of deniedwatch speaks.

Built from a CloudTrail record that may be missing fields or carry the wrong
types (it is attacker-influenced input): every getter here returns None rather
than raising.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Protocol

from deniedwatch.explain import explain, resource_in
from deniedwatch.partition import console_base


class RecordLike(Protocol):
    """A CloudTrail record: a dict, or anything with a dict-like ``get``."""

    def get(self, key: str, default: Any = None, /) -> Any: ...


_REGION = re.compile(r"[a-z0-9-]{1,40}")
# After the partition's console host (deniedwatch.partition.console_base).
CONSOLE_PATH = "/cloudtrailv2/home?region={region}#/events/{event_id}"

# eventSource prefixes whose IAM action prefix differs from the host name.
_ACTION_PREFIX = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "elasticfilesystem": "elasticfilesystem",
    "tagging": "tag",
    "iamidentitycenter": "sso",
    "sso-directory": "sso-directory",
}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


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
    """The name a human recognises, per principal type (see the README's "The Finding" table)."""
    kind = _str(identity.get("type"))
    arn = _str(identity.get("arn"))
    issuer = _map(_map(identity.get("sessionContext")).get("sessionIssuer"))
    if kind == "Root":
        return "root"
    if kind == "IAMUser":
        return _str(identity.get("userName")) or _arn_tail(arn)
    if kind == "AssumedRole":
        # arn:aws:sts::123:assumed-role/RoleName/SessionName
        if name := _after(arn, ":assumed-role/"):
            return name
        role = _str(issuer.get("userName"))
        session = _str(identity.get("principalId"))
        session = session.split(":", 1)[1] if session and ":" in session else None
        return f"{role}/{session}" if role and session else role
    if kind == "AWSService":
        return _str(identity.get("invokedBy"))
    if kind == "FederatedUser":
        return _after(arn, ":federated-user/") or _str(issuer.get("userName"))
    if kind == "AWSAccount":
        account = _str(identity.get("accountId"))
        return f"account {account}" if account else _str(identity.get("principalId"))
    return (
        _str(identity.get("userName"))
        or _str(_map(identity.get("onBehalfOf")).get("userId"))
        or _str(issuer.get("userName"))
        or _arn_tail(arn)
        or _str(identity.get("principalId"))
        or _str(identity.get("invokedBy"))
    )


@lru_cache(maxsize=4096)  # a batch repeats a few hundred (source, name) pairs at most
def action_of(event_source: str | None, event_name: str | None) -> str | None:
    """'s3.amazonaws.com' + 'GetObject' -> 's3:GetObject'."""
    if not event_name:
        return None
    if not event_source:
        return event_name
    prefix = event_source.split(".", 1)[0]
    return f"{_ACTION_PREFIX.get(prefix, prefix)}:{event_name}"


def console_url(region: str | None, event_id: str | None) -> str | None:
    # awsRegion becomes the link's host name: anything but a region's shape
    # (e.g. "evil.example/#") could point "Open the event in CloudTrail" elsewhere.
    if not region or not event_id or not _REGION.fullmatch(region):
        return None
    return console_base(region) + CONSOLE_PATH.format(region=region, event_id=event_id)


def _first_resource(record: RecordLike) -> str | None:
    resources = record.get("resources")
    first = _map(resources[0]) if isinstance(resources, list) and resources else {}
    return _str(first.get("ARN"))


def resource_of(record: RecordLike) -> str | None:
    """The resource a denial was about: "on resource: X" in the message, else the
    record's first resources[].ARN (Finding.resource, without building a Finding)."""
    return resource_in(_str(record.get("errorMessage"))) or _first_resource(record)


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
    denial_explicit: bool | None
    resource: str | None
    console_url: str | None
    # Not part of the JSON schema: the caller's own account (userIdentity.accountId),
    # which differs from account_id for cross-account and anonymous calls.
    caller_account_id: str | None = field(default=None, compare=False, repr=False)
    # Not part of the JSON schema either: userIdentity.principalId, which tells
    # callers apart where there is no ARN (an AWSAccount principal).
    principal_id: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_record(cls, record: RecordLike) -> Finding:
        identity = _map(record.get("userIdentity"))
        message = _str(record.get("errorMessage"))
        why = explain(message)
        region = _str(record.get("awsRegion"))
        event_id = _str(record.get("eventID"))
        source = _str(record.get("eventSource"))
        name = _str(record.get("eventName"))
        caller_account = _str(identity.get("accountId"))
        return cls(
            event_id=event_id,
            event_time=_str(record.get("eventTime")),
            account_id=_str(record.get("recipientAccountId")) or caller_account,
            region=region,
            principal_type=_str(identity.get("type")),
            principal_arn=_str(identity.get("arn")),
            principal_name=principal_name(identity),
            source_ip=_str(record.get("sourceIPAddress")),
            user_agent=_str(record.get("userAgent")),
            service=source,
            event_name=name,
            action=action_of(source, name),
            error_code=_str(record.get("errorCode")),
            error_message=message,
            denial_policy=why.policy,
            denial_explicit=why.explicit,
            resource=why.resource or _first_resource(record),
            console_url=console_url(region, event_id),
            caller_account_id=caller_account,
            principal_id=_str(identity.get("principalId")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines schema (the README's "The Finding" table), field for field."""
        return {name: getattr(self, name) for name in SCHEMA_FIELDS}


SCHEMA_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Finding) if f.name not in ("caller_account_id", "principal_id")
)
