"""The words every rendering shares: who / what / why / where / when, titles, counts, links.

Slack, Teams, the email, PagerDuty and the scan table all say the same things
about a denial; this is the one place that decides how. Pure and unescaped:
each renderer makes the text safe for its own medium (``alerts/text.py`` for
Slack mrkdwn and plain text, the Teams and PagerDuty channels for theirs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import quote

from deniedwatch.alerts.group import Alert
from deniedwatch.explain import POLICY_WORDS as POLICY_WORDS  # the one copy: hints use it too
from deniedwatch.finding import Finding

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


def title(alert: Alert) -> str:
    """The one-line headline: 'AccessDenied: s3:GetObject by mallory'."""
    f = alert.sample
    return f"{f.error_code or 'Denied'}: {what(f)} by {who(f)}"


def times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def denied_calls(count: int) -> str:
    return "1 denied call" if count == 1 else f"{count} denied calls"


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


EXAMPLE = "Example"
URL_MAX = 2048  # a longer link (a forged event id or log stream name) is left out
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def safe_url(url: str | None) -> str | None:
    """A URL we built, percent-encoded (record parts in it are raw), or None if unusable."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    encoded = quote(url, safe=_URL_SAFE)
    return encoded if len(encoded) <= URL_MAX else None


@dataclass(frozen=True, slots=True)
class Link:
    """A URL we built, its label, and (for an example event) the record's time or id."""

    label: str
    url: str
    example: str | None = None  # record text: escape it
    note: str | None = None  # ours: why the page may not show the event (data events, age)


def links(alert: Alert) -> list[Link]:
    """The event, the log stream and the other examples; only URLs we built."""
    f = alert.sample
    out = [Link("Open the event in CloudTrail", f.console_url or "", note=f.console_note)]
    if alert.log:
        out.append(Link("Log stream", alert.log.console_url() or ""))
    others = [e for e in alert.examples if e.event_id != f.event_id]
    out += [
        Link(f"{EXAMPLE} {i}", e.console_url or "", e.event_time or e.event_id or f"event {i}")
        for i, e in enumerate(others, 1)
    ]
    safe = [replace(link, url=safe_url(link.url) or "") for link in out]
    return [link for link in safe if link.url]


def digest_why(kind: str) -> str:
    """Why a digest counts these alerts instead of posting each (``Digest.kind``)."""
    if kind == "budget":
        return (
            "The most important alerts of this batch went out on their own; these are counted here"
        )
    return "Held back by the dedup window, which closed without another alert for them"


# The scan table's compact forms.


def who_short(f: Finding) -> str:
    return f"{f.principal_name or '?'} ({f.principal_type or '?'})"


def why_short(f: Finding) -> str:
    return why(f) or "not stated"
