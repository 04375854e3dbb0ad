"""The settings' [suppress] rules, [[severity.rule]] and [ous]: rules that match a denial
by its caller, with warnings for rules whose keys an attacker chooses."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import fields
from typing import Any

from deniedwatch.config.reader import Reader
from deniedwatch.rules import Suppression
from deniedwatch.severity import LEVELS, SeverityRule

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


_IP_SHAPED = re.compile(r"[\d.]+(?:/.*)?|[0-9a-fA-F:.%]*:[0-9a-fA-F:.%]*(?:/.*)?|.*/.*")


def parse_suppressions(
    reader: Reader, suppress: dict[str, Any], warnings: list[str]
) -> list[Suppression]:
    return _match_rules(reader, suppress, "suppress.rule", set(), warnings)


def _match_rules(
    reader: Reader, parent: dict[str, Any], table: str, extra: set[str], warnings: list[str]
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
                f"{where}: {table}[{i}] ({parsed[-1].name}) is not pinned: it matches on "
                f"{', '.join(forgeable)}, which the caller chooses: anyone can copy them to "
                f"{'hide their denials' if table == 'suppress.rule' else 'change their severity'}. "
                "Pin it with a principal_arn of a literal account id and role or user name, "
                'or principal_type = "AWSService" (docs/alert-policy.md).'
            )
    return parsed


def parse_severity(
    reader: Reader, table: dict[str, Any], warnings: list[str]
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


def parse_ous(reader: Reader, table: dict[str, Any]) -> dict[str, frozenset[str]]:
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
