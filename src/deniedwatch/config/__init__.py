"""The settings file (TOML) and environment -> Settings.

Lookup order for the file: ``--config PATH``, env ``DENIEDWATCH_CONFIG``, then
``./deniedwatch.toml`` if present; otherwise built-in defaults. Every problem is
reported as ``file:line: key: what is wrong`` through ConfigError, never a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from deniedwatch.alerts.budget import DEFAULT_MAX_PER_PRINCIPAL, DEFAULT_MAX_POSTS, Budget
from deniedwatch.alerts.channels.base import Destination
from deniedwatch.alerts.routing import Route
from deniedwatch.config.destinations import parse_destinations, parse_routes
from deniedwatch.config.match_rules import parse_ous, parse_severity, parse_suppressions
from deniedwatch.config.reader import ConfigError, Reader
from deniedwatch.config.triage import TriageSettings, parse_triage
from deniedwatch.livesource import DEFAULT_LIVE_SOURCE, LIVE_SOURCES
from deniedwatch.rules import ERROR_CODE_SHAPE, Ruleset, build_ruleset
from deniedwatch.severity import SeverityRule

__all__ = ["ConfigError"]  # re-exported: every caller catches it from deniedwatch.config

ENV_CONFIG = "DENIEDWATCH_CONFIG"
DEFAULT_FILE = "deniedwatch.toml"
# Where `deploy` puts the settings file inside the function's zip, and so where the
# handler finds it (next to the package: deniedwatch/deniedwatch.toml).
BUNDLED_SETTINGS_ARCNAME = "deniedwatch/deniedwatch.toml"


@dataclass(frozen=True)
class AlertSettings:
    dedup_window_minutes: int = 60
    threshold: int = 1  # alert a group only once it reaches N denials in the window
    max_examples: int = 5
    slack_channel: str | None = None  # shown in the message text, e.g. "#security-alerts"
    # The alert budget (docs/alert-policy.md): posts per invocation, and per caller;
    # what is left over is counted in one digest per caller.
    max_posts_per_batch: int = DEFAULT_MAX_POSTS
    max_posts_per_principal: int = DEFAULT_MAX_PER_PRINCIPAL

    @property
    def budget(self) -> Budget:
        return Budget(self.max_posts_per_batch, self.max_posts_per_principal)


@dataclass(frozen=True)
class ExplainSettings:
    # Opt-in: the function calls sts:DecodeAuthorizationMessage on EC2's encoded
    # messages (its role gets that one permission; see docs/explain.md).
    decode_authorization_messages: bool = False


@dataclass(frozen=True)
class DeploySettings:
    stack_name: str = "deniedwatch"
    region: str | None = None
    email: str | None = None
    code_bucket: str | None = None
    existing_log_group: str | None = None
    log_retention_days: int = 365
    alarm_threshold: int = 1
    alarm_period_seconds: int = 300
    organization_trail: bool = False
    live_source: str = DEFAULT_LIVE_SOURCE  # cloudwatch-logs | eventbridge | both
    queue_batch_size: int = 10  # SQS messages per invocation (eventbridge / both)
    queue_batch_window_seconds: int = 1  # how long Lambda may wait to fill a batch
    trail_bucket: str | None = None  # default: a name CloudFormation generates
    trail_bucket_retention_days: int = 365


@dataclass(frozen=True)
class Settings:
    ruleset: Ruleset = field(default_factory=Ruleset)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    deploy: DeploySettings = field(default_factory=DeploySettings)
    destinations: tuple[Destination, ...] = ()  # [[destinations]]; none: today's env vars
    routes: tuple[Route, ...] = ()  # [[routes]]; none: everything to the defaults
    severity_rules: tuple[SeverityRule, ...] = ()  # [[severity.rule]]
    account_ous: dict[str, frozenset[str]] = field(default_factory=dict)  # from [ous]
    explain: ExplainSettings = field(default_factory=ExplainSettings)
    triage: TriageSettings = field(default_factory=TriageSettings)  # docs/triage.md
    source: Path | None = None  # the file these came from, if any
    # ``file:line: ...`` notes about settings that load but may not do what is meant
    # (a suppression any caller can copy); the CLI prints them, the Lambda logs them.
    warnings: tuple[str, ...] = ()


def parse_settings(text: str, path: Path) -> Settings:
    """Settings from TOML text; raises ConfigError naming file, line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's error carries its position only in the text.
        m = re.search(r"at line (\d+)", str(exc))
        line = m.group(1) if m else len(text.splitlines()) or 1
        raise ConfigError(f"{path}:{line}: not valid TOML: {exc}") from None
    reader = Reader(path, text)
    known_tables = {
        "denial",
        "suppress",
        "accounts",
        "alerts",
        "deploy",
        "destinations",
        "routes",
        "severity",
        "ous",
        "explain",
        "triage",
    }
    for key in data:
        if key not in known_tables:
            reader.fail(key, f"unknown section (known: {', '.join(sorted(known_tables))})")

    denial = reader.table(data, "denial", {"extra_codes", "ignored_codes"})
    suppress = reader.table(data, "suppress", {"defaults", "rule"})
    accounts = reader.table(data, "accounts", None)
    for account, label in accounts.items():
        if not re.fullmatch(r"\d{12}", account):
            reader.fail(f"accounts.{account}", "account ids are 12 digits", "accounts")
        if not isinstance(label, str):
            reader.fail(f"accounts.{account}", "the label must be a string", "accounts")

    warnings: list[str] = []
    destinations = parse_destinations(reader, data.get("destinations", []))
    routes = parse_routes(reader, data.get("routes", []), destinations)
    ruleset = build_ruleset(
        extra_codes=_error_codes(reader, denial, "extra_codes"),
        ignored_codes=_error_codes(reader, denial, "ignored_codes"),
        default_suppressions=reader.typed(suppress, "suppress", "defaults", bool, True),
        suppressions=parse_suppressions(reader, suppress, warnings),
        account_labels=accounts,
    )
    severity_rules = parse_severity(reader, reader.table(data, "severity", {"rule"}), warnings)
    return Settings(
        ruleset=ruleset,
        alerts=_dataclass_from(reader, data, "alerts", AlertSettings),
        deploy=_dataclass_from(reader, data, "deploy", DeploySettings),
        destinations=destinations,
        routes=routes,
        severity_rules=severity_rules,
        account_ous=parse_ous(reader, reader.table(data, "ous", None)),
        explain=_dataclass_from(reader, data, "explain", ExplainSettings),
        triage=parse_triage(reader, data, routes, destinations),
        source=path,
        warnings=tuple(warnings),
    )


