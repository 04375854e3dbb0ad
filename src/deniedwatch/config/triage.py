"""``[triage]``: who may act on a Slack app alert's buttons, and where Escalate sends it
(docs/triage.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deniedwatch.alerts.channels.base import Destination
from deniedwatch.alerts.routing import Route
from deniedwatch.config.reader import Reader

_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{2,20}")


@dataclass(frozen=True)
class TriageSettings:
    """Nobody may act until ``allowed_users`` or ``allowed_usergroup`` is set."""

    allowed_users: tuple[str, ...] = ()  # Slack user ids (U…/W…)
    allowed_usergroup: str | None = None  # a Slack user group id (S…)
    escalate_route: str | None = None  # a [[routes]] name: its destinations get the alert
    destination: str | None = None  # the slack-app destination whose bot answers


def parse_triage(
    reader: Reader,
    data: dict[str, Any],
    routes: tuple[Route, ...],
    destinations: tuple[Destination, ...],
) -> TriageSettings:
    keys = {"allowed_users", "allowed_usergroup", "escalate_route", "destination"}
    table = reader.table(data, "triage", keys)
    users = tuple(reader.strings(table, "triage", "allowed_users"))
    group = reader.typed(table, "triage", "allowed_usergroup", str, None)
    for value in (*users, *([group] if group else [])):
        if not _SLACK_ID.fullmatch(value):
            reader.fail("triage", f"{value!r} is not a Slack id (U0123ABCD, S0123ABCD)", "triage")
    route = reader.typed(table, "triage", "escalate_route", str, None)
    if route is not None and route not in {r.name for r in routes}:
        reader.fail("triage.escalate_route", f"no [[routes]] entry named {route!r}", "triage")
    dest = reader.typed(table, "triage", "destination", str, None)
    if dest is not None and not any(d.name == dest and d.type == "slack-app" for d in destinations):
        reader.fail("triage.destination", f"no slack-app destination named {dest!r}", "triage")
    return TriageSettings(users, group, route, dest)
