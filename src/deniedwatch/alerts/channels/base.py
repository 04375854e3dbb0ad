"""The channel interface: what every destination type provides, and what building one needs.

A destination type is one module in this package holding a ``TYPE`` (its
settings keys, its secret, how to build it) and a channel class with
``send(alert)`` and ``send_digest(digest)``. Channels render with the shared
wording and send; they never import the delivery loop or each other.
``registry.py`` names the modules.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut
from deniedwatch.alerts.wording import Story
from deniedwatch.finding import Finding
from deniedwatch.secrets import redact

Sleep = Callable[[float], None]


class DeliveryFailed(RuntimeError):
    """One alert could not reach one destination; the text holds no secret."""


REASON_MAX = 300  # a failure's reason, as logged and raised


def failure_reason(exc: BaseException) -> str:
    """A channel's own words (DeliveryFailed), else the exception's type and text; redacted,
    cleaned, cut."""
    text = str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
    return cut(redact(clean(text)), REASON_MAX)


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """Where a posted alert lives, so repeats can go into its thread (Slack app)."""

    channel: str
    ts: str


class Channel(Protocol):
    name: str  # the destination's name: what the dedup store records as reached

    def send(self, alert: Alert) -> ThreadRef | None:
        """Deliver or raise DeliveryFailed; a threaded channel returns where it posted."""
        ...

    def send_digest(self, digest: Digest) -> None:
        """Deliver one digest (alerts counted together) or raise DeliveryFailed."""
        ...


@runtime_checkable
class Threaded(Protocol):
    """A channel that puts repeats of a posted alert into the first post's thread."""

    name: str

    def send(self, alert: Alert) -> ThreadRef | None: ...

    def reply(self, alert: Alert, thread: ThreadRef, story: Story) -> None:
        """Post ``alert`` as a repeat in ``thread`` and show the group's ``story`` (every
        denial so far, since when, its first event) on the parent."""
        ...


@dataclass(frozen=True)
class Destination:
    """One ``[[destinations]]`` entry of the settings."""

    name: str
    type: str
    url_env: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # the type's own keys
    default: bool | None = None  # receives alerts no route takes (None: unless it pages)
    line: int | None = None  # where it is written, for messages

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


@dataclass
class Context:
    """What building a channel needs beyond its settings: the secret and the clocks."""

    secret: Callable[[], str]  # the destination's secret, read when first needed
    forget_secret: Callable[[], None] = lambda: None  # it was rejected: read again next time
    window_minutes: int | None = None
    slack_channel: str | None = None  # the label [alerts] slack_channel shows
    timeout: int = 10
    sleep: Sleep = time.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], float] = time.time
    client: Callable[[str], Any] | None = None  # boto3 client factory (sns), lazily boto3
    severity: Callable[[Finding], str] = lambda _f: "medium"  # the settings' severity()
    # triage.buttons.Buttons: the actions block a slack-app message carries (None: none)
    buttons: Any = None
    # seconds the current invocation has left (set per delivery; None: no deadline)
    time_left: Callable[[], float] | None = None

    def seconds_left(self) -> float | None:
        return self.time_left() if self.time_left is not None else None


Check = Callable[[str], "str | None"]  # a value's problem, or None


def _any(_value: str) -> str | None:
    return None


@dataclass(frozen=True)
class Option:
    """One key of a ``[[destinations]]`` entry of a type: declared beside the type's code,
    so the settings check it (every value is a non-empty string first) without knowing
    the type."""

    name: str
    description: str
    check: Check = _any
    required: bool = False


def https_url(value: str) -> str | None:
    """An endpoint the function posts to: https, or http to loopback (tests, stand-ins)."""
    from deniedwatch.urls import https_or_loopback

    if not https_or_loopback(value):
        return "must be an https:// URL (http:// only for localhost)"
    return None


def arn_check(service: str, what: str, resource: str = ".+") -> Check:
    """A check that the value is an ARN of ``service`` in any partition, with an account."""
    shape = re.compile(rf"arn:aws[a-z-]*:{service}:[^:]+:\d{{12}}:{resource}")

    def check(value: str) -> str | None:
        return None if shape.fullmatch(value) else f"{value!r} is not {what}"

    return check


@dataclass(frozen=True)
class ChannelType:
    """A destination type as the settings, the CLI and the factory see it."""

    name: str
    build: Callable[[Destination, Context], Channel]
    options: tuple[Option, ...] = ()  # the keys a [[destinations]] entry of it may have
    secret: str | None = "secret"  # what the secret is ("Slack bot token"); None: no secret
    check_secret: Callable[[str], str | None] = lambda _value: None  # a problem, or None
    pages: bool = False  # wakes people up: only routes that name it reach it