def _error_codes(reader: Reader, denial: dict[str, Any], key: str) -> list[str]:
    """Codes go verbatim into the filter pattern: a quote would break it, and ``*`` is a
    CloudWatch wildcard there but a literal in the function (so ``"*Denied"`` in
    ignored_codes would drop every AccessDenied before the function saw it)."""
    codes = reader.strings(denial, "denial", key)
    for code in codes:
        if not ERROR_CODE_SHAPE.fullmatch(code):
            reader.fail(
                f"denial.{key}",
                f"{code!r} is not an error code: letters, digits, '.', '_' and '-' only "
                "(no wildcards, quotes or spaces)",
                "denial",
            )
    return codes


def _dataclass_from(reader: Reader, data: dict[str, Any], name: str, cls: type) -> Any:
    kinds = {f.name: f.type for f in fields(cls)}
    table = reader.table(data, name, set(kinds))
    values = {}
    for key, kind in kinds.items():
        base = {"int": int, "bool": bool}.get(str(kind), str)
        values[key] = reader.typed(table, name, key, base, getattr(cls(), key))
    at_least_one = (
        "dedup_window_minutes",
        "threshold",
        "max_examples",
        "max_posts_per_batch",
        "max_posts_per_principal",
        "queue_batch_size",
    )
    for key in at_least_one:
        if key in values and key in table and values[key] < 1:
            reader.fail(f"{name}.{key}", "must be at least 1", name)
    if values.get("live_source", DEFAULT_LIVE_SOURCE) not in LIVE_SOURCES:
        reader.fail(f"{name}.live_source", "must be one of " + ", ".join(LIVE_SOURCES), name)
    return cls(**values)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Which settings file applies, or None for built-in defaults."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    path = config_path(explicit)
    if path is None:
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from None
    return parse_settings(text, path)
