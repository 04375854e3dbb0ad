"""Walks the parsed settings TOML, checking types and naming the line of each bad key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A settings problem a user can fix; the message names file, line and key."""


class Reader:
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
