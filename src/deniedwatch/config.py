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
from deniedwatch.alerts.channels.base import Destination
from deniedwatch.alerts.routing import Route
from deniedwatch.rules import ERROR_CODE_SHAPE, Ruleset, Suppression, build_ruleset
from deniedwatch.severity import LEVELS, SeverityRule
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
    return _match_rules(reader, suppress, "suppress.rule", set(), warnings)


def _match_rules(
    reader: _Reader, parent: dict[str, Any], table: str, extra: set[str], warnings: list[str]
) -> list[Suppression]:
    """[[suppress.rule]] / [[severity.rule]]: match keys (a Suppression) plus ``extra`` keys."""
    rules = parent.get("rule", [])
    if not isinstance(rules, list):
        reader.fail(table, f"must be an array of tables: [[{table}]]", table.split(".")[0])
    parsed = []
    for i, given in enumerate(rules):
        if not isinstance(given, dict):
            reader.fail(f"{table}[{i}]", "must be a table", table, i)
        unknown = set(given) - _SUPPRESSION_KEYS - {"name"} - extra
        if unknown:
            key = sorted(unknown)[0]
            known = ", ".join(sorted({"name", *extra, *_SUPPRESSION_KEYS}))
            reader.fail(f"{table}[{i}].{key}", f"unknown key (known: {known})", table, i)
        for key, value in given.items():
            if key in _BOOL_SUPPRESSION_KEYS:
                if not isinstance(value, bool):
                    reader.fail(f"{table}[{i}].{key}", "must be true or false", table, i)
            elif not isinstance(value, str) or not value:
                reader.fail(f"{table}[{i}].{key}", "must be a non-empty string", table, i)
        rule = {k: v for k, v in given.items() if k not in extra}
        if rule.get("principal_type", PRINCIPAL_TYPES[0]) not in PRINCIPAL_TYPES:
            problem = f"must be one of {', '.join(PRINCIPAL_TYPES)}"
            reader.fail(f"{table}[{i}].principal_type", problem, table, i)
        if not {k for k in rule if k in _SUPPRESSION_KEYS and rule[k] is not False}:
            reader.fail(
                f"{table}[{i}]",
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
                reader.fail(f"{table}[{i}].source_ip", problem, table, i)
        parsed.append(Suppression(**{**rule, "name": rule.get("name", f"rule-{i + 1}")}))
        if forgeable := parsed[-1].forgeable_keys():
            line = reader.header_line(table, i)
            where = f"{reader.path}:{line}" if line else str(reader.path)
            warnings.append(
                f"{where}: {table}[{i}] ({parsed[-1].name}) matches only on "
                f"{', '.join(forgeable)}, which the caller chooses: anyone can copy them to "
                f"{'hide their denials' if table == 'suppress.rule' else 'change their severity'}. "
                "Add principal_arn, caller_account_id, same_account = true "
                "or a source_ip range (docs/alert-policy.md)."
            )
    return parsed


def _parse_severity(
    reader: _Reader, table: dict[str, Any], warnings: list[str]
) -> tuple[SeverityRule, ...]:
    matches = _match_rules(reader, table, "severity.rule", {"level"}, warnings)
    rules = []
    for i, (given, match) in enumerate(zip(table.get("rule", []), matches, strict=True)):
        level = given.get("level")
        if level not in LEVELS:
            problem = f"must be one of {', '.join(LEVELS)}, got {level!r}"
            reader.fail(f"severity.rule[{i}].level", problem, "severity.rule", i)
        rules.append(SeverityRule(level, match))
    return tuple(rules)


def _parse_ous(reader: _Reader, table: dict[str, Any]) -> dict[str, frozenset[str]]:
    """``[ous]``: OU id -> its accounts; returned as account -> the OUs it is in."""
    out: dict[str, set[str]] = {}
    for ou in table:
        if not re.fullmatch(r"(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})", ou):
            reader.fail(f"ous.{ou}", "an OU id looks like ou-ab12-cd34ef56 (or a root r-ab12)")
        for account in reader.strings(table, "ous", ou):
            if not re.fullmatch(r"\d{12}", account):
                reader.fail(f"ous.{ou}", f"account ids are 12 digits, got {account!r}", "ous")
            out.setdefault(account, set()).add(ou)
    return {a: frozenset(o) for a, o in out.items()}


_DESTINATION_KEYS = {"name", "type", "url_env", "default"}
_NAME = re.compile(r"[a-z0-9-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _array(reader: _Reader, value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        reader.fail(name, f"must be an array of tables: [[{name}]]")
    return value


def _parse_destinations(reader: _Reader, value: Any) -> tuple[Destination, ...]:
    from deniedwatch.alerts.channels.registry import TYPES, channel_type

    table = "destinations"
    parsed: list[Destination] = []
    for i, entry in enumerate(_array(reader, value, table)):

        def fail(key: str, problem: str, i: int = i) -> None:
            reader.fail(f"{table}[{i}].{key}" if key else f"{table}[{i}]", problem, table, i)

        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            fail("name" if "name" in entry else "", "needs a name of a-z, 0-9 and -")
        if any(d.name == name for d in parsed):
            fail("name", f"duplicate destination name {name!r}")
        kind = entry.get("type")
        if kind not in TYPES:
            fail("type" if "type" in entry else "", f"type must be one of {', '.join(TYPES)}")
        spec = channel_type(kind)
        declared = {o.name: o for o in spec.options}  # the type's own keys and their checks
        allowed = _DESTINATION_KEYS | set(declared)
        for key in entry:
            if key not in allowed:
                fail(key, f"unknown key for type {kind} (known: {', '.join(sorted(allowed))})")
        for option in spec.options:
            if option.required and option.name not in entry:
                fail("", f"type {kind} needs {option.name} ({option.description})")
        for key in allowed - {"default"}:
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                fail(key, "must be a non-empty string")
        if "default" in entry and not isinstance(entry["default"], bool):
            fail("default", "must be true or false")
        url_env = entry.get("url_env")
        if url_env is not None and not _ENV_NAME.fullmatch(url_env):
            fail("url_env", f"{url_env!r} is not an environment variable name")
        if url_env is not None and spec.secret is None:
            fail("url_env", f"type {kind} has no secret")
        for key, option in declared.items():
            if key in entry and (problem := option.check(entry[key])):
                fail(key, problem)
        options = {k: v for k, v in entry.items() if k not in _DESTINATION_KEYS}
        parsed.append(
            Destination(
                name=name,
                type=kind,
                url_env=url_env,
                options=options,
                default=entry.get("default"),
                line=reader.header_line(table, i),
            )
        )
    return tuple(parsed)


_ROUTE_LISTS = ("accounts", "ous", "severity", "principal_type", "event_source", "error_code")


def _parse_routes(
    reader: _Reader, value: Any, destinations: tuple[Destination, ...]
) -> tuple[Route, ...]:
    table = "routes"
    known = {d.name for d in destinations}
    allowed = {"name", "destinations", "continue", *_ROUTE_LISTS}
    parsed: list[Route] = []
    for i, entry in enumerate(_array(reader, value, table)):

        def fail(key: str, problem: str, i: int = i) -> None:
            reader.fail(f"{table}[{i}].{key}" if key else f"{table}[{i}]", problem, table, i)

        for key in entry:
            if key not in allowed:
                fail(key, f"unknown key (known: {', '.join(sorted(allowed))})")
        name = entry.get("name", f"route-{i + 1}")
        if not isinstance(name, str) or not name:
            fail("name", "must be a non-empty string")
        if any(r.name == name for r in parsed):
            fail("name", f"duplicate route name {name!r}")
        if "destinations" not in entry:
            fail("", "needs destinations = [...]")
        targets = reader.strings(entry, f"{table}[{i}]", "destinations")
        if not destinations:
            fail("destinations", "routes need [[destinations]] entries to send to")
        for target in targets:
            if target not in known:
                fail(
                    "destinations",
                    f"unknown destination {target!r} (declared: {', '.join(sorted(known))})",
                )
        lists = {
            key: frozenset(reader.strings(entry, f"{table}[{i}]", key)) for key in _ROUTE_LISTS
        }
        for account in lists["accounts"]:
            if not re.fullmatch(r"\d{12}", account):
                fail("accounts", f"account ids are 12 digits, got {account!r}")
        for level in lists["severity"]:
            if level not in LEVELS:
                fail("severity", f"must be among {', '.join(LEVELS)}, got {level!r}")
        for kind in lists["principal_type"]:
            if kind not in PRINCIPAL_TYPES:
                fail("principal_type", f"must be among {', '.join(PRINCIPAL_TYPES)}, got {kind!r}")
        cont = entry.get("continue", False)
        if not isinstance(cont, bool):
            fail("continue", "must be true or false")
        parsed.append(
            Route(
                name=name,
                destinations=tuple(targets),
                continue_=cont,
                line=reader.header_line(table, i),
                **lists,
            )
        )
    return tuple(parsed)


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
    destinations = _parse_destinations(reader, data.get("destinations", []))
    routes = _parse_routes(reader, data.get("routes", []), destinations)
    ruleset = build_ruleset(
        extra_codes=_error_codes(reader, denial, "extra_codes"),
        ignored_codes=_error_codes(reader, denial, "ignored_codes"),
        default_suppressions=reader.typed(suppress, "suppress", "defaults", bool, True),
        suppressions=_parse_suppressions(reader, suppress, warnings),
        account_labels=accounts,
    )
    severity_rules = _parse_severity(reader, reader.table(data, "severity", {"rule"}), warnings)
    return Settings(
        ruleset=ruleset,
        alerts=_dataclass_from(reader, data, "alerts", AlertSettings),
        deploy=_dataclass_from(reader, data, "deploy", DeploySettings),
        destinations=destinations,
        routes=routes,
        severity_rules=severity_rules,
        account_ous=_parse_ous(reader, reader.table(data, "ous", None)),
        explain=_dataclass_from(reader, data, "explain", ExplainSettings),
        source=path,
        warnings=tuple(warnings),
    )


def _error_codes(reader: _Reader, denial: dict[str, Any], key: str) -> list[str]:
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
