"""`scan --format ocsf`: each finding as an OCSF Detection Finding, one JSON object a line.

Built with py-ocsf-models (Prowler's maintained OCSF models, OCSF 1.5.0), so the field
names, types and enums are the library's, not hand-written dictionaries. Why this class
and version (docs/scan.md, "OCSF"): a denied call is a detection about one API call, and
OCSF's Detection Finding [2004] carries that call as *evidence* (``evidences[].api``, the
caller in ``evidences[].actor``, where from in ``src_endpoint``) instead of pretending
the finding is the activity itself (API Activity [6003] would log the call, not that it
matters). 1.5.0 is the version py-ocsf-models and Prowler emit, and one Amazon Security
Lake and the SIEMs that take Prowler's output already read.

Where the library has no model (the ``actor``, its ``authorizations``, ``src_endpoint``,
``http_request`` of an evidence, all in OCSF 1.5.0), a small pydantic model below adds it
to the library's evidence model. Every Finding field lands somewhere: in OCSF where OCSF
has a place for it, else under ``unmapped``. The tests validate every event against the
OCSF 1.5.0 JSON schema (the ocsf-json-schema package ships it; nothing is fetched).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import IO, Any

from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.events.findings.detection_finding_type_id import DetectionFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account, TypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.api import API
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.evidence_artifacts import EvidenceArtifacts
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.policy import Policy
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.request_elements import RequestElements
from py_ocsf_models.objects.resource_details import ResourceDetails
from py_ocsf_models.objects.response_elements import ResponseElements
from pydantic import BaseModel

from deniedwatch import __version__
from deniedwatch.alerts.text import clean_json
from deniedwatch.alerts.wording import what, who, why
from deniedwatch.finding import Finding
from deniedwatch.partition import partition_of

# OCSF 1.5.0 user.type_id: 1 User, 2 Admin, 3 System, 99 Other (the CloudTrail type kept
# in user.type and unmapped.principal_type).
_USER_TYPE = {
    "IAMUser": 1,
    "AssumedRole": 1,
    "FederatedUser": 1,
    "IdentityCenterUser": 1,
    "SAMLUser": 1,
    "WebIdentityUser": 1,
    "Root": 2,
    "AWSService": 3,
}
SEVERITY_ID = {"high": SeverityID.High, "medium": SeverityID.Medium, "low": SeverityID.Low}
ANALYTIC = Analytic(
    name="deniedwatch denial rule",
    uid="deniedwatch/denied",
    type_id=1,  # Rule
    type="Rule",
    desc="A CloudTrail record whose errorCode says the caller was denied (rules.py).",
)


class User(BaseModel):
    """OCSF 1.5.0 ``user``, the fields a CloudTrail identity fills."""

    name: str | None = None
    uid: str | None = None
    type: str | None = None
    type_id: int = 0
    account: Account | None = None


class Authorization(BaseModel):
    """OCSF 1.5.0 ``authorization``: the decision and the policy that made it."""

    decision: str
    policy: Policy | None = None


class Actor(BaseModel):
    """OCSF 1.5.0 ``actor``: who made the call."""

    user: User | None = None
    invoked_by: str | None = None
    authorizations: list[Authorization] | None = None


class NetworkEndpoint(BaseModel):
    """OCSF 1.5.0 ``network_endpoint``: where the call came from (an address, or the AWS
    service name CloudTrail writes in sourceIPAddress for a call a service made)."""

    ip: str | None = None
    svc_name: str | None = None
    uid: str | None = None  # the VPC endpoint the call came through


class HttpRequest(BaseModel):
    """OCSF 1.5.0 ``http_request``: only the user agent."""

    user_agent: str


class ApiService(BaseModel):
    """OCSF 1.5.0 ``service`` (the library's requires a version CloudTrail does not give)."""

    name: str
    uid: str | None = None


class ApiCall(API):
    """The library's ``api`` with the service model above."""

    service: ApiService | None = None  # type: ignore[assignment]


class AwsCloud(Cloud):
    """The library's ``cloud`` plus OCSF 1.5.0's ``cloud_partition``."""

    cloud_partition: str | None = None


class Evidence(EvidenceArtifacts):
    """The library's evidence plus the OCSF 1.5.0 fields it does not model yet."""

    actor: Actor | None = None
    src_endpoint: NetworkEndpoint | None = None
    http_request: HttpRequest | None = None


def _millis(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def event(
    f: Finding,
    *,
    severity: str = "medium",
    suppressed: bool = False,
    label: str | None = None,
    now_ms: int = 0,
) -> DetectionFinding:
    """One finding as an OCSF Detection Finding (create activity)."""
    when = _millis(f.event_time)
    account = (
        Account(uid=f.account_id, name=label or f.account_id, type_id=TypeID.AWS_Account)
        if f.account_id
        else None
    )
    user_type = _USER_TYPE.get(f.principal_type or "", 99 if f.principal_type else 0)
    policy = (
        Policy(uid=f.denial_policy_arn, name=f.denial_policy)
        if f.denial_policy or f.denial_policy_arn
        else None
    )
    user = None
    if f.principal_name or f.principal_arn or f.principal_id or account:
        user = User(
            name=f.principal_name,
            uid=f.principal_arn or f.principal_id,
            type=f.principal_type if user_type == 99 else None,
            type_id=user_type,
            account=account,
        )
    invoked_by = f.principal_name if f.principal_type == "AWSService" else None
    # OCSF wants an actor to name someone: a record with no identity at all has none
    actor = None
    if user or invoked_by:
        authorization = Authorization(decision="Denied", policy=policy)
        actor = Actor(user=user, invoked_by=invoked_by, authorizations=[authorization])
    source = None
    if f.source_ip or f.vpc_endpoint_id:
        ip = f.source_ip if f.source_ip and _is_ip(f.source_ip) else None
        service_name = f.source_ip if f.source_ip and ip is None else None
        source = NetworkEndpoint(ip=ip, svc_name=service_name, uid=f.vpc_endpoint_id)
    api = ApiCall(
        operation=f.event_name or "unknown",
        service=ApiService(name=f.service, uid=f.service) if f.service else None,
        request=RequestElements(uid=f.event_id) if f.event_id else None,
        response=ResponseElements(error=f.error_code, error_message=f.error_message),
    )
    resources = (
        [
            ResourceDetails(
                uid=f.resource,
                region=f.region,
                cloud_partition=partition_of(f.region),
            )
        ]
        if f.resource
        else None
    )
    reason = why(f)
    title = f"{f.error_code or 'Denied'}: {what(f)} by {who(f)}"
    model = DetectionFinding(
        activity_id=ActivityID.Create,
        activity_name="Create",
        type_uid=DetectionFindingTypeID.Create,
        type_name="Detection Finding: Create",
        time=when if when is not None else now_ms,
        severity_id=SEVERITY_ID.get(severity, SeverityID.Medium),
        severity=severity.capitalize(),
        status_id=StatusID.Suppressed if suppressed else StatusID.New,
        status="Suppressed" if suppressed else "New",
        status_code=f.error_code,
        message=f"{title}" + (f" ({reason})" if reason else ""),
        metadata=Metadata(
            product=Product(name="deniedwatch", vendor_name="deniedwatch", version=__version__),
            version=OCSF_VERSION,
            profiles=["cloud"],
            uid=f.event_id,
            event_code=f.event_name,
            original_time=f.event_time,
            log_provider="AWS CloudTrail",
        ),
        finding_info=FindingInformation(
            uid=f"deniedwatch-{f.event_id or 'unknown'}",
            title=title,
            desc=reason or f.error_message,
            types=["Access Denied"],
            analytic=ANALYTIC,
            data_sources=["AWS CloudTrail"],
            created_time=when,
            first_seen_time=when,
            last_seen_time=when,
            src_url=f.console_url,
        ),
        cloud=AwsCloud(
            provider="AWS",
            region=f.region,
            account=account,
            cloud_partition=partition_of(f.region) if f.region else None,
        ),
        evidences=[
            Evidence(
                api=api,
                actor=actor,
                src_endpoint=source,
                http_request=HttpRequest(user_agent=f.user_agent) if f.user_agent else None,
                resources=resources,
                verdict_id=None,
            )
        ],
        resources=resources,
        remediation=Remediation(desc=f.hint) if f.hint else None,
        count=1,
        unmapped=_unmapped(f, actor is None),
    )
    return model


# Where each Finding field goes (tests/test_ocsf.py checks every field is in one of them).
MAPPED = {
    "event_id": "metadata.uid, evidences[].api.request.uid, finding_info.uid",
    "event_time": "time, metadata.original_time, finding_info.created_time",
    "account_id": "cloud.account.uid, actor.user.account.uid",
    "region": "cloud.region, resources[].region",
    "principal_arn": "evidences[].actor.user.uid",
    "principal_name": "evidences[].actor.user.name",
    "principal_type": "evidences[].actor.user.type_id (and unmapped.principal_type)",
    "source_ip": "evidences[].src_endpoint.ip (svc_name for an AWS service)",
    "user_agent": "evidences[].http_request.user_agent",
    "service": "evidences[].api.service.name",
    "event_name": "evidences[].api.operation, metadata.event_code",
    "error_code": "evidences[].api.response.error, status_code",
    "error_message": "evidences[].api.response.error_message",
    "denial_policy_arn": "evidences[].actor.authorizations[].policy.uid",
    "denial_policy": "evidences[].actor.authorizations[].policy.name",
    "vpc_endpoint_id": "evidences[].src_endpoint.uid",
    "hint": "remediation.desc",
    "resource": "resources[].uid, evidences[].resources[].uid",
    "console_url": "finding_info.src_url",
}
# Finding fields OCSF 1.5.0 has no attribute for, kept under ``unmapped`` as they are.
UNMAPPED = (
    "action",
    "action_known",
    "principal_type",
    "denial_policy",
    "denial_explicit",
    "resource_id",
    "console_note",
)


def _unmapped(f: Finding, no_actor: bool) -> dict[str, Any]:
    """The fields OCSF has no place for; the denying policy's ARN too when there is no
    actor to hang the authorization on."""
    names = (*UNMAPPED, "denial_policy_arn") if no_actor else UNMAPPED
    return {name: getattr(f, name) for name in names if getattr(f, name, None) is not None}


def to_dict(model: DetectionFinding) -> dict[str, Any]:
    """The event as OCSF JSON: unset (None) attributes left out, enums as their numbers."""
    # serialize_as_any: the evidence, api and cloud models above are subclasses of the
    # library's; their own fields must not be cut to the declared type's
    return model.model_dump(mode="json", exclude_none=True, serialize_as_any=True)


def write_ocsf(
    findings: Iterable[Finding],
    out: IO[str],
    *,
    severity: Callable[[Finding], str] = lambda _f: "medium",
    suppressed: Collection[str] = (),
    labels: dict[str, str] | None = None,
    now_ms: int = 0,
) -> None:
    """JSON Lines of OCSF events; ``suppressed``: event ids a suppression would hide
    (``--include-suppressed``), marked status Suppressed instead of dropped."""
    labels = labels or {}
    for f in findings:
        model = event(
            f,
            severity=severity(f),
            suppressed=f.event_id in suppressed,
            label=labels.get(f.account_id or ""),
            now_ms=now_ms,
        )
        out.write(clean_json(json.dumps(to_dict(model), ensure_ascii=False)) + "\n")


def write_for_settings(
    findings: Iterable[Finding],
    out: IO[str],
    settings: Any,
    suppressed: Collection[str | None],
    labels: dict[str, str],
) -> None:
    """``write_ocsf`` with severity from the settings' ``[[severity.rule]]`` (scan -f ocsf)."""
    import time

    from deniedwatch.severity import severity

    rules = settings.severity_rules
    write_ocsf(
        findings,
        out,
        severity=lambda f: severity(f, rules),
        suppressed=[s for s in suppressed if s],
        labels=labels,
        now_ms=int(time.time() * 1000),
    )
