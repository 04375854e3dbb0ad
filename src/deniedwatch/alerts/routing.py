"""Routes -> destinations: which destinations an alert goes to. Pure.

Routes are tried in order; a route matches when every filter it sets matches
(accounts, ous, severity, principal_type, event_source, error_code). The first
matching route wins unless it says ``continue = true``, in which case the next
routes are tried too. An alert no route takes goes to the default destinations
(every destination that does not page, unless some are marked ``default``).
With no routes at all, everything goes to the default destinations: today's
behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from deniedwatch.finding import Finding

Severity = Callable[[Finding], str]


# The Finding fields a route reads besides the severity (``Route.matches``).
ROUTE_READS: frozenset[str] = frozenset({"account_id", "principal_type", "service", "error_code"})


@dataclass(frozen=True)
class Route:
    """One ``[[routes]]`` entry of the settings."""

    name: str
    destinations: tuple[str, ...]
    accounts: frozenset[str] = frozenset()
    ous: frozenset[str] = frozenset()
    severity: frozenset[str] = frozenset()
    principal_type: frozenset[str] = frozenset()
    event_source: frozenset[str] = frozenset()
    error_code: frozenset[str] = frozenset()
    continue_: bool = False
    line: int | None = None

    def matches(self, f: Finding, level: str, ous: frozenset[str]) -> bool:
        def ok(allowed: frozenset[str], value: str | None) -> bool:
            return not allowed or value in allowed

        return (
            ok(self.accounts, f.account_id)
            and (not self.ous or bool(self.ous & ous))
            and ok(self.severity, level)
            and ok(self.principal_type, f.principal_type)
            and ok(self.event_source, f.service)
            and ok(self.error_code, f.error_code)
        )


@dataclass(frozen=True)
class Decision:
    """Where one finding goes and why (``deniedwatch routes`` prints this)."""

    severity: str
    routes: tuple[str, ...]  # the routes that matched, in order ("(default)" for none)
    destinations: tuple[str, ...]


@dataclass(frozen=True)
class Router:
    routes: tuple[Route, ...]
    defaults: tuple[str, ...]  # destinations for alerts no route takes
    severity: Severity
    account_ous: Mapping[str, frozenset[str]] = field(default_factory=dict)  # account -> OU ids

    def decide(self, f: Finding) -> Decision:
        level = self.severity(f)
        ous = self.account_ous.get(f.account_id or "", frozenset())
        matched: list[str] = []
        chosen: list[str] = []
        for route in self.routes:
            if not route.matches(f, level, ous):
                continue
            matched.append(route.name)
            chosen += [d for d in route.destinations if d not in chosen]
            if not route.continue_:
                break
        if not matched:
            return Decision(level, ("(default)",), self.defaults)
        return Decision(level, tuple(matched), tuple(chosen))

    def destinations(self, f: Finding) -> tuple[str, ...]:
        return self.decide(f).destinations


def default_destinations(
    names: Sequence[str], marked: Sequence[bool | None], pages: Sequence[bool]
) -> tuple[str, ...]:
    """Marked ``default = true`` ones if any, else every destination that does not page."""
    if any(m for m in marked):
        return tuple(n for n, m in zip(names, marked, strict=True) if m)
    return tuple(
        n for n, m, p in zip(names, marked, pages, strict=True) if m is not False and not p
    )
