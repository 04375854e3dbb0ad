"""The settings' [[destinations]] and [[routes]]: where alerts go, and which go where."""

from __future__ import annotations

import re
from typing import Any

from deniedwatch.alerts.channels.base import Destination
from deniedwatch.alerts.routing import Route
from deniedwatch.config.match_rules import PRINCIPAL_TYPES
from deniedwatch.config.reader import Reader
from deniedwatch.severity import LEVELS

_DESTINATION_KEYS = {"name", "type", "url_env", "default"}
_NAME = re.compile(r"[a-z0-9-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _array(reader: Reader, value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        reader.fail(name, f"must be an array of tables: [[{name}]]")
    return value


def parse_destinations(reader: Reader, value: Any) -> tuple[Destination, ...]:
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


def parse_routes(
    reader: Reader, value: Any, destinations: tuple[Destination, ...]
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
