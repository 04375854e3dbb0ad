"""Destination type ``securityhub``: findings imported into AWS Security Hub, in ASFF.

One finding per alert group and dedup window: its ``Id`` is the group key's digest and
the start of the window (fixed windows of ``[alerts] dedup_window_minutes`` on the UTC
clock, from the group's first denial), so a repeat in the window, and a rerun of
``scan --notify`` over the same history, import the same ``Id``: Security Hub updates the
finding (``UpdatedAt``, ``LastObservedAt``, the count) instead of adding one. A group
whose denials straddle a window edge has one finding per window.

AWS facts this follows (cited where they are used):
- Required top-level ASFF attributes: AwsAccountId, CreatedAt, Description, GeneratorId,
  Id, ProductArn, Resources, SchemaVersion, Severity, Title, Types, UpdatedAt
  (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html).
- Lengths: Description 1-1024 characters, AwsAccountId 12, every string ``.*\\S.*``
  (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html);
  ProductFields at most 50 pairs, keys up to 128 and values up to 2048 characters; at
  most 32 Resources (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resources.html).
- BatchImportFindings: at most 100 findings a call, 240 KB a finding, 6 MB a call,
  10 TPS with bursts of 30; with the default product ARN the caller's account must be the
  finding's AwsAccountId
  (https://docs.aws.amazon.com/securityhub/latest/partnerguide/guidelines-batchimportfindings.html).
  So AwsAccountId is the importing account (the function's), and the account where the
  denial happened is a ``AwsAccount`` resource and a product field.
- Findings the call could not import come back in ``FailedCount``/``FailedFindings``
  (HTTP 200): they raise DeliveryFailed like any destination failure, so the delivery
  loop counts them and AWS's retry of the invocation imports them again (same Ids).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.channels.base import (
    ChannelType,
    Context,
    DeliveryFailed,
    Destination,
    Option,
    ThreadRef,
    arn_check,
)
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut
from deniedwatch.partition import partition_of
from deniedwatch.severity import most_severe

ENV_PRODUCT_ARN = "DENIEDWATCH_SECURITYHUB_PRODUCT_ARN"  # set by the template
SCHEMA_VERSION = "2018-10-08"
GENERATOR_ID = "deniedwatch/denied-api-call"
TYPES = ("Unusual Behaviors/User/Denied API Call",)
BATCH_MAX = 100  # findings per BatchImportFindings call
FINDING_MAX_BYTES = 240 * 1024
TITLE_MAX = 256
DESCRIPTION_MAX = 1024
RECOMMENDATION_MAX = 512
FIELD_KEY_MAX = 128
FIELD_VALUE_MAX = 2048
FIELDS_MAX = 50
RESOURCES_MAX = 32
EVENT_IDS_SHOWN = 5
LABELS = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
DEFAULT_WINDOW_MINUTES = 60


def product_arn(region: str, account: str) -> str:
    """The account's default product in ``region``: what a customer's own findings use."""
    return f"arn:{partition_of(region)}:securityhub:{region}:{account}:product/{account}/default"


def _parse_time(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def window_start(alert: Alert, window_minutes: int, now: datetime) -> datetime:
    """The fixed window (UTC) the group's first denial falls in."""
    first = _parse_time(alert.first_time) or _parse_time(alert.last_time) or now
    seconds = max(1, window_minutes) * 60
    return datetime.fromtimestamp(int(first.timestamp()) // seconds * seconds, UTC)


def finding_id(alert: Alert, window_minutes: int, now: datetime) -> str:
    start = window_start(alert, window_minutes, now)
    return f"deniedwatch/{alert.key.digest()}/{start.strftime('%Y-%m-%dT%H:%MZ')}"


def _text(value: object, limit: int) -> str | None:
    """Record text as ASFF takes it: one line (``.*\\S.*``), cut to ``limit``; None if blank."""
    if value is None:
        return None
    text = cut(clean(str(value)), limit)
    return text if text.strip() else None


_RESOURCE_TYPES = (  # (ARN prefix after the partition, ASFF resource type)
    (":s3:::", "AwsS3Bucket"),
    (":iam::", "AwsIamRole"),  # refined below for users
    (":lambda:", "AwsLambdaFunction"),
    (":dynamodb:", "AwsDynamoDbTable"),
    (":kms:", "AwsKmsKey"),
    (":sns:", "AwsSnsTopic"),
    (":sqs:", "AwsSqsQueue"),
    (":secretsmanager:", "AwsSecretsManagerSecret"),
)


def _resource_type(arn: str) -> str:
    if not arn.startswith("arn:"):
        return "Other"
    if ":s3:::" in arn:
        return "AwsS3Object" if "/" in arn else "AwsS3Bucket"
    if ":iam::" in arn:
        if ":user/" in arn:
            return "AwsIamUser"
        return "AwsIamRole" if ":role/" in arn else "Other"
    for marker, kind in _RESOURCE_TYPES:
        if marker in arn:
            return kind
    return "Other"


def resources(alert: Alert) -> list[dict[str, Any]]:
    """The denied resource, the caller and the account the denial happened in."""
    f = alert.sample
    partition = partition_of(f.region)
    out: list[dict[str, Any]] = []

    def add(kind: str, ident: str | None, role: str) -> None:
        text = _text(ident, FIELD_VALUE_MAX)
        if text is None or len(out) >= RESOURCES_MAX:
            return
        item: dict[str, Any] = {"Type": kind, "Id": text, "Partition": partition}
        if f.region and _text(f.region, 64):
            item["Region"] = _text(f.region, 64)
        item["ResourceRole"] = role
        out.append(item)

    if f.resource:
        add(_resource_type(f.resource), f.resource, "Target")
    if f.principal_arn:
        add(_resource_type(f.principal_arn), f.principal_arn, "Actor")
    elif f.principal_name:
        add("Other", f.principal_name, "Actor")
    if alert.key.account_id:
        add("AwsAccount", f"AWS::::Account:{alert.key.account_id}", "Target")
    if not out:  # Resources is required: the finding is about an AWS account at least
        add("Other", "unknown", "Target")
    return out


def _fields(alert: Alert, count: int, severity: str) -> dict[str, str]:
    f = alert.sample
    ids = [e.event_id for e in alert.examples if e.event_id][:EVENT_IDS_SHOWN]
    if f.event_id and f.event_id not in ids:
        ids.insert(0, f.event_id)
    pairs = {
        "deniedwatch/Count": str(count),
        "deniedwatch/Severity": severity,
        "deniedwatch/AccountId": alert.key.account_id,
        "deniedwatch/Region": f.region,
        "deniedwatch/Principal": f.principal_name,
        "deniedwatch/PrincipalType": f.principal_type,
        "deniedwatch/PrincipalArn": f.principal_arn,
        "deniedwatch/Action": f.action or f.event_name,
        "deniedwatch/EventSource": f.service,
        "deniedwatch/ErrorCode": f.error_code,
        "deniedwatch/DenialPolicy": f.denial_policy,
        "deniedwatch/DenialPolicyArn": f.denial_policy_arn,
        "deniedwatch/SourceIp": f.source_ip,
        "deniedwatch/UserAgent": f.user_agent,
        "deniedwatch/Resource": f.resource,
        "deniedwatch/EventIds": " ".join(ids[: EVENT_IDS_SHOWN + 1]),
    }
    out = {}
    for key, value in list(pairs.items())[:FIELDS_MAX]:
        text = _text(value, FIELD_VALUE_MAX)
        if text is not None:
            out[key[:FIELD_KEY_MAX]] = text
    return out


def render(
    alert: Alert,
    *,
    product: str,
    severity: str,
    window_minutes: int,
    now: datetime,
    count: int | None = None,
    first_seen: str | None = None,
) -> dict[str, Any]:
    """The ASFF finding of one alert; ``count`` and ``first_seen``: the window's totals
    so far when this is a repeat (default: this alert's)."""
    f = alert.sample
    account = product.split(":")[4]
    label = LABELS.get(severity, "MEDIUM")
    now_iso = _iso(now)
    first = _parse_time(first_seen or alert.first_time or alert.last_time)
    last = _parse_time(alert.last_time or alert.first_time)
    title = _text(wording.headline(alert, TITLE_MAX), TITLE_MAX) or "Denied AWS API call"
    reason = wording.why(f)
    where = wording.where(f, alert.account_label)
    description = " · ".join(
        x
        for x in (
            f"{wording.who(f)} was denied {wording.what(f)}: "
            + wording.denied_calls(count or alert.total),
            reason,
            f"in {where}" if where else None,
            f.error_message,
        )
        if x
    )
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(alert, window_minutes, now),
        "ProductArn": product,
        "GeneratorId": GENERATOR_ID,
        "AwsAccountId": account,
        "Types": list(TYPES),
        "CreatedAt": _iso(first) if first else now_iso,
        "UpdatedAt": now_iso,
        "Severity": {"Label": label, "Original": severity},
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": severity},
            "Types": list(TYPES),
        },
        "Title": title,
        "Description": _text(description, DESCRIPTION_MAX) or title,
        "ProductFields": _fields(alert, count or alert.total, severity),
        "Resources": resources(alert),
        "RecordState": "ACTIVE",
    }
    if first:
        finding["FirstObservedAt"] = _iso(first)
    if last:
        finding["LastObservedAt"] = _iso(last)
    links = [x.url for x in wording.links(alert) if x.url.startswith("https://")]
    if links:
        finding["SourceUrl"] = links[0]
    if f.hint and (text := _text(f.hint, RECOMMENDATION_MAX)):
        finding["Remediation"] = {"Recommendation": {"Text": text}}
    return finding


