"""The words every rendering shares: who / what / why / where / when, titles, counts, links.

Slack, Teams, the email, PagerDuty and the scan table all say the same things
about a denial; this is the one place that decides how. Pure and unescaped:
each renderer makes the text safe for its own medium (``alerts/text.py`` for
Slack mrkdwn and plain text, the Teams and PagerDuty channels for theirs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.links import Link, digest_links, links, safe_url  # alerts/links.py
from deniedwatch.alerts.text import clean, cut, cut_middle, width
from deniedwatch.explain import POLICY_WORDS as POLICY_WORDS  # the one copy: hints use it too
from deniedwatch.finding import Finding

if TYPE_CHECKING:
    from deniedwatch.alerts.budget import Digest

__all__ = ["Link", "digest_links", "links", "safe_url"]  # re-exported for the renderers

SECTIONS = ("WHO", "WHAT", "WHY", "WHERE", "WHEN (UTC)")


def who(f: Finding) -> str:
    return f.principal_name or f.principal_arn or "an unknown principal"


def what(f: Finding) -> str:
    return f.action or f.event_name or "an AWS API call"


def why(f: Finding) -> str | None:
    """'explicit deny in service control policy (SCP)', 'no allow in …', or None if unsaid."""
    if f.denial_policy is None:
        if f.denial_explicit:
            return "explicit deny (the message does not say in which policy)"
        return None
    kind = {True: "explicit deny in", False: "no allow in", None: "denied by"}[f.denial_explicit]
    return f"{kind} {POLICY_WORDS.get(f.denial_policy, f.denial_policy)}"


def account(account_id: str | None, label: str | None) -> str | None:
    if account_id and label:
        return f"{account_id} ({label})"
    return account_id


def where(f: Finding, label: str | None) -> str | None:
    return " / ".join(x for x in (account(f.account_id, label), f.region) if x) or None


def when(alert: Alert) -> str:
    if alert.first_time and alert.last_time and alert.first_time != alert.last_time:
        return f"{alert.first_time} → {alert.last_time}"
    return alert.last_time or alert.first_time or ""


# --- The first line ------------------------------------------------------------------
# What a phone shows of an alert at 3 a.m. is its first line, often cut: account and
# region first, then who, the action, the resource's short name and why. Every
# destination's text / header / title / subject / summary is ``headline`` of one alert
# (or ``digest_headline`` of a digest), cut by ``fit`` so that what identifies the
# incident (account, person, action) is the last to go.

# Short names of the policy types for the first line (POLICY_WORDS has the long ones).
POLICY_SHORT = {
    "service-control-policy": "SCP",
    "resource-control-policy": "RCP",
    "identity-based-policy": "identity policy",
    "resource-based-policy": "resource policy",
    "permissions-boundary": "permissions boundary",
    "session-policy": "session policy",
    "vpc-endpoint-policy": "VPC endpoint policy",
}
# IAM Identity Center roles: AWSReservedSSO_<permission set>_<16 hex digits>.
_SSO_ROLE = re.compile(r"AWSReservedSSO_(?P<set>.+?)_[0-9a-f]{16}$")
SHORT_RESOURCE_MAX = 48  # the resource's short name in a first line, cut in the middle


def place(account_id: str | None, label: str | None, region: str | None = None) -> str:
    """'prod 111122223333 eu-west-1': the account's name and id, then the region."""
    return " ".join(x for x in (label, account_id or "unknown account", region) if x)


def person(f: Finding, *, with_role: bool = True) -> str:
    """Who, as a responder knows them: the person before the role for Identity Center
    ('alice@example.com (AdministratorAccess)'), else the principal's name."""
    name = who(f)
    role, sep, session = name.partition("/")
    m = _SSO_ROLE.match(role) if sep and session else None
    if not m:
        return name
    return f"{session} ({m.group('set')})" if with_role else session


