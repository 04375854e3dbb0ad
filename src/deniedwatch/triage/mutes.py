"""Mutes: a suppression a Slack user sets from an alert, with an expiry. Pure.

A mute names one principal in one account, and one IAM action or (from a digest) every
action that is not high impact. It can never become a hiding place:

- never the root user, never a caller from another account (or an ``AWSAccount``
  caller), never a high-impact action (``severity.is_high_impact``, the one list):
  ``refusal`` says why no button is shown, and ``covers`` checks again on every record,
  so a stored mute that somehow names one still hides nothing of the kind;
- it matches only what the caller cannot forge: the principal's ARN (an assumed role's
  ARN without the session name, which the caller picks), or an AWS service by
  ``principal_type`` AWSService; the account is the one that received the call, and the
  caller's own account must be the same;
- it ends: ``expires_at`` (DynamoDB TTL removes the item; ``covers`` ignores it at once).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

from deniedwatch.finding import Finding, RecordView
from deniedwatch.severity import ROOT, is_high_impact

AWS_SERVICE = "AWSService"
FOREIGN_TYPES = frozenset({"AWSAccount"})  # cross-account callers: no ARN, another account
ROLE_SESSION = ":assumed-role/"
MUTE_DAYS: tuple[int, ...] = (1, 7, 30)  # the alert's choices; a digest offers 1
DIGEST_MUTE_DAYS = 1
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class Subject:
    """What a mute matches: who (type + principal), where (account), what (action)."""

    account_id: str
    principal_type: str
    principal: str  # the ARN; an assumed role's ARN without its session; a service name
    action: str | None  # None: every action that is not high impact (a digest's mute)

    def key(self) -> str:
        """The mute's id: one mute per subject (a second click moves its expiry)."""
        raw = json.dumps([self.account_id, self.principal_type, self.principal, self.action])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def describe(self) -> str:
        what = self.action or "every action that is not high impact"
        return f"{self.principal} · {what} · {self.account_id}"


@dataclass(frozen=True)
class Mute:
    """A stored mute: its subject, until when, who set it, when, from which alert, why."""

    subject: Subject
    expires_at: float
    set_by: str  # Slack user id
    set_at: float
    alert: str  # the alert's Slack message: "channel/ts"
    reason: str  # the button: "expected: mute 7 days"

    @property
    def id(self) -> str:
        return self.subject.key()

    def active(self, now: float) -> bool:
        return self.expires_at > now

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Mute:
        data = json.loads(text)
        return cls(**{**data, "subject": Subject(**data["subject"])})


def refusal(f: Finding) -> str | None:
    """Why this finding's principal can never be muted, or None. The buttons are not shown
    for a refused finding, and the endpoint refuses it again."""
    if f.principal_type == ROOT:
        return "the root user is never muted"
    if f.principal_type in FOREIGN_TYPES or (
        f.principal_type != AWS_SERVICE and f.caller_account_id != f.account_id
    ):
        return "a caller from another account is never muted"
    if not f.account_id or not f.principal_type:
        return "the record does not say whose call it was"
    if f.principal_type != AWS_SERVICE and not f.principal_arn:
        return "no principal ARN to anchor a mute to"
    return None


def subject_of(f: Finding, *, every_action: bool = False) -> Subject | None:
    """The mute a button on this finding's alert would set, or None when none may be set
    (``refusal``, or a high-impact action for a one-action mute)."""
    if refusal(f) is not None or f.account_id is None or f.principal_type is None:
        return None
    if f.principal_type == AWS_SERVICE:
        principal = f.principal_name or ""
    else:
        principal = _anchor(f.principal_arn or "")
    if not principal or _GLOB & set(principal):
        return None
    action = None if every_action else f.action
    if not every_action and (not action or is_high_impact(action, f.principal_type)):
        return None
    return Subject(f.account_id, f.principal_type, principal, action)


def subject_problem(s: Subject) -> str | None:
    """Why a subject (as a button's value carries it back) may not be muted, or None:
    the checks of ``refusal`` and ``subject_of``, on the subject alone."""
    if s.principal_type == ROOT:
        return "the root user is never muted"
    if s.principal_type in FOREIGN_TYPES:
        return "a caller from another account is never muted"
    if s.action is not None and is_high_impact(s.action, s.principal_type):
        return "a high-impact action is never muted"
    if _GLOB & set(s.principal) or not s.principal:
        return "not a principal deniedwatch can anchor a mute to"
    if s.principal_type != AWS_SERVICE:
        parts = s.principal.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[4] != s.account_id:
            return "a caller from another account is never muted"
    return None


def _anchor(arn: str) -> str:
    """An assumed role's ARN without the session name (the caller picks session names;
    the role it cannot change); any other ARN as it is."""
    if ROLE_SESSION in arn and arn.count("/") >= 2:
        return arn.rsplit("/", 1)[0]
    return arn


def covers(mute: Mute, record: dict[str, Any], action: str | None, now: float) -> bool:
    """Does ``mute`` hide this denied record? ``action`` is the record's IAM action (the
    group key's). Checks the never-muted kinds again, whatever the mute says."""
    s = mute.subject
    if not mute.active(now):
        return False
    view = RecordView(record)
    kind = view.principal_type
    if kind != s.principal_type or kind == ROOT or kind in FOREIGN_TYPES:
        return False
    if view.account_id != s.account_id:
        return False
    if kind != AWS_SERVICE and view.caller_account_id != s.account_id:
        return False
    if is_high_impact(action, kind):
        return False
    if s.action is not None and action != s.action:
        return False
    if kind == AWS_SERVICE:
        return view.principal_name == s.principal
    return _anchor(view.principal_arn or "") == s.principal


def covering(
    mutes: Sequence[Mute], record: dict[str, Any], action: str | None, now: float
) -> Mute | None:
    """The first mute that hides the record, or None."""
    return next((m for m in mutes if covers(m, record, action, now)), None)


def active(mutes: Iterable[Mute], now: float) -> list[Mute]:
    return sorted((m for m in mutes if m.active(now)), key=lambda m: m.expires_at)


class _Denial(Protocol):
    """A detected denial (intake.Detected): its record and its group key's action."""

    @property
    def record(self) -> dict[str, Any]: ...


D = TypeVar("D", bound=_Denial)


def hide_muted(
    denials: Sequence[D], mutes: Sequence[Mute], action_of: Any, now: float
) -> tuple[list[D], Counter[str]]:
    """(the denials no mute covers, mute id -> how many it hid). ``action_of(denial)`` is
    the denial's IAM action (its group key's)."""
    kept: list[D] = []
    hidden: Counter[str] = Counter()
    for d in denials:
        mute = covering(mutes, d.record, action_of(d), now) if mutes else None
        if mute is None:
            kept.append(d)
        else:
            hidden[mute.id] += 1
    return kept, hidden