class SecurityHubChannel:
    """Imports each alert as an ASFF finding; repeats in the window update it."""

    def __init__(self, name: str, ctx: Context, product: str | None, client: Any = None) -> None:
        self.name = name
        self.ctx = ctx
        self._product = product
        self._client = client
        self.window_minutes = ctx.window_minutes or DEFAULT_WINDOW_MINUTES
        # Id -> (first seen, count) of what this process imported: a repeat adds to it
        self._seen: dict[str, tuple[str | None, int]] = {}
        self._ids: dict[str, str] = {}  # group digest -> its latest Id (window summaries)
        self.imported: list[str] = []  # Ids imported, latest last (test-alert prints it)

    @property
    def product(self) -> str:
        if self._product is None:
            sts = self._make_client("sts")
            account = sts.get_caller_identity()["Account"]
            region = self.client.meta.region_name
            self._product = product_arn(region, account)
        return self._product

    def _make_client(self, service: str, region: str | None = None) -> Any:
        if self.ctx.client is not None:
            return self.ctx.client(service)
        import boto3  # lazily: only when a Security Hub destination is configured

        return boto3.client(service, region_name=region) if region else boto3.client(service)

    @property
    def client(self) -> Any:
        if self._client is None:
            region = self._product.split(":")[3] if self._product else None
            self._client = self._make_client("securityhub", region)
        return self._client

    def _finding(self, alert: Alert, count: int | None = None) -> dict[str, Any]:
        now = datetime.fromtimestamp(self.ctx.now(), UTC)
        ident = finding_id(alert, self.window_minutes, now)
        first, before = self._seen.get(ident, (None, 0))
        total = before + (alert.total if count is None else count)
        finding = self._render(alert, now, total, first)
        self._seen[ident] = (first or alert.first_time or alert.last_time, total)
        self._ids[alert.key.digest()] = ident
        return finding

    def _render(
        self, alert: Alert, now: datetime, count: int, first_seen: str | None
    ) -> dict[str, Any]:
        """The ASFF document of ``alert`` with this destination's product, window and
        the group's severity: one place for a first import and a window's repeat."""
        return render(
            alert,
            product=self.product,
            severity=self._level(alert),
            window_minutes=self.window_minutes,
            now=now,
            count=count,
            first_seen=first_seen,
        )

    def _level(self, alert: Alert) -> str:
        """The group's severity: its most severe member's (decoys cannot lower it)."""
        return self.ctx.severity(most_severe(alert.members, self.ctx.severity))

    def send(self, alert: Alert) -> ThreadRef | None:
        self._import([self._finding(alert)])
        return None

    def send_digest(self, digest: Digest) -> None:
        """Security Hub is a store, not a chat: each alert of a budget digest is a finding
        of its own. A window summary updates the count of the findings this process
        imported; a group it never imported (another container's) has no time to find
        its window by, and is left to the chat destinations' summary."""
        if digest.kind == "window":
            findings = [self._repeat(a) for a in digest.alerts if a.key.digest() in self._ids]
        else:
            findings = [self._finding(a) for a in digest.alerts]
        self._import([f for f in findings if f is not None])

    def _repeat(self, alert: Alert) -> dict[str, Any] | None:
        ident = self._ids[alert.key.digest()]
        first, before = self._seen[ident]
        now = datetime.fromtimestamp(self.ctx.now(), UTC)
        total = before + alert.total
        self._seen[ident] = (first, total)
        finding = self._render(alert, now, total, first)
        finding["Id"] = ident
        return finding

    def _import(self, findings: Sequence[dict[str, Any]]) -> None:
        for batch in _batches(findings):
            answer = self.client.batch_import_findings(Findings=list(batch))
            failed = answer.get("FailedFindings") or []
            if answer.get("FailedCount") or failed:
                first = failed[0] if failed else {}
                why = clean(f"{first.get('ErrorCode', '?')}: {first.get('ErrorMessage', '')}")[:300]
                raise DeliveryFailed(
                    f"Security Hub did not import {answer.get('FailedCount', len(failed))} "
                    f"of {len(batch)} findings ({why})"
                )
            self.imported.extend(f["Id"] for f in batch)


def _batches(findings: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for finding in findings:
        batch.append(finding)
        if len(batch) == BATCH_MAX:
            yield batch
            batch = []
    if batch:
        yield batch


def _build(dest: Destination, ctx: Context) -> SecurityHubChannel:
    product = dest.option("product_arn") or os.environ.get(ENV_PRODUCT_ARN)
    return SecurityHubChannel(dest.name, ctx, product)


TYPE = ChannelType(
    name="securityhub",
    build=_build,
    options=(
        Option(
            "product_arn",
            "the product findings are imported under (default: the account's own, "
            "arn:<partition>:securityhub:<region>:<account>:product/<account>/default)",
            arn_check("securityhub", "a Security Hub product ARN", r"product/.+"),
        ),
    ),
    secret=None,
)