def short_resource(resource: str | None) -> str | None:
    """The resource's short name: an ARN without its prefix and type ('prod-exports',
    'bucket/…/part-0049.csv'), cut in the middle so its end stays."""
    if not resource:
        return None
    text = resource
    if text.startswith("arn:") and text.count(":") >= 5:
        service, rest = text.split(":")[2], text.split(":", 5)[5]
        if service == "s3":
            text = rest
        else:
            _kind, sep, name = rest.partition("/")
            if not sep:
                _kind, sep, name = rest.partition(":")
            text = name if sep and name else rest
    return cut_middle(text, SHORT_RESOURCE_MAX)


def reason(f: Finding) -> str:
    """'explicit deny in SCP', 'no allow in identity policy', else the error code."""
    if f.denial_policy is not None:
        kind = {True: "explicit deny in", False: "no allow in", None: "denied by"}[
            f.denial_explicit
        ]
        return f"{kind} {POLICY_SHORT.get(f.denial_policy, f.denial_policy)}"
    return f.error_code or "denied"


@dataclass(frozen=True, slots=True)
class Line:
    """A first line in parts, most identifying first; ``fit`` drops from the end."""

    where: str  # the account: name and id
    who: str
    action: str
    resource: str | None = None
    why: str | None = None
    tail: str | None = None  # ours: a count, a time range
    region: str | None = None
    who_short: str | None = None  # the person alone (an Identity Center role's session)

    def text(self) -> str:
        on = f" on {self.resource}" if self.resource else ""
        where_ = f"{self.where} {self.region}" if self.region else self.where
        parts = [where_, f"{self.who} denied {self.action}{on}", self.why, self.tail]
        return " · ".join(clean(p) for p in parts if p)


def line(alert: Alert, tail: str | None = None) -> Line:
    f = alert.sample
    return Line(
        place(f.account_id, alert.account_label),
        person(f),
        what(f),
        short_resource(f.resource),
        reason(f),
        tail,
        region=f.region,
        who_short=person(f, with_role=False),
    )


