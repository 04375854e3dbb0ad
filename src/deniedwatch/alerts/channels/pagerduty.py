"""Destination type ``pagerduty``: an Events API v2 ``trigger`` per alert group.

``dedup_key`` is the group's digest with its dedup window (when the window opened) and
the severity: repeats of a group within one window add to one open incident instead of
paging again, but a new window, a higher severity or news (a new resource, source IP or
principal id: it names the new values) is an incident of its own, so it pages even when
the group's earlier incident is acknowledged; ``severity`` maps deniedwatch's levels
(high -> critical, medium -> error, low -> warning). Only routes that name a
``pagerduty`` destination reach it (it is never a default destination).
Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
(202 accepted; 400 invalid; 429 throttled; 5xx retried). A trigger with an open
alert's ``dedup_key`` is appended to that alert ("subsequent events for the same
dedup_key will result in those events being applied to an open alert"), so the first
trigger's summary is what people keep seeing. On 429 PagerDuty suggests "retrying 3
times with each request being 30 seconds apart"
(https://developer.pagerduty.com/docs/events-api-v2/rate-limits/): we wait 30 s while
the invocation has the time, else the event fails and AWS retries it later.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
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
    https_url,
)
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.retry import Unreachable, post_json
from deniedwatch.alerts.text import answer_excerpt, clean, cut, cut_value
from deniedwatch.secrets import SecretError, redact
from deniedwatch.severity import most_severe

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_MAX = 1024  # Events API v2 limit
DETAIL_MAX = 1000
THROTTLED_WAIT = 30.0  # seconds between tries after a 429 (PagerDuty's advice)
PD_SEVERITY = {"high": "critical", "medium": "error", "low": "warning"}


def window_of(alert: Alert, window_seconds: float) -> int:
    """When the alert's dedup window opened: the store's, else (no store) the window-sized
    slot of its first event time (stable across AWS's retries of the batch)."""
    if alert.window_start is not None:
        return int(alert.window_start)
    try:
        first = datetime.fromisoformat(alert.first_time or "").timestamp()
    except ValueError:
        return 0
    size = max(int(window_seconds), 1)
    return int(first) // size * size


def dedup_key(alert: Alert, *, severity: str, window_seconds: float = 3600) -> str:
    """One incident per group, dedup window and severity; news gets its own."""
    parts: list[Any] = [alert.key.digest(), window_of(alert, window_seconds), severity]
    if alert.news:
        parts.append(sorted((k, sorted(v)) for k, v in alert.fresh.items()) or list(alert.news))
    raw = json.dumps(parts, ensure_ascii=True)
    return "deniedwatch-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def render(
    alert: Alert, *, routing_key: str, severity: str, window_seconds: float = 3600
) -> dict[str, Any]:
    """The Events API v2 trigger for one alert; record text cleaned and cut."""
    f = alert.sample
    account = wording.account(f.account_id, alert.account_label)
    # No count in the summary: repeats with this dedup_key append to the open alert and
    # never change its summary, so a count there would stay "once" forever. Counts go
    # in custom_details (each trigger's own log entry shows them).
    summary = wording.headline(alert, SUMMARY_MAX)
    details: dict[str, Any] = {
        label: cut(clean(", ".join(values) + (f" and {more} more" if more else "")), DETAIL_MAX)
        for label, values, more in alert.new_values()
    }
    details.update(
        {
            row.label: cut_value(clean(row.value), DETAIL_MAX)
            for row in wording.rows(alert)
            if row.value
        }
    )
    details["Count"] = alert.count
    if alert.held_back:
        details["Held back since the last alert"] = alert.held_back
    details["Severity"] = severity
    for x in wording.links(alert):
        if x.note:  # why the console page may not show the event
            details[f"{x.label}: note"] = x.note
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert, severity=severity, window_seconds=window_seconds),
        "client": "deniedwatch",
        "payload": {
            "summary": summary,
            "source": cut(clean(" / ".join(x for x in (account, f.region) if x) or "aws"), 255),
            "severity": PD_SEVERITY.get(severity, "error"),
            "component": cut(clean(f.service or "aws"), 255),
            "group": cut(clean(f.account_id or "unknown"), 255),
            "class": cut(clean(f.error_code or "Denied"), 255),
            "custom_details": details,
        },
        "links": [
            {"href": x.url, "text": x.label}
            for x in wording.links(alert)
            if x.url.startswith("https://")
        ],
    }
    if f.event_time:
        event["payload"]["timestamp"] = cut(clean(f.event_time), 64)
    return event


