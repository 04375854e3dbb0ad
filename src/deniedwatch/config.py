"""The settings file (TOML) and environment -> Settings.

Lookup order for the file: ``--config PATH``, env ``DENIEDWATCH_CONFIG``, then
``./deniedwatch.toml`` if present; otherwise built-in defaults. Every problem is
reported as ``file:line: key: what is wrong`` through ConfigError, never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from deniedwatch.alerts.budget import DEFAULT_MAX_PER_PRINCIPAL, DEFAULT_MAX_POSTS, Budget
from deniedwatch.rules import Ruleset, Suppression, build_ruleset
from deniedwatch.sources.invocation import DEFAULT_LIVE_SOURCE, LIVE_SOURCES

ENV_CONFIG = "DENIEDWATCH_CONFIG"
DEFAULT_FILE = "deniedwatch.toml"


class ConfigError(ValueError):
    """A settings problem a user can fix; the message names file, line and key."""


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


@dataclass(frozen=True)
class Settings:
    ruleset: Ruleset = field(default_factory=Ruleset)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    deploy: DeploySettings = field(default_factory=DeploySettings)
    explain: ExplainSettings = field(default_factory=ExplainSettings)
    source: Path | None = None  # the file these came from, if any
    # ``file:line: ...`` notes about settings that load but may not do what is meant
    # (a suppression any caller can copy); the CLI prints them, the Lambda logs them.
    warnings: tuple[str, ...] = ()


_SUPPRESSION_KEYS = {f.name for f in fields(Suppression)} - {"name"}
_BOOL_SUPPRESSION_KEYS = {"same_account"}
# userIdentity.type values CloudTrail writes (AWS CloudTrail User Guide, "CloudTrail
# userIdentity element": https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
# cloudtrail-event-reference-user-identity.html); a typo would never match.
PRINCIPAL_TYPES = (
    "AWSAccount",
    "AWSService",
    "AssumedRole",
    "Directory",
    "FederatedUser",
    "IAMUser",
    "IdentityCenterUser",
    "Role",
    "Root",
    "SAMLUser",
    "Unknown",
    "WebIdentityUser",
)


class _Reader:
    """Walks the parsed TOML, checking types and naming the line of each bad key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, key: str, table: str | None = None, index: int | None = None) -> int | None:
        """Best-effort line of ``key = …`` inside ``[table]`` (or its index-th ``[[table]]``)."""
        current: str | None = None
        seen = -1
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
        assign = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for number, line in enumerate(self.lines, 1):
            if m := header.match(line):
                current = m.group(1)
                if current == table and line.lstrip().startswith("[["):
                    seen += 1
                continue
            if current == table and (index is None or seen == index) and assign.match(line):
                return number
        inline = re.compile(r"(?:^|[{,])\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for number, line in enumerate(self.lines, 1):
            if inline.search(line):  # also `table = { key = … }`
                return number
        return None

    def header_line(self, table: str, index: int | None = None) -> int | None:
        """Line of the ``[table]`` header (or of the index-th ``[[table]]``)."""
        header = re.compile(r"^\s*\[\[?\s*" + re.escape(table) + r"\s*\]")
        seen = -1
        for number, line in enumerate(self.lines, 1):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    return number
        return None

    def fail(self, key: str, problem: str, table: str | None = None, index: int | None = None):
        name = key.rsplit(".", 1)[-1]
        line = None if "[" in name else self.line_of(name, table, index)
        # A whole table or [[array]] entry is at fault: point at its header.
        line = line or self.header_line(re.sub(r"\[\d+\]$", "", key), index)
        where = f"{self.path}:{line}" if line else str(self.path)
        raise ConfigError(f"{where}: {key}: {problem}")

    def table(self, data: dict[str, Any], name: str, allowed: set[str] | None) -> dict[str, Any]:
        """The [name] table; with ``allowed``, every key in it must be one of those."""
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.fail(name, "must be a table, e.g. [" + name + "]")
        for key in value:
            if allowed is not None and key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail(f"{name}.{key}", f"unknown key (known: {known})", name)
        return value

    def typed(self, table: dict[str, Any], name: str, key: str, kind: type, default: Any) -> Any:
        if key not in table:
            return default
        value = table[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            self.fail(f"{name}.{key}", f"must be {_KIND_NAMES[kind]}, got {value!r}", name)
        if kind is int and value < 0:
            self.fail(f"{name}.{key}", f"must not be negative, got {value}", name)
        return value

    def strings(self, table: dict[str, Any], name: str, key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{name}.{key}", "must be a list of non-empty strings", name)
        return value


_KIND_NAMES = {int: "a whole number", str: "a string", bool: "true or false"}
# A source_ip that is an address or a CIDR, well-formed or not (vs. a service name).
_IP_SHAPED = re.compile(r"[\d.]+(?:/.*)?|[0-9a-fA-F:.%]*:[0-9a-fA-F:.%]*(?:/.*)?|.*/.*")


def _parse_suppressions(
    reader: _Reader, suppress: dict[str, Any], warnings: list[str]
) -> list[Suppression]:
    rules = suppress.get("rule", [])
    if not isinstance(rules, list):
        reader.fail("suppress.rule", "must be an array of tables: [[suppress.rule]]", "suppress")
    parsed = []
    for i, rule in enumerate(rules):
        table = "suppress.rule"
        if not isinstance(rule, dict):
            reader.fail(f"suppress.rule[{i}]", "must be a table", table, i)
        unknown = set(rule) - _SUPPRESSION_KEYS - {"name"}
        if unknown:
            key = sorted(unknown)[0]
            reader.fail(
                f"suppress.rule[{i}].{key}",
                f"unknown key (known: name, {', '.join(sorted(_SUPPRESSION_KEYS))})",
                table,
                i,
            )
        for key, value in rule.items():
            if key in _BOOL_SUPPRESSION_KEYS:
                if not isinstance(value, bool):
                    reader.fail(f"suppress.rule[{i}].{key}", "must be true or false", table, i)
            elif not isinstance(value, str) or not value:
                reader.fail(f"suppress.rule[{i}].{key}", "must be a non-empty string", table, i)
        if rule.get("principal_type", PRINCIPAL_TYPES[0]) not in PRINCIPAL_TYPES:
            problem = f"must be one of {', '.join(PRINCIPAL_TYPES)}"
            reader.fail(f"suppress.rule[{i}].principal_type", problem, table, i)
        if not {k for k in rule if k in _SUPPRESSION_KEYS and rule[k] is not False}:
            reader.fail(
                f"suppress.rule[{i}]",
                "matches everything: give at least one of " + ", ".join(sorted(_SUPPRESSION_KEYS)),
                table,
                i,
            )
        # Anything shaped like an address or CIDR must be one ("10.0.0.256" would
        # otherwise be compared as a plain string and silently never match).
        if "source_ip" in rule and _IP_SHAPED.fullmatch(rule["source_ip"]):
            try:
                ipaddress.ip_network(rule["source_ip"], strict=False)
            except ValueError:
                problem = f"{rule['source_ip']!r} is not an IP address or CIDR"
                reader.fail(f"suppress.rule[{i}].source_ip", problem, table, i)
        parsed.append(Suppression(**{**rule, "name": rule.get("name", f"rule-{i + 1}")}))
        if forgeable := parsed[-1].forgeable_keys():
            line = reader.header_line(table, i)
            where = f"{reader.path}:{line}" if line else str(reader.path)
            warnings.append(
                f"{where}: suppress.rule[{i}] ({parsed[-1].name}) matches only on "
                f"{', '.join(forgeable)}, which the caller chooses: anyone can copy them to "
                "hide their denials. Add principal_arn, caller_account_id, same_account = true "
                "or a source_ip range (docs/alert-policy.md)."
            )
    return parsed


def parse_settings(text: str, path: Path) -> Settings:
    """Settings from TOML text; raises ConfigError naming file, line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's error carries its position only in the text.
        m = re.search(r"at line (\d+)", str(exc))
        line = m.group(1) if m else len(text.splitlines()) or 1
        raise ConfigError(f"{path}:{line}: not valid TOML: {exc}") from None
    reader = _Reader(path, text)
    known_tables = {"denial", "suppress", "accounts", "alerts", "deploy", "explain"}
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
    ruleset = build_ruleset(
        extra_codes=reader.strings(denial, "denial", "extra_codes"),
        ignored_codes=reader.strings(denial, "denial", "ignored_codes"),
        default_suppressions=reader.typed(suppress, "suppress", "defaults", bool, True),
        suppressions=_parse_suppressions(reader, suppress, warnings),
        account_labels=accounts,
    )
    return Settings(
        ruleset=ruleset,
        alerts=_dataclass_from(reader, data, "alerts", AlertSettings),
        deploy=_dataclass_from(reader, data, "deploy", DeploySettings),
        explain=_dataclass_from(reader, data, "explain", ExplainSettings),
        source=path,
        warnings=tuple(warnings),
    )


def _dataclass_from(reader: _Reader, data: dict[str, Any], name: str, cls: type) -> Any:
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