def fit(parts: Line, limit: int) -> str:
    """``parts`` as one line of at most ``limit`` characters: the tail goes first, then
    the resource shrinks in the middle (its end stays), then the reason goes, then the
    resource; the account, the person and the action stay whole unless nothing else is
    left, and then they are cut in the middle."""
    line_ = parts
    for step in ("whole", "tail", "why", "resource", "region", "role"):
        if step == "tail":
            line_ = replace(line_, tail=None)
        elif step == "why":
            line_ = replace(line_, why=None, resource=parts.resource)
        elif step == "resource":
            line_ = replace(line_, resource=None)
        elif step == "region":
            line_ = replace(line_, region=None)
        elif step == "role":
            line_ = replace(line_, who=parts.who_short or parts.who)
        text = line_.text()
        if width(text) <= limit:
            return text
        if line_.resource:  # the room left for the resource, if it can show enough
            room = limit - (width(text) - width(clean(line_.resource)))
            if room >= RESOURCE_MIN:
                return replace(line_, resource=cut_middle(clean(line_.resource), room)).text()
    each = max(8, (limit - width(parts.where) - 12) // 2)
    last = replace(
        line_, who=cut_middle(clean(line_.who), each), action=cut_middle(parts.action, each)
    )
    return cut(last.text(), limit)


RESOURCE_MIN = 14  # fewer characters of a resource than this tell nobody anything


def within(make: Callable[[int], str], limit: int) -> str:
    """``make(n)`` for the largest ``n`` whose result is at most ``limit`` characters:
    for a medium's escaping (``&amp;``) or defanging (``[.]``), which grows the text
    after it was fitted."""
    n = limit
    text = make(n)
    while width(text) > limit and n > 8:
        n -= max(1, width(text) - limit)
        text = make(n)
    return text if width(text) <= limit else cut(text, limit)


def headline(alert: Alert, limit: int = 10_000, tail: str | None = None) -> str:
    """'prod 111122223333 eu-west-1 · deploy-pipeline/build-4711 denied s3:GetObject on
    prod-customer-exports · explicit deny in SCP', cut to ``limit`` by ``fit``."""
    return fit(line(alert, tail), limit)


def count_tail(count: int) -> str | None:
    """What a first line adds for a group: '45 denied calls' (nothing for one)."""
    return denied_calls(count) if count > 1 else None


def denied_calls(count: int) -> str:
    return "1 denied call" if count == 1 else f"{count} denied calls"


def more_calls(count: int) -> str:
    """'1 more denied call', '4 more denied calls'."""
    return f"{count} more denied call{'' if count == 1 else 's'}"


def span_seconds(first: str | None, last: str | None) -> str | None:
    """'09:05:31 → 10:02:11 UTC' (the day too when it changes): a group's whole story."""

    def hms(t: str | None) -> str | None:
        return t[11:19] if t and len(t) >= 19 and t[10] == "T" else None

    a, b = hms(first), hms(last)
    if not (a or b):
        return None
    if a and b and first and last and first[:10] != last[:10]:
        return f"{first[:10]} {a} → {last[:10]} {b} UTC"
    return f"{a} → {b} UTC" if a and b and a != b else f"{a or b} UTC"


@dataclass(frozen=True, slots=True)
class Story:
    """A group since its first alert, for the threaded parent (the dedup store keeps it):
    every denial so far, when the first was, and the first event's link."""

    total: int
    first_time: str | None = None
    last_time: str | None = None
    first_url: str | None = None

    @property
    def first_link(self) -> Link | None:
        url = safe_url(self.first_url)
        return Link("Open the first event in CloudTrail", url) if url else None


def held_back(alert: Alert, window_minutes: int | None) -> str | None:
    """'Plus 4 similar denials held back since the last alert (dedup window 60 min).'"""
    if not alert.held_back:
        return None
    window = f" (dedup window {window_minutes} min)" if window_minutes else ""
    return f"Plus {alert.held_back} similar denials held back since the last alert{window}."


def others(alert: Alert, name: str, noun: str) -> str | None:
    """'and 3 other source IPs' when the group saw more than the one shown."""
    n = alert.variety.get(name, 0) - 1
    return f"and {n} other {noun}{'s' if n > 1 else ''}" if n > 0 else None


# The explanation's optional rows (shown only when set): see docs/explain.md.
EXPLANATION_LABELS = ("Denying policy", "VPC endpoint", "Next step")


def explanation(f: Finding) -> list[tuple[str, str | None]]:
    """(label, value) of the denying policy's ARN, the VPC endpoint and the next step."""
    return list(
        zip(EXPLANATION_LABELS, (f.denial_policy_arn, f.vpc_endpoint_id, f.hint), strict=True)
    )


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled fact of an alert; ``value`` is record text (escape it), ``extra`` ours."""

    section: str
    label: str
    value: str | None
    extra: str | None = None


def rows(alert: Alert) -> list[Row]:
    """Every fact of the alert, in reading order, grouped by section."""
    f = alert.sample
    return [
        Row("WHO", "Who", f.principal_name),
        Row("WHO", "Principal type", f.principal_type),
        Row("WHO", "Principal ARN", f.principal_arn),
        Row("WHAT", "What", f.action or f.event_name),
        Row("WHAT", "Error code", f.error_code),
        Row("WHAT", "Error message", f.error_message),
        Row("WHY", "Why", why(f)),
        *(Row("WHY", label, value) for label, value in explanation(f) if value),
        Row("WHY", "Resource", f.resource, others(alert, "resource", "resource")),
        Row(
            "WHERE",
            "Where (account / region)",
            where(f, alert.account_label),
            others(alert, "region", "region"),
        ),
        Row("WHERE", "Source IP", f.source_ip, others(alert, "source_ip", "source IP")),
        Row("WHERE", "User agent", f.user_agent, others(alert, "user_agent", "user agent")),
        Row("WHEN (UTC)", "When", when(alert) or None),
    ]


def digest_why(kind: str) -> str:
    """Why a digest counts these alerts instead of posting each (``Digest.kind``)."""
    if kind == "budget":
        return (
            "The most important alerts of this batch went out on their own; these are counted here"
        )
    return (
        "Repeats after the last alert of each group: no alert went out for them "
        "in the hour (the dedup window) that followed it"
    )


def hhmm(time: str | None) -> str | None:
    """'2026-11-20T09:05:31Z' -> '09:05' (None when it is not an ISO time)."""
    if not time or len(time) < 16 or time[10] != "T" or time[13] != ":":
        return None
    return time[11:16]


def span(first: str | None, last: str | None) -> str | None:
    """'09:05–10:05 UTC' (or '09:05 UTC'): the minutes a digest covers."""
    a, b = hhmm(first), hhmm(last)
    if not (a or b):
        return None
    return f"{a}–{b} UTC" if a and b and a != b else f"{a or b} UTC"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class DigestLine:
    """A digest's first line in parts (see ``digest_line``)."""

    where: str
    region: str | None
    who: str
    who_short: str
    what: str  # '45 more s3:GetObject denials'
    when: str | None  # '09:05–10:05 UTC'
    after: bool  # a window summary: 'after the last alert'

    def text(self, *, region: bool = True, short: bool = False, when: bool = True) -> str:
        where_ = f"{self.where} {self.region}" if region and self.region else self.where
        who_ = clean(self.who_short if short else self.who)
        tail = " ".join(x for x in (self.what, self.when if when else None, self.after_text) if x)
        return f"{where_} · {who_}: {tail}"

    @property
    def after_text(self) -> str | None:
        return "after the last alert" if self.after else None


def digest_line(digest: Digest) -> DigestLine:
    """A digest's first line: 'prod 111122223333 eu-west-1 · mallory: 45 more s3:GetObject
    denials 09:05–10:05 UTC after the last alert' (window) or '…: 287 more denials of
    143 actions in 12 services 09:05–09:06 UTC' (budget)."""
    alerts = digest.alerts
    first = min((a.first_time for a in alerts if a.first_time), default=None)
    last = max((a.last_time for a in alerts if a.last_time), default=None)
    regions = {a.sample.region for a in alerts}
    label = alerts[0].account_label if digest.account_id else None
    where_ = place(digest.account_id, label) if digest.account_id else "several accounts"
    people = {person(a.sample) for a in alerts}
    short = {person(a.sample, with_role=False) for a in alerts}
    who_ = people.pop() if len(people) == 1 else digest.who
    who_short = short.pop() if len(short) == 1 else who_
    more = "1 more" if digest.count == 1 else f"{digest.count} more"
    if digest.actions == 1:
        action = alerts[0].key.action or "AWS API call"
        what_ = f"{more} {action} denial{'' if digest.count == 1 else 's'}"
    else:
        what_ = (
            f"{more} denials of {_plural(digest.actions, 'action')} "
            f"in {_plural(digest.services, 'service')}"
        )
    region = regions.pop() if len(regions) == 1 else None
    return DigestLine(
        where_, region, who_, who_short, what_, span(first, last), digest.kind == "window"
    )


def digest_headline(digest: Digest, limit: int = 10_000) -> str:
    """``digest_line`` as text within ``limit``: the region, the permission set and the
    time range go before the account, the person and the count are cut."""
    parts = digest_line(digest)
    variants = [
        parts.text(),
        parts.text(region=False),
        parts.text(region=False, short=True),
        parts.text(region=False, short=True, when=False),
    ]
    for text in variants:
        if width(text) <= limit:
            return text
    return cut(variants[-1], limit)


# The scan table's compact forms.


def who_short(f: Finding) -> str:
    return f"{f.principal_name or '?'} ({f.principal_type or '?'})"


def why_short(f: Finding) -> str:
    return why(f) or "not stated"
