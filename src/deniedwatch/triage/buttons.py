"""The buttons of a slack-app alert and of a digest, and what their values carry. Pure.

Slack sends a button's ``value`` back, inside a request it signs, when it is clicked;
Slack caps a value at 2,000 characters and a button's text at 75
(https://docs.slack.dev/reference/block-kit/block-elements/button-element). A value is
compact JSON: a mute button carries its ``Subject`` and days; Escalate carries the
sample denial's record fields (``record_of``) so the endpoint can rebuild the alert and
send it to the escalation route; Not expected carries nothing more than the click.
Buttons that would mute what may never be muted (mutes.refusal, a high-impact action)
are not shown; the endpoint refuses them again whatever a value says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.group import Alert
from deniedwatch.finding import Finding
from deniedwatch.triage.mutes import DIGEST_MUTE_DAYS, MUTE_DAYS, Subject, subject_of

MUTE, ESCALATE, NOT_EXPECTED = "dw_mute", "dw_escalate", "dw_not_expected"
ACTION_IDS = (MUTE, ESCALATE, NOT_EXPECTED)
BLOCK_ID = "deniedwatch-triage"
VALUE_MAX = 2000  # Slack's limit on a button's value
_DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Choices:
    """Which buttons a message gets: mutes always (where allowed), Escalate only when
    the settings name an escalation route."""

    escalate: bool = False


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75]},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def mute_value(subject: Subject, days: int) -> str:
    return _dumps(
        {
            "d": days,
            "s": [subject.account_id, subject.principal_type, subject.principal, subject.action],
        }
    )


def parse_mute(value: str) -> tuple[Subject, int] | None:
    """A mute button's value -> (subject, days), or None when it is not one."""
    try:
        data = json.loads(value)
        account, kind, principal, action = data["s"]
        days = data["d"]
    except (ValueError, KeyError, TypeError):
        return None
    ok = all(isinstance(x, str) and x for x in (account, kind, principal))
    if not ok or not (action is None or isinstance(action, str)) or days not in MUTE_DAYS:
        return None
    return Subject(account, kind, principal, action), days


# The record fields Escalate carries (Finding.from_record rebuilds the alert from them),
# longest and least needed cut first when the value would pass VALUE_MAX.
_IDENTITY_KEYS = ("type", "arn", "accountId", "principalId", "userName", "invokedBy")
_RECORD_KEYS = (
    "eventID",
    "eventTime",
    "awsRegion",
    "recipientAccountId",
    "eventSource",
    "eventName",
    "errorCode",
    "sourceIPAddress",
    "errorMessage",
    "userAgent",
)
_CUTTABLE = ("userAgent", "errorMessage")


def record_of(f: Finding) -> dict[str, Any]:
    """The sample denial as a CloudTrail-record-shaped dict of the fields a Finding reads."""
    identity = {
        "type": f.principal_type,
        "arn": f.principal_arn,
        "accountId": f.caller_account_id,
        "principalId": f.principal_id,
        "invokedBy": f.principal_name if f.principal_type == "AWSService" else None,
    }
    record = {
        "eventID": f.event_id,
        "eventTime": f.event_time,
        "awsRegion": f.region,
        "recipientAccountId": f.account_id,
        "eventSource": f.service,
        "eventName": f.event_name,
        "errorCode": f.error_code,
        "sourceIPAddress": f.source_ip,
        "errorMessage": f.error_message,
        "userAgent": f.user_agent,
        "userIdentity": {k: v for k, v in identity.items() if v is not None},
    }
    return {k: v for k, v in record.items() if v is not None}


def escalate_value(alert: Alert) -> str | None:
    record = record_of(alert.sample)
    for key in (None, *_CUTTABLE):
        if key:
            record.pop(key, None)
        value = _dumps({"c": alert.total, "r": record})
        if len(value) <= VALUE_MAX:
            return value
    return None


def parse_escalate(value: str) -> tuple[dict[str, Any], int] | None:
    """An Escalate value -> (record, count), or None when it is not one."""
    try:
        data = json.loads(value)
        record, count = data["r"], data["c"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(record, dict) or not isinstance(count, int) or count < 1:
        return None
    identity = record.get("userIdentity")
    if not isinstance(identity, dict):
        return None
    clean = {k: record[k] for k in _RECORD_KEYS if isinstance(record.get(k), str)}
    clean["userIdentity"] = {
        k: identity[k] for k in _IDENTITY_KEYS if isinstance(identity.get(k), str)
    }
    return clean, count


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def alert_actions(alert: Alert, choices: Choices) -> dict[str, Any]:
    """The actions block of an alert: mute (7 days first, then 1 and 30) where allowed,
    Escalate where a route is named, Not expected always."""
    elements = []
    subject = subject_of(alert.sample)
    if subject is not None:
        values = {d: mute_value(subject, d) for d in MUTE_DAYS}
        if all(len(v) <= VALUE_MAX for v in values.values()):
            days = [_DEFAULT_DAYS, *(d for d in MUTE_DAYS if d != _DEFAULT_DAYS)]
            elements.append(
                _button(f"Expected: mute {_days(days[0])}", MUTE, values[days[0]], "primary")
            )
            elements += [_button(f"Mute {_days(d)}", MUTE, values[d]) for d in days[1:]]
    if choices.escalate and (value := escalate_value(alert)):
        elements.append(_button("Escalate", ESCALATE, value, "danger"))
    elements.append(_button("Not expected", NOT_EXPECTED, "{}"))
    # action_id must be unique within a block: Slack rejects the message otherwise
    for i, element in enumerate(elements):
        element["action_id"] = f"{element['action_id']}.{i}"
    return {"type": "actions", "block_id": BLOCK_ID, "elements": elements}


def digest_actions(digest: Digest) -> dict[str, Any] | None:
    """A digest's one button: mute this principal's repeats for a day (every action that
    is not high impact), where its principal may be muted at all."""
    if not digest.alerts:
        return None
    subject = subject_of(digest.alerts[0].sample, every_action=True)
    if subject is None:
        return None
    value = mute_value(subject, DIGEST_MUTE_DAYS)
    if len(value) > VALUE_MAX:
        return None
    text = f"Mute this principal's repeats for {_days(DIGEST_MUTE_DAYS)}"
    return {
        "type": "actions",
        "block_id": BLOCK_ID,
        "elements": [_button(text, MUTE, value) | {"action_id": f"{MUTE}.0"}],
    }


class Buttons:
    """What a slack-app channel asks for each message it posts (channels.base.Context):
    the actions block, or None while no signing secret is configured (nothing could
    receive the clicks)."""

    def __init__(self, choices: Choices, enabled: Callable[[], bool]) -> None:
        self.choices = choices
        self.enabled = enabled

    def for_alert(self, alert: Alert) -> dict[str, Any] | None:
        return alert_actions(alert, self.choices) if self.enabled() else None

    def for_digest(self, digest: Digest) -> dict[str, Any] | None:
        return digest_actions(digest) if self.enabled() else None


def action_kind(action_id: str) -> str | None:
    """``dw_mute.2`` -> ``dw_mute``; None for an action that is not ours."""
    kind = action_id.split(".", 1)[0]
    return kind if kind in ACTION_IDS else None
