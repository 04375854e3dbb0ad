"""The links every rendering shows: only URLs we built, percent-encoded.

The event in CloudTrail's Event history; for a data event (or one past Event history's
90 days) the Logs Insights query that finds it in the trail's log group; the log
stream; other examples; for a digest, Event history filtered to the caller's user name.
Pure; ``alerts/wording.py`` re-exports what renderers use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut
from deniedwatch.finding import Finding
from deniedwatch.partition import console_base

if TYPE_CHECKING:
    from deniedwatch.alerts.budget import Digest

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
    """The event, the log stream and the other examples; only URLs we built.

    Event history shows management events of the last 90 days only: for a data event
    (or an older one, ``console_note`` says which) the first link is the query that
    finds it in the trail's log group, when the alert knows the group."""
    f = alert.sample
    history = Link("Open the event in CloudTrail", f.console_url or "", note=f.console_note)
    out = [history]
    group = alert.log.log_group if alert.log else None
    found = insights_url(f.region, group, f.event_id) if f.console_note else None
    if found:
        out = [Link("Find the event in the trail's log group", found), history]
    if alert.log:
        out.append(Link("Log stream", alert.log.console_url() or ""))
    others = [e for e in alert.examples if e.event_id != f.event_id]
    out += [
        Link(f"{EXAMPLE} {i}", e.console_url or "", e.event_time or e.event_id or f"event {i}")
        for i, e in enumerate(others, 1)
    ]
    safe = [replace(link, url=safe_url(link.url) or "") for link in out]
    return [link for link in safe if link.url]


# CloudTrail's Event history, filtered to one user name: the console reads the lookup
# attribute (LookupEvents' "Username") from the page's fragment.
# https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events-console.html
HISTORY_BY_USER = "/cloudtrailv2/home?region={region}#/events?Username={name}"
_NAME = re.compile(r"[\w+=,.@/ -]{1,128}")


def user_name(f: Finding) -> str | None:
    """The name Event history's 'User name' filter knows the caller by: an IAM user's
    name, an assumed role's session name; None for anything else."""
    name = f.principal_name
    if not name or f.principal_type not in ("IAMUser", "AssumedRole"):
        return None
    if f.principal_type == "AssumedRole":
        name = name.rpartition("/")[2]
    return name if _NAME.fullmatch(name) else None


def history_link(f: Finding) -> Link | None:
    """Event history of the caller's user name in the finding's region."""
    name = user_name(f)
    if not name or not f.region or not re.fullmatch(r"[a-z0-9-]{1,40}", f.region):
        return None
    url = console_base(f.region) + HISTORY_BY_USER.format(
        region=f.region, name=quote(name, safe="@")
    )
    label = f"Event history of {cut(clean(name), 60)}"
    return Link(label, url)


def digest_links(digest: Digest) -> list[Link]:
    """Event history of each caller of a digest (at most a few); URLs we built."""
    out: list[Link] = []
    seen: set[str] = set()
    for a in digest.alerts:
        link = history_link(a.sample)
        if link and link.url not in seen and len(out) < 3:
            seen.add(link.url)
            out.append(replace(link, url=safe_url(link.url) or ""))
    return [x for x in out if x.url]


# CloudWatch Logs Insights, one query over the trail's log group: the console's fragment
# encodes values as percent-encoding with '*' for '%' (and '~' separates keys).
INSIGHTS_PATH = "/cloudwatch/home?region={region}#logsV2:logs-insights$3FqueryDetail$3D{detail}"
_EVENT_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


def _insights_value(text: str) -> str:
    return quote(text, safe="").replace("%", "*").replace("~", "*7e")


def insights_url(region: str | None, log_group: str | None, event_id: str | None) -> str | None:
    """The Logs Insights query that finds one event by ``eventID`` in ``log_group``
    (the last 30 days of the group; only ids of an event id's shape)."""
    if not (region and log_group and event_id) or not _EVENT_ID.fullmatch(event_id):
        return None
    if not re.fullmatch(r"[a-z0-9-]{1,40}", region):
        return None
    query = f'fields @timestamp, @message\n| filter eventID = "{event_id}"'
    detail = (
        "~(end~0~start~-2592000~timeType~'RELATIVE~unit~'seconds"
        f"~editorString~'{_insights_value(query)}~source~(~'{_insights_value(log_group)}))"
    )
    return console_base(region) + INSIGHTS_PATH.format(region=region, detail=detail)