def render_digest(
    digest: Digest, *, routing_key: str, severity: str, window: int = 0
) -> dict[str, Any]:
    """One trigger for a digest (alerts over the budget): one incident per caller,
    severity and dedup window slot (``window``)."""
    raw = json.dumps([digest.caller, digest.account_id, digest.kind, severity, window])
    key = "deniedwatch-digest-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]
    details: dict[str, Any] = {cut(clean(action), 200): count for action, count in digest.top()}
    details["Denied calls"] = digest.count
    details["Why a digest"] = wording.digest_why(digest.kind)
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "client": "deniedwatch",
        "payload": {
            "summary": wording.digest_headline(digest, SUMMARY_MAX),
            "source": cut(clean(digest.account), 255),
            "severity": PD_SEVERITY.get(severity, "error"),
            "group": cut(clean(digest.account_id or "several accounts"), 255),
            "class": "digest",
            "custom_details": details,
        },
    }


class PagerDutyChannel:
    def __init__(self, name: str, events_url: str, ctx: Context) -> None:
        self.name = name
        self.events_url = events_url
        self.ctx = ctx

    def _key(self) -> str:
        try:
            return self.ctx.secret()
        except SecretError as exc:
            raise DeliveryFailed(redact(f"no PagerDuty routing key: {exc}")) from None

    @property
    def _window_seconds(self) -> float:
        return max(self.ctx.window_minutes or 60, 1) * 60.0

    def send(self, alert: Alert) -> ThreadRef | None:
        level = self.ctx.severity(most_severe(alert.members, self.ctx.severity))
        self._post(
            render(
                alert,
                routing_key=self._key(),
                severity=level,
                window_seconds=self._window_seconds,
            )
        )
        return None

    def send_digest(self, digest: Digest) -> None:
        level_of = self.ctx.severity
        levels = {level_of(most_severe(a.members, level_of)) for a in digest.alerts}
        worst = next((level for level in ("high", "medium", "low") if level in levels), "medium")
        size = int(self._window_seconds)
        window = int(self.ctx.now()) // size * size
        self._post(render_digest(digest, routing_key=self._key(), severity=worst, window=window))

    def _post(self, event: dict[str, Any]) -> None:
        try:
            answer = post_json(
                self.events_url,
                event,
                timeout=self.ctx.timeout,
                sleep=self.ctx.sleep,
                now=self.ctx.now,
                time_left=self.ctx.time_left,
                throttled_wait=THROTTLED_WAIT,
            )
        except Unreachable as exc:
            raise DeliveryFailed(f"PagerDuty unreachable: {exc}") from None
        if 200 <= answer.status < 300:
            return
        if answer.status in (400, 401, 403, 404):
            self.ctx.forget_secret()
        body = redact(answer_excerpt(answer.body))
        raise DeliveryFailed(f"PagerDuty answered HTTP {answer.status}: {body}")


def _check(value: str) -> str | None:
    if len(value) != 32 or not value.isalnum():
        return "a PagerDuty Events v2 routing (integration) key is 32 letters and digits"
    return None


def _build(dest: Destination, ctx: Context) -> PagerDutyChannel:
    return PagerDutyChannel(dest.name, dest.option("events_url", DEFAULT_EVENTS_URL), ctx)


TYPE = ChannelType(
    name="pagerduty",
    build=_build,
    options=(
        Option(
            "events_url",
            f"the Events API v2 endpoint (default {DEFAULT_EVENTS_URL}; EU accounts use "
            "https://events.eu.pagerduty.com/v2/enqueue)",
            https_url,
        ),
    ),
    secret="PagerDuty Events v2 routing key",
    check_secret=_check,
    pages=True,
)
