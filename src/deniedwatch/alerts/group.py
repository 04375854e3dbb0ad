"""Findings -> alerts: one alert per (account, principal, action, error code).

Pure: no clock, no I/O. A storm of ten thousand identical denials becomes one
alert with a count, the first and last time and a few example events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from deniedwatch.finding import Finding

DEFAULT_MAX_EXAMPLES = 5

# Fields whose distinct values an alert counts, so a message can say "and 3 other IPs".
VARIETY_FIELDS: tuple[str, ...] = ("region", "source_ip", "user_agent", "resource")

LOG_STREAM_URL = (
    "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
    "#logsV2:log-groups/log-group/{group}/log-events/{stream}"
)


def _console_part(name: str) -> str:
    """The CloudWatch console's fragment encoding: percent-encode twice, then % -> $."""
    return quote(quote(name, safe=""), safe="").replace("%", "$")


@dataclass(frozen=True, slots=True)
class LogLocation:
    """Where a batch came from (live path only): the CloudWatch Logs group and stream."""

    region: str | None
    log_group: str | None
    log_stream: str | None

    def console_url(self) -> str | None:
        if not (self.region and self.log_group and self.log_stream):
            return None
        if not self.region.replace("-", "").isalnum():
            return None
        return LOG_STREAM_URL.format(
            region=self.region,
            group=_console_part(self.log_group),
            stream=_console_part(self.log_stream),
        )


@dataclass(frozen=True, slots=True)
class GroupKey:
    account_id: str | None
    principal: str | None  # principal ARN, else its principalId, else its readable name
    action: str | None
    error_code: str | None

    @classmethod
    def of(cls, f: Finding) -> GroupKey:
        # principalId before the name: AWSAccount callers without an ARN are named
        # "account N", which would put every caller of that account in one group.
        principal = f.principal_arn or f.principal_id or f.principal_name
        return cls(f.account_id, principal, f.action, f.error_code)

    @property
    def caller(self) -> str:
        """Who the alert budget counts per: the principal, with an assumed role's session
        name cut off (the caller picks session names; the role it cannot change)."""
        principal = self.principal or ""
        if ":assumed-role/" in principal and principal.count("/") >= 2:
            principal = principal.rsplit("/", 1)[0]
        return f"{self.account_id or ''}|{principal}"

    def digest(self) -> str:
        """A short stable id (the dedup store's key): record text can be any length."""
        raw = json.dumps([self.account_id, self.principal, self.action, self.error_code])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Alert:
    """One group of denials of one batch (or one scan), ready to render."""

    key: GroupKey
    count: int
    first_time: str | None
    last_time: str | None
    sample: Finding  # the latest denial: its details are the ones shown
    examples: tuple[Finding, ...]  # the earliest few, each with its own console link
    variety: Mapping[str, int] = field(default_factory=dict)  # VARIETY_FIELDS -> distinct
    account_label: str | None = None
    log: LogLocation | None = None
    held_back: int = 0  # similar denials the dedup window kept quiet since the last alert

    def with_held_back(self, held_back: int) -> Alert:
        return replace(self, held_back=held_back)

    @property
    def total(self) -> int:
        """Every denial this alert speaks for: this batch's plus the held-back ones."""
        return self.count + self.held_back


def _order(f: Finding) -> tuple[str, str]:
    return (f.event_time or "", f.event_id or "")


def group_findings(
    findings: Iterable[Finding],
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    label: Callable[[str | None], str | None] = lambda _: None,
    log: LogLocation | None = None,
) -> list[Alert]:
    """Group findings into alerts, earliest group first."""
    groups: dict[GroupKey, list[Finding]] = {}
    for f in findings:
        groups.setdefault(GroupKey.of(f), []).append(f)
    alerts = []
    for key, members in groups.items():
        members.sort(key=_order)
        times = [f.event_time for f in members if f.event_time]
        examples: list[Finding] = []
        seen: set[str | None] = set()
        for f in members:
            if len(examples) >= max_examples:
                break
            if f.console_url and f.event_id not in seen:
                seen.add(f.event_id)
                examples.append(f)
        variety = {
            name: len({getattr(f, name) for f in members} - {None}) for name in VARIETY_FIELDS
        }
        alerts.append(
            Alert(
                key=key,
                count=len(members),
                first_time=min(times) if times else None,
                last_time=max(times) if times else None,
                sample=members[-1],
                examples=tuple(examples),
                variety=variety,
                account_label=label(key.account_id),
                log=log,
            )
        )
    alerts.sort(key=lambda a: (a.first_time or "", a.key.digest()))
    return alerts
