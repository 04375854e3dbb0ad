"""The email: a plain-text summary published to the SNS topic.

SNS Subject rules: ASCII, no line breaks or control characters, under 100
characters, starting with a letter, number or punctuation. The body says who,
what, why, where and when, with the links, each record value on its own line
and cleaned of control characters so no value can forge a line.
"""

from __future__ import annotations

from typing import Any

from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.deliver import DeliveryFailed
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut
from deniedwatch.explain import POLICY_WORDS

SUBJECT_MAX = 99
VALUE_MAX = 2000
ENV_TOPIC_ARN = "DENIEDWATCH_SNS_TOPIC_ARN"


def _ascii(text: str) -> str:
    return clean(text).encode("ascii", "replace").decode("ascii")


def subject(alert: Alert) -> str:
    f = alert.sample
    who = f.principal_name or f.principal_arn or "unknown principal"
    what = f.action or f.event_name or "an API call"
    account = f.account_id or "unknown account"
    if alert.account_label:
        account = f"{account} ({alert.account_label})"
    times = f" x{alert.total}" if alert.total > 1 else ""
    text = f"[deniedwatch] {f.error_code or 'Denied'}: {what} by {who} in {account}{times}"
    return cut(_ascii(" ".join(text.split())), SUBJECT_MAX).replace("…", "~")


def _line(label: str, value: object) -> str:
    shown = "unknown" if value is None or value == "" else cut(clean(value), VALUE_MAX)
    return f"  {label + ':':<17} {shown}"


def body(alert: Alert, *, window_minutes: int | None = None) -> str:
    f = alert.sample
    why = POLICY_WORDS.get(f.denial_policy or "", f.denial_policy)
    if why and f.denial_explicit is not None:
        why = ("explicit deny in " if f.denial_explicit else "no allow in ") + why
    when = alert.first_time or "unknown"
    if alert.last_time and alert.last_time != alert.first_time:
        when = f"{alert.first_time} to {alert.last_time}"
    count = "1 denied AWS API call" if alert.count == 1 else f"{alert.count} denied AWS API calls"
    lines = [f"deniedwatch: {count}.", ""]
    if alert.held_back:
        window = f" (dedup window {window_minutes} min)" if window_minutes else ""
        lines += [
            f"Plus {alert.held_back} similar denials held back since the last alert{window}.",
            "",
        ]
    account = f.account_id
    if account and alert.account_label:
        account = f"{account} ({clean(alert.account_label)})"
    lines += [
        "WHO",
        _line("Principal", f.principal_name),
        _line("Type", f.principal_type),
        _line("ARN", f.principal_arn),
        "WHAT",
        _line("Action", f.action or f.event_name),
        _line("Error code", f.error_code),
        _line("Error message", f.error_message),
        "WHY",
        _line("Denied by", why),
        _line("Policy ARN", f.denial_policy_arn),
        _line("VPC endpoint", f.vpc_endpoint_id),
        _line("Next step", f.hint),
        _line("Resource", f.resource),
        "WHERE",
        _line("Account", account),
        _line("Region", f.region),
        _line("Source IP", f.source_ip),
        _line("User agent", f.user_agent),
        "WHEN (UTC)",
        _line("Time", when),
        "",
        "LINKS",
    ]
    links = [("CloudTrail event", f.console_url)]
    if alert.log:
        links.append(("Log stream", alert.log.console_url()))
    others = [e for e in alert.examples if e.event_id != f.event_id]
    links += [(f"Example {i}", e.console_url) for i, e in enumerate(others, 1)]
    lines += [_line(label, url) for label, url in links if url]
    if f.console_url and f.console_note:
        lines.append(_line("Note", f.console_note))
    return "\n".join(lines) + "\n"


def digest_subject(digest: Digest) -> str:
    text = f"[deniedwatch] {digest.headline()}"
    return cut(_ascii(" ".join(text.split())), SUBJECT_MAX).replace("…", "~")


def digest_body(digest: Digest) -> str:
    why = (
        "The most important alerts of this batch were sent on their own; these are counted here."
        if digest.kind == "budget"
        else "Held back by the dedup window, which closed without another alert for them."
    )
    lines = [
        f"deniedwatch: {clean(digest.headline())} ({digest.listed()}).",
        "",
        why,
        "",
        _line("Principal", digest.who),
        _line("Account", digest.account),
        _line("Denied calls", digest.count),
        "",
        "ACTIONS",
    ]
    lines += [f"  {count:>8}  {cut(clean(action), VALUE_MAX)}" for action, count in digest.top()]
    return "\n".join(lines) + "\n"


class SnsChannel:
    """Publishes each alert to the SNS topic (email subscribers)."""

    name = "email"

    def __init__(
        self, topic_arn: str, *, window_minutes: int | None = None, client: Any = None
    ) -> None:
        self.topic_arn = topic_arn
        self.window_minutes = window_minutes
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only when a topic is configured

            self._client = boto3.client("sns")
        return self._client

    def send(self, alert: Alert) -> None:
        self._publish(subject(alert), body(alert, window_minutes=self.window_minutes))

    def send_digest(self, digest: Digest) -> None:
        self._publish(digest_subject(digest), digest_body(digest))

    def _publish(self, subject: str, message: str) -> None:
        try:
            self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
        except Exception as exc:
            error = (getattr(exc, "response", None) or {}).get("Error", {})
            reason = error.get("Code") or type(exc).__name__
            raise DeliveryFailed(f"SNS publish to {self.topic_arn} failed: {reason}") from None
