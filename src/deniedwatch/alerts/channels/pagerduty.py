"""Destination type ``pagerduty``: an Events API v2 ``trigger`` per alert group.

``dedup_key`` is the group's stable digest, so repeats of a group add to one
open incident instead of paging again; ``severity`` maps deniedwatch's levels
(high -> critical, medium -> error, low -> warning). Only routes that name a
``pagerduty`` destination reach it (it is never a default destination).
Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
(202 accepted; 400 invalid; 429 throttled; 5xx retried).
"""

from __future__ import annotations

import hashlib
import json
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
from deniedwatch.alerts.text import clean, cut
from deniedwatch.secrets import SecretError, redact

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_MAX = 1024  # Events API v2 limit
DETAIL_MAX = 1000
PD_SEVERITY = {"high": "critical", "medium": "error", "low": "warning"}


def dedup_key(alert: Alert) -> str:
    """One incident per group, whatever the batch: the group key's digest."""
    return f"deniedwatch-{alert.key.digest()}"


def render(alert: Alert, *, routing_key: str, severity: str) -> dict[str, Any]:
    """The Events API v2 trigger for one alert; record text cleaned and cut."""
    f = alert.sample
    account = wording.account(f.account_id, alert.account_label)
    summary = (
        f"{wording.title(alert)} in {account or 'unknown account'} ({wording.times(alert.total)})"
    )
    details: dict[str, Any] = {
        row.label: cut(clean(row.value), DETAIL_MAX) for row in wording.rows(alert) if row.value
    }
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
        "dedup_key": dedup_key(alert),
        "client": "deniedwatch",
        "payload": {
            "summary": cut(clean(summary), SUMMARY_MAX),
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


def render_digest(digest: Digest, *, routing_key: str, severity: str) -> dict[str, Any]:
    """One trigger for a digest (alerts over the budget): one incident per caller."""
    raw = json.dumps([digest.caller, digest.account_id, digest.kind])
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
            "summary": cut(clean(digest.headline()), SUMMARY_MAX),
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

    def send(self, alert: Alert) -> ThreadRef | None:
        self._post(render(alert, routing_key=self._key(), severity=self.ctx.severity(alert.sample)))
        return None

    def send_digest(self, digest: Digest) -> None:
        levels = {self.ctx.severity(a.sample) for a in digest.alerts}
        worst = next((level for level in ("high", "medium", "low") if level in levels), "medium")
        self._post(render_digest(digest, routing_key=self._key(), severity=worst))

    def _post(self, event: dict[str, Any]) -> None:
        try:
            answer = post_json(
                self.events_url,
                event,
                timeout=self.ctx.timeout,
                sleep=self.ctx.sleep,
                now=self.ctx.now,
            )
        except Unreachable as exc:
            raise DeliveryFailed(f"PagerDuty unreachable: {exc}") from None
        if 200 <= answer.status < 300:
            return
        if answer.status in (400, 401, 403, 404):
            self.ctx.forget_secret()
        body = redact(clean(answer.body))[:200]
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
