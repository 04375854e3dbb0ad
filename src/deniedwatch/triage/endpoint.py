"""The function URL's answer to one click on an alert's button. Wiring only.

In order, cheapest refusal first: POST only; the body under the cap; Slack's signature
and a timestamp within 5 minutes (request.verify); the signature not seen in the last
10 minutes (store.first_sight: a replay is refused); a button of ours; the user allowed
(``[triage] allowed_users``, env DENIEDWATCH_TRIAGE_ALLOWED_USERS, or a member of
``allowed_usergroup``). Then one DynamoDB write and one ``chat.postMessage`` (the audit
line in the alert's thread): Slack wants the answer within 3 seconds.
https://docs.slack.dev/interactivity/handling-user-interaction#acknowledgment_response
A user who is not allowed gets an ephemeral "not allowed" (through the click's
``response_url``) and an audit line; everything refused is logged and counted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from deniedwatch import secrets
from deniedwatch.alerts.group import group_records
from deniedwatch.alerts.text import cut, escape_mrkdwn, literal
from deniedwatch.config import Settings
from deniedwatch.metrics import Metrics, log
from deniedwatch.sources.invocation import HttpResponse, Invocation
from deniedwatch.triage import buttons
from deniedwatch.triage.mutes import Mute, subject_problem
from deniedwatch.triage.request import Click, Refused, body_bytes, parse_click, verify
from deniedwatch.triage.store import MuteStore, MuteStoreError


class Runtime(Protocol):
    """What a click needs of the handler's container state (lambda_handler.Runtime)."""

    settings: Settings
    pipeline: Any  # pipeline.Pipeline: its channels
    mutes: MuteStore
    wall_clock: Callable[[], float]


ENV_ALLOWED_USERS = "DENIEDWATCH_TRIAGE_ALLOWED_USERS"
DAY = 86400


def respond(status: int, text: str = "") -> HttpResponse:
    return {"statusCode": status, "headers": {"content-type": "text/plain"}, "body": text}


def answer(invocation: Invocation, rt: Runtime, metrics: Metrics, *, now: float) -> HttpResponse:
    """Every click -> 200 once acted on (or refused in Slack); a request that is not a
    signed click -> 4xx with one word, and a log line with the reason."""
    request = invocation.request
    assert request is not None  # Shape.FUNCTION_URL always carries one
    where = {"request_id": request.request_id, "source_ip": request.source_ip}
    try:
        if request.method != "POST":
            raise Refused(405, "not a POST")
        body = body_bytes(request)
        secret = secrets.slack_signing_secret()
        if not secret:
            raise Refused(404, "no Slack signing secret configured")
        verify(body, request.headers, secret, rt.wall_clock)
        if not rt.mutes.first_sight(request.headers.get("x-slack-signature", ""), now):
            raise Refused(401, "replayed request (signature seen in the last 10 minutes)")
        click = parse_click(body)
        kind = buttons.action_kind(click.action_id)
        if kind is None:
            raise Refused(400, "not a deniedwatch button")
    except Refused as exc:
        metrics.add("TriageRefused")
        log("triage-refused", level="warning", status=exc.status, reason=exc.reason, **where)
        return respond(exc.status, {401: "unauthorized", 413: "too large"}.get(exc.status, ""))
    except MuteStoreError as exc:  # fail closed: the click can be made again
        metrics.add("TriageRefused")
        log("triage-refused", level="error", status=503, reason=f"store: {exc}", **where)
        return respond(503)
    Triage(rt, metrics, now).act(click, kind)
    return respond(200)


