"""The destination types: one line each. A new type is one module and one line here.

Modules are imported when a type is first used, so the function loads only
what its settings name (slack_sdk stays unloaded for a Teams-only setup).
"""

from __future__ import annotations

import importlib

from deniedwatch.alerts.channels.base import ChannelType

MODULES: dict[str, str] = {
    "slack": "deniedwatch.alerts.channels.slack",
    "slack-app": "deniedwatch.alerts.channels.slack_app",
    "teams": "deniedwatch.alerts.channels.teams",
    "pagerduty": "deniedwatch.alerts.channels.pagerduty",
    "sns": "deniedwatch.alerts.channels.sns",
    "securityhub": "deniedwatch.alerts.channels.securityhub",
}

TYPES: tuple[str, ...] = tuple(MODULES)


def channel_type(name: str) -> ChannelType:
    """The type named ``name``; KeyError for an unknown one."""
    kind = importlib.import_module(MODULES[name]).TYPE
    assert isinstance(kind, ChannelType) and kind.name == name, name
    return kind
