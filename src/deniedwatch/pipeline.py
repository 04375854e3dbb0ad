"""The one factory of the alert pipeline: settings -> destinations, router, channels.

The Lambda handler, ``scan --notify`` and ``test-alert`` all build their
delivery here, so they route, render and send the same way. With no
``[[destinations]]`` in the settings, today's environment keeps working: a
``slack`` destination when ``DENIEDWATCH_SLACK_SECRET_ARN`` / ``SLACK_WEBHOOK_URL``
(or a CLI flag) names a webhook, an ``email`` (sns) destination when
``DENIEDWATCH_SNS_TOPIC_ARN`` names a topic.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deniedwatch import secrets
from deniedwatch.alerts.channels.base import Channel, Context, Destination
from deniedwatch.alerts.channels.registry import channel_type
from deniedwatch.alerts.channels.sns import ENV_TOPIC_ARN
from deniedwatch.alerts.deliver import DeliveryReport, deliver
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.routing import ROUTE_READS, Router, default_destinations
from deniedwatch.config import Settings
from deniedwatch.finding import Finding
from deniedwatch.severity import fields_read, most_severe, severity
from deniedwatch.triage.buttons import Buttons, Choices

LEGACY_EMAIL = "email"


class PipelineError(ValueError):
    """A destination cannot be built (the message names it; no secret in it)."""


def destinations_of(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    webhook: bool | None = None,
    topic_arn: str | None = None,
) -> tuple[Destination, ...]:
    """The settings' [[destinations]], else today's: slack (webhook) and email (topic)."""
    if settings.destinations:
        return settings.destinations
    env = os.environ if env is None else env
    found = []
    has_webhook = secrets.configured() or bool(env.get(secrets.ENV_SECRETS_ARN))
    if has_webhook if webhook is None else webhook:
        found.append(Destination(secrets.LEGACY_DESTINATION, "slack"))
    if topic := topic_arn or env.get(ENV_TOPIC_ARN):
        found.append(Destination(LEGACY_EMAIL, "sns", options={"topic_arn": topic}))
    return tuple(found)


def severity_of(settings: Settings) -> Callable[[Finding], str]:
    rules = settings.severity_rules
    return lambda f: severity(f, rules)


def router(settings: Settings, destinations: Sequence[Destination]) -> Router:
    defaults = default_destinations(
        [d.name for d in destinations],
        [d.default for d in destinations],
        [channel_type(d.type).pages for d in destinations],
    )
    return Router(settings.routes, defaults, severity_of(settings), settings.account_ous)


@dataclass
class Pipeline:
    """Built once per container (or CLI run): the channels and who gets what."""

    destinations: tuple[Destination, ...]
    channels: list[Channel]
    router: Router
    route_all: bool = False  # test-alert: the one chosen destination gets everything
    # The Finding fields severity and routing read (group_records keeps one member per
    # distinct value of them); None: not known, every field a rule could read.
    reads: frozenset[str] | None = None

    @classmethod
    def fixed(cls, channels: Sequence[Channel]) -> Pipeline:
        """Every alert to these channels, no routing (tests, tools)."""
        return cls((), list(channels), Router((), (), lambda _f: "medium"), route_all=True)

    def select(self, alert: Alert) -> tuple[str, ...]:
        if self.route_all:
            return tuple(c.name for c in self.channels)
        return self.router.destinations(most_severe(alert.members, self.router.severity))

    def deliver(self, alerts: Iterable[Alert], **options: Any) -> DeliveryReport:
        """``alerts.deliver.deliver`` to this pipeline's channels, routed by ``select``;
        ``options`` are deliver's own (store, batch, now, ...), named there once."""
        return deliver(alerts, channels=self.channels, select=self.select, **options)


def build_pipeline(
    settings: Settings,
    *,
    only: str | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    webhook: bool | None = None,
    topic_arn: str | None = None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], float] = time.time,
    timeout: int = 10,
) -> Pipeline:
    """Channels for every destination (or ``only`` one), each reading its own secret.

    ``secret_overrides``: destination name -> secret given on the command line.
    """
    destinations = destinations_of(settings, env=env, webhook=webhook, topic_arn=topic_arn)
    if only is not None:
        chosen = [d for d in destinations if d.name == only]
        if not chosen:
            names = ", ".join(d.name for d in destinations) or "none"
            raise PipelineError(f"no destination named {only!r} (configured: {names})")
        destinations = tuple(chosen)
    a = settings.alerts
    channels: list[Channel] = []
    buttons = Buttons(
        Choices(escalate=settings.triage.escalate_route is not None),
        enabled=lambda: secrets.slack_signing_secret(env=env) is not None,
    )
    for dest in destinations:
        ctx = Context(
            secret=_secret(dest, secret_overrides or {}, env),
            forget_secret=secrets.forget,
            window_minutes=a.dedup_window_minutes,
            slack_channel=a.slack_channel,
            timeout=timeout,
            sleep=sleep,
            clock=clock,
            now=now,
            severity=severity_of(settings),
            buttons=buttons,
        )
        try:
            channels.append(channel_type(dest.type).build(dest, ctx))
        except ValueError as exc:
            raise PipelineError(str(exc)) from None
    reads = fields_read(settings.severity_rules) | ROUTE_READS
    return Pipeline(destinations, channels, router(settings, destinations), only is not None, reads)


def _secret(
    dest: Destination, overrides: Mapping[str, str], env: Mapping[str, str] | None
) -> Callable[[], str]:
    if dest.name in overrides:
        value = secrets.remember(overrides[dest.name])
        return lambda: value
    return lambda: secrets.destination_secret(dest.name, dest.url_env, env=env)


@dataclass(frozen=True)
class SecretNeed:
    """A destination whose secret ``deploy`` / ``set-secret`` asks for."""

    destination: str
    what: str  # "Slack bot token (xoxb-...)"
    url_env: str | None  # where a local run reads it; deploy takes it from there too
    problem: Callable[[str], str | None]  # why a value is not acceptable, or None


def secret_needs(settings: Settings) -> list[SecretNeed]:
    """Every destination with a secret, in settings order (today's ``slack`` if none)."""
    needs = []
    for dest in destinations_of(settings, webhook=True, env={}):
        kind = channel_type(dest.type)
        if kind.secret is not None:
            env = dest.url_env or (
                secrets.ENV_WEBHOOK_URL if dest.name == secrets.LEGACY_DESTINATION else None
            )
            needs.append(SecretNeed(dest.name, kind.secret, env, kind.check_secret))
    return needs


def signing_secret_need() -> SecretNeed:
    """The Slack app's signing secret (triage buttons, docs/triage.md): `set-secret` only,
    never asked for by deploy (buttons are optional)."""
    return SecretNeed(
        secrets.SIGNING_SECRET_KEY,
        "Slack app signing secret",
        secrets.ENV_SIGNING_SECRET,
        lambda v: None if re.fullmatch(r"[A-Za-z0-9]{20,64}", v) else "is 32 letters and digits",
    )


def sample_destinations(settings: Settings) -> tuple[Destination, ...]:
    """The destinations ``deniedwatch routes`` shows (today's defaults named if none)."""
    found = destinations_of(settings, webhook=True)
    return found or (Destination(secrets.LEGACY_DESTINATION, "slack"),)
