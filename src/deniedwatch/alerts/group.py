"""Findings -> alerts: one alert per (account, principal, action, error code).

Pure: no clock, no I/O. A storm of ten thousand identical denials becomes one
alert with a count, the first and last time and a few example events.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import attrgetter, itemgetter
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from deniedwatch.explain import action_in, explicit_in
from deniedwatch.finding import (
    Finding,
    RecordLike,
    RecordView,
    _map,
    _str,
    action_of,
    console_url,
    principal_name,
    resource_of,
)
from deniedwatch.partition import console_base
from deniedwatch.timespec import event_time as checked_time

T = TypeVar("T")

DEFAULT_MAX_EXAMPLES = 5

# Fields whose distinct values an alert counts, so a message can say "and 3 other IPs".
VARIETY_FIELDS: tuple[str, ...] = ("region", "source_ip", "user_agent", "resource")
# Fields whose new values are news inside a dedup window (docs/alert-policy.md).
NOVELTY_FIELDS: tuple[str, ...] = ("resource", "source_ip", "principal_id")
UNITS_MAX = 64  # distinct novelty units an alert carries per field (sorted, the first ones)
NEWS_SHOWN = 10  # new values an alert names per field (all are counted)

_NEWS_WORDS = {"resource": "resource", "source_ip": "source IP", "principal_id": "principal id"}
# A principal id with a caller-chosen part: "AROA…:session" (a role's session, also as an
# AWSAccount caller from another account) or "123456789012:name" (a federated user).
_ID_WITH_NAME = re.compile(r"((?:AROA|AIDA)[A-Z0-9]+|\d{12}):.+")


def novelty_unit(name: str, value: str) -> str:
    """What counts as one thing for novelty: an S3 object counts as its bucket (a
    probe of 500 objects in one bucket is one piece of news, not 500)."""
    if name == "resource" and value.startswith("arn:") and ":s3:::" in value:
        return value.split("/", 1)[0]
    return value


# After the partition's console host (deniedwatch.partition.console_base).
LOG_STREAM_PATH = (
    "/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{group}/log-events/{stream}"
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
        return console_base(self.region) + LOG_STREAM_PATH.format(
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
        """Who the alert budget and novelty count per: the principal, with every part the
        caller picks cut off: an assumed role's session name (in an ARN, or after the role
        id ``AROA…:`` of a caller from another account, which has no ARN) and a federated
        user's name (``GetFederationToken --name``). The role id or account it cannot change.
        """
        return f"{self.account_id or ''}|{caller_of(self.principal or '')}"

    def digest(self) -> str:
        """A short stable id (the dedup store's key): record text can be any length."""
        raw = json.dumps([self.account_id, self.principal, self.action, self.error_code])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def caller_of(principal: str) -> str:
    """``GroupKey.caller``'s principal part: what the caller cannot choose of ``principal``."""
    if ":assumed-role/" in principal and principal.count("/") >= 2:
        return principal.rsplit("/", 1)[0]
    if ":federated-user/" in principal:
        return principal.split(":federated-user/", 1)[0] + ":federated-user/*"
    if m := _ID_WITH_NAME.fullmatch(principal):
        return m.group(1) + ":*"
    return principal


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
    # NOVELTY_FIELDS -> the distinct novelty units of this batch (at most UNITS_MAX each)
    units: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    news: tuple[str, ...] = ()  # novelty fields the dedup window had not seen: why it posts
    # news: NOVELTY_FIELDS -> the values the window had not seen (what the alert names first)
    fresh: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    capped: tuple[str, ...] = ()  # news fields past the window's novelty cap
    window_start: float | None = None  # when the group's dedup window opened (store's clock)
    # One raw member per distinct severity input, and per novelty value (its first member):
    # what severity, routing and the news read, so a decoy cannot pick them. Not compared.
    variants: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    by_value: Mapping[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)
    finding_of: Callable[[Any], Finding] | None = field(default=None, compare=False, repr=False)

    def with_held_back(
        self,
        held_back: int,
        news: tuple[str, ...] = (),
        fresh: Mapping[str, tuple[str, ...]] | None = None,
        capped: tuple[str, ...] = (),
        window_start: float | None = None,
    ) -> Alert:
        """The alert as the dedup window admits it: a news alert shows a member with a
        new value (the attacker cannot hide it behind decoys before and after)."""
        fresh = {k: v for k, v in (fresh or {}).items() if v and k in news}
        sample = self.sample
        for name in NOVELTY_FIELDS:
            for value in fresh.get(name, ()):
                item = self.by_value.get((name, value))
                if item is not None and self.finding_of is not None:
                    sample = self.finding_of(item)
                    break
            else:
                continue
            break
        return replace(
            self,
            held_back=held_back,
            news=news,
            fresh=fresh,
            capped=capped,
            window_start=window_start,
            sample=sample,
        )

    @cached_property
    def members(self) -> tuple[Finding, ...]:
        """The sample and one member per distinct value of what severity and routing read
        (``group_records(reads=...)``): they take the most severe of them."""
        if self.finding_of is None:
            return (self.sample,)
        return (self.sample, *map(self.finding_of, self.variants))

    def news_text(self) -> str | None:
        """Why an alert inside the dedup window goes out: what it has not seen yet (our
        words only; the values themselves are record text: ``new_values``)."""
        if not self.news:
            return None
        named = " and ".join(_NEWS_WORDS.get(n, n) for n in self.news)
        capped = " (novelty cap reached: more new values than the window remembers)"
        return f"new {named} in the dedup window: not seen since the last alert of this group" + (
            capped if self.capped else ""
        )

    def new_values(self) -> list[tuple[str, tuple[str, ...], int]]:
        """(``New resource``, the first ``NEWS_SHOWN`` new values, how many more) per news
        field: what a news alert names first. The values are record text: escape them."""
        out = []
        for n in self.news:
            values = self.fresh.get(n, ())
            if values:
                label = "New " + _NEWS_WORDS.get(n, n) + ("s" if len(values) > 1 else "")
                out.append((label, values[:NEWS_SHOWN], max(0, len(values) - NEWS_SHOWN)))
        return out

    def about(self) -> dict[str, str | None]:
        """The group in a few short strings: what a window summary shows of it later."""
        f = self.sample
        return {
            "account_id": self.key.account_id,
            "principal": self.key.principal,
            "action": self.key.action,
            "error_code": self.key.error_code,
            "who": f.principal_name,
            "principal_type": f.principal_type,
            "resource": f.resource[:300] if f.resource else None,
            "service": f.service,
            "label": self.account_label,
            "region": f.region,
            # the threaded parent's story and the window summary's time range
            "first_time": self.first_time,
            "last_time": self.last_time,
            "first_url": self.examples[0].console_url if self.examples else f.console_url,
        }

    @property
    def total(self) -> int:
        """Every denial this alert speaks for: this batch's plus the held-back ones."""
        return self.count + self.held_back


# What grouping reads of each denial, in this order: (event_time or "", event_id or "",
# region, source_ip, user_agent, resource, principal_id, event_name, denial_explicit,
# principal_type, caller_account_id, service). Times and ids order the group; the rest
# count variety and novelty, and tell severity members apart (MEMBER_READS).
Fields = tuple[Any, ...]
_NAMES = "region source_ip user_agent resource principal_id event_name denial_explicit"
_FIELD_INDEX = {
    n: i for i, n in enumerate(f"{_NAMES} principal_type caller_account_id service".split(), 2)
}
_DISTINCT = tuple(_FIELD_INDEX)[:5]  # Fields[2:7]: variety and novelty
_KEY_FIELDS = frozenset({"account_id", "action", "error_code"})  # the group key fixes them
# Every other Finding field severity (with any [[severity.rule]]) or a route can read
# (severity.fields_read, routing.ROUTE_READS): members kept when the reader is not known.
MEMBER_READS = frozenset(_FIELD_INDEX) - {"region", "resource", "principal_id"}
MEMBER_READS |= {"principal_arn", "principal_name"}


_finding_fields = attrgetter(*_FIELD_INDEX)  # a Finding's Fields[2:], by name


def _finding_entry(f: Finding) -> tuple[GroupKey, Fields]:
    return GroupKey.of(f), (f.event_time or "", f.event_id or "", *_finding_fields(f))


def _record_entry(r: RecordLike) -> tuple[tuple[str | None, ...], Fields]:
    """(record_key(r), its Fields) in one pass over the raw record: the live path's
    hot loop, so the reads are inline (the same rules as Finding: a value that is not
    a non-empty string is None; tests check both paths give equal alerts)."""
    ui = r.get("userIdentity")
    if type(ui) is not dict:
        ui = _map(ui)
    get, uget = r.get, ui.get
    arn, pid = uget("arn"), uget("principalId")
    arn = arn if type(arn) is str and arn else None
    pid = pid if type(pid) is str and pid else None
    account = get("recipientAccountId")
    if not (type(account) is str and account):
        account = _str(uget("accountId"))
    source, name, code = get("eventSource"), get("eventName"), get("errorCode")
    message = get("errorMessage")
    message = message if type(message) is str and message else None
    key = (
        account,
        arn or pid or principal_name(ui),
        # the message's IAM action first, as Finding.action (explain.action_in)
        action_in(message)
        or action_of(
            source if type(source) is str and source else None,
            name if type(name) is str and name else None,
        ),
        code if type(code) is str and code else None,
    )
    t, i, region = get("eventTime"), get("eventID"), get("awsRegion")
    ip, agent, kind = get("sourceIPAddress"), get("userAgent"), uget("type")
    fields_ = (
        checked_time(t) or "",  # as Finding.event_time: only CloudTrail's time format
        i if type(i) is str else "",
        region if type(region) is str and region else None,
        ip if type(ip) is str and ip else None,
        agent if type(agent) is str and agent else None,
        resource_of(r),
        pid,
        name if type(name) is str and name else None,
        explicit_in(message),
        kind if type(kind) is str and kind else None,
        _str(uget("accountId")),
        source if type(source) is str and source else None,
    )
    return key, fields_


def record_key(r: RecordLike) -> tuple[str | None, ...]:
    """GroupKey.of(Finding.from_record(r)), as a tuple, straight from the record."""
    return _record_entry(r)[0]


def group_findings(
    findings: Iterable[Finding],
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    label: Callable[[str | None], str | None] = lambda _: None,
    log: LogLocation | None = None,
    reads: Collection[str] | None = None,
) -> list[Alert]:
    """Group findings into alerts, earliest group first. ``reads``: the Finding fields
    severity and routing read (``Pipeline.reads``); one member is kept per distinct value
    of them (None: of every field they could read, ``MEMBER_READS``)."""
    entry = _Entry(_finding_entry, lambda f: f, lambda f: f)
    return _group(findings, entry, max_examples, label, log, reads)


def group_records(
    records: Iterable[RecordLike],
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    label: Callable[[str | None], str | None] = lambda _: None,
    log: LogLocation | None = None,
    reads: Collection[str] | None = None,
) -> list[Alert]:
    """``group_findings`` of the records' Findings, building a Finding only for what an
    alert shows (its sample, examples and severity members): the live path's hot loop."""
    entry = _Entry(_record_entry, Finding.from_record, RecordView)
    return _group(records, entry, max_examples, label, log, reads)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    """How ``_group`` reads its items: (key, Fields), the Finding, a view of other fields."""

    fields: Callable[[T], tuple[Hashable, Fields]]
    finding: Callable[[T], Finding]
    view: Callable[[T], Any]  # principal_arn / principal_name without a whole Finding


def _member_key(entry: _Entry[T], reads: Collection[str] | None) -> Callable[[Fields, T], Any]:
    """The key of a severity member: the values of what severity and routing read, so
    members with the same key get the same level and destinations. Any member of a key
    stands for all of it: ``most_severe`` picks the earliest at the highest level."""
    wanted = MEMBER_READS if reads is None else frozenset(reads) - _KEY_FIELDS
    at = sorted(_FIELD_INDEX[n] for n in wanted if n in _FIELD_INDEX)
    pick = itemgetter(*at) if at else lambda _: ()
    other = tuple(sorted(n for n in wanted if n not in _FIELD_INDEX))
    if not other:
        return lambda fields_, item: pick(fields_)
    viewed = all(hasattr(RecordView, n) for n in other)
    read = entry.view if viewed else entry.finding
    return lambda fields_, item: (pick(fields_), attrgetter(*other)(read(item)))


def _group(
    items: Iterable[T],
    entry: _Entry[T],
    max_examples: int,
    label: Callable[[str | None], str | None],
    log: LogLocation | None,
    reads: Collection[str] | None,
) -> list[Alert]:
    finding_of, member_of = entry.finding, _member_key(entry, reads)
    groups: dict[Hashable, list[tuple[Fields, T]]] = {}
    for item in items:
        key, fields_ = entry.fields(item)
        groups.setdefault(key, []).append((fields_, item))
    alerts = []
    for raw_key, members in groups.items():
        key = raw_key if isinstance(raw_key, GroupKey) else GroupKey(*raw_key)  # type: ignore[misc]
        members.sort(key=_by_time)
        times = [m[0][0] for m in members if m[0][0]]
        examples: list[Finding] = []
        seen: set[str | None] = set()
        for fields_, item in members:
            if len(examples) >= max_examples:
                break
            if fields_[1] not in seen and console_url(fields_[2], fields_[1] or None):
                seen.add(fields_[1])
                examples.append(finding_of(item))
        distinct = {
            name: {m[0][i] for m in members} - {None} for i, name in enumerate(_DISTINCT, 2)
        }
        by_value: dict[tuple[str, str], T] = {}
        for name in NOVELTY_FIELDS:
            at = _FIELD_INDEX[name]
            firsts: dict[str, T] = {}
            for fields_, item in members:
                if (value := fields_[at]) is not None and value not in firsts:
                    firsts[value] = item
            for value, item in firsts.items():
                by_value.setdefault((name, novelty_unit(name, value)), item)
        units = {
            name: tuple(sorted(u for n, u in by_value if n == name))[:UNITS_MAX]
            for name in NOVELTY_FIELDS
        }
        variants: dict[Any, T] = {}
        last = member_of(*members[-1])  # the sample's: it is a member already
        for fields_, item in members:
            if (v := member_of(fields_, item)) != last:
                variants.setdefault(v, item)
        alerts.append(
            Alert(
                key=key,
                count=len(members),
                first_time=min(times) if times else None,
                last_time=max(times) if times else None,
                sample=finding_of(members[-1][1]),
                examples=tuple(examples),
                variety={name: len(distinct[name]) for name in VARIETY_FIELDS},
                units=units,
                account_label=label(key.account_id),
                log=log,
                variants=tuple(variants.values()),
                by_value=by_value,
                finding_of=finding_of,
            )
        )
    alerts.sort(key=lambda a: (a.first_time or "", a.key.digest()))
    return alerts


def _by_time(member: tuple[Fields, object]) -> tuple[str, str]:
    return member[0][0], member[0][1]