class Triage:
    """What one allowed (or refused) click does in Slack and in the table."""

    def __init__(self, rt: Runtime, metrics: Metrics, now: float) -> None:
        self.rt, self.metrics, self.now = rt, metrics, now
        self.slack = _slack_app(rt)

    def act(self, click: Click, kind: str) -> None:
        who = f"<@{escape_mrkdwn(click.user_id)}>"
        if not self.allowed(click.user_id):
            self.metrics.add("TriageRefused")
            log("triage-not-allowed", level="warning", user=click.user_id, action=kind)
            self.ephemeral(click, "🚫 You are not allowed to triage deniedwatch alerts.")
            self.audit(click, f"🚫 {who} tried *{_verb(kind)}*: not allowed")
            return
        if kind == buttons.MUTE:
            self.mute(click, who)
        elif kind == buttons.ESCALATE:
            self.escalate(click, who)
        else:
            log("triage-not-expected", user=click.user_id, alert=_where(click))
            self.audit(click, f"❗ {who} says this was *not expected*")

    def allowed(self, user_id: str) -> bool:
        t = self.rt.settings.triage
        env = {u.strip() for u in os.environ.get(ENV_ALLOWED_USERS, "").split(",") if u.strip()}
        if user_id in set(t.allowed_users) | env:
            return True
        if t.allowed_usergroup and self.slack is not None:
            try:
                return user_id in self.slack.usergroup_members(t.allowed_usergroup)
            except Exception as exc:  # Slack did not answer: not allowed, and said why
                log("triage-error", level="error", error=secrets.redact(str(exc))[:300])
        return False

    def mute(self, click: Click, who: str) -> None:
        parsed = buttons.parse_mute(click.value)
        if parsed is None:
            log("triage-refused", level="warning", reason="not a mute value", user=click.user_id)
            self.ephemeral(click, "That button does not name a mute deniedwatch can set.")
            return
        subject, days = parsed
        if (problem := subject_problem(subject)) is not None:
            log("triage-refused", level="warning", reason=problem, user=click.user_id)
            self.audit(click, f"🚫 {who} tried to mute this: {escape_mrkdwn(problem)}")
            return
        mute = Mute(
            subject,
            expires_at=self.now + days * DAY,
            set_by=click.user_id,
            set_at=self.now,
            alert=_where(click),
            reason=f"expected: mute {days} day{'s' if days != 1 else ''}",
        )
        try:
            self.rt.mutes.put(mute)
        except MuteStoreError as exc:
            log("triage-error", level="error", error=str(exc), mute=mute.id)
            self.ephemeral(click, "⚠️ The mute could not be stored; nothing was muted.")
            return
        self.metrics.add("MutesSet")
        until = datetime.fromtimestamp(mute.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        log(
            "mute-set",
            mute=mute.id,
            user=click.user_id,
            until=until,
            alert=mute.alert,
            account=subject.account_id,
            principal=subject.principal,
            action=subject.action,
        )
        self.audit(
            click,
            f"🔇 {who} muted {literal(subject.principal, 600)} · "
            f"{literal(subject.action or 'every action that is not high impact', 200)} · "
            f"{literal(subject.account_id, 40)} until {until} "
            f"(mute `{mute.id}`; end it with `deniedwatch mutes revoke {mute.id}`)",
        )

    def escalate(self, click: Click, who: str) -> None:
        route = self.rt.settings.triage.escalate_route
        parsed = buttons.parse_escalate(click.value)
        names = _route_destinations(self.rt, route)
        channels = [c for c in self.rt.pipeline.channels if c.name in names]
        if parsed is None or not channels:
            log("triage-refused", level="warning", reason="no escalation route", route=route)
            self.ephemeral(click, "No escalation route is configured (`[triage] escalate_route`).")
            return
        record, _count = parsed
        (alert,) = group_records([record], label=self.rt.settings.ruleset.label)
        sent, failed = [], []
        for channel in channels:
            try:
                channel.send(alert)
                sent.append(channel.name)
            except Exception as exc:  # one destination's failure is reported, not raised
                failed.append(channel.name)
                log(
                    "triage-error",
                    level="error",
                    destination=channel.name,
                    error=secrets.redact(f"{type(exc).__name__}: {exc}")[:300],
                )
        log("escalated", user=click.user_id, route=route, sent=sent, failed=failed)
        text = f"📣 {who} escalated this to {escape_mrkdwn(cut(', '.join(sent) or 'nobody', 200))}"
        if failed:
            text += f" (failed: {escape_mrkdwn(cut(', '.join(failed), 200))})"
        self.audit(click, text)

    def audit(self, click: Click, text: str) -> None:
        """One line in the alert's thread; a failure is logged (the action stands)."""
        if self.slack is None:
            log("triage-audit", level="warning", text=text, note="no slack-app destination")
            return
        try:
            self.slack.post_in_thread(click.channel_id, click.thread_ts or click.message_ts, text)
        except Exception as exc:
            log("triage-error", level="error", error=secrets.redact(str(exc))[:300])

    def ephemeral(self, click: Click, text: str) -> None:
        """Only the clicking user sees it: the click's response_url, response_type
        ephemeral. https://docs.slack.dev/interactivity/handling-user-interaction#message_responses"""
        from deniedwatch.urls import https_or_loopback

        if not click.response_url or not https_or_loopback(click.response_url):
            return
        try:
            from slack_sdk.webhook import WebhookClient

            WebhookClient(click.response_url, timeout=2).send_dict(
                {"response_type": "ephemeral", "replace_original": False, "text": text}
            )
        except Exception as exc:
            log("triage-error", level="error", error=secrets.redact(str(exc))[:300])


def _route_destinations(rt: Runtime, route: str | None) -> set[str]:
    for r in rt.settings.routes:
        if r.name == route:
            return set(r.destinations)
    return set()


def _slack_app(rt: Runtime) -> Any:
    """The slack-app channel whose bot answers (``[triage] destination``, else the first)."""
    wanted = rt.settings.triage.destination
    for channel in rt.pipeline.channels:
        if hasattr(channel, "post_in_thread") and wanted in (None, channel.name):
            return channel
    return None


def _verb(kind: str) -> str:
    return {buttons.MUTE: "mute", buttons.ESCALATE: "escalate"}.get(kind, "not expected")


def _where(click: Click) -> str:
    return f"{click.channel_id}/{click.message_ts}"
