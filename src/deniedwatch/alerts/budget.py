"""The alert budget: which alerts of one invocation are posted, and digests for the rest.

Pure: no clock, no I/O. Whoever is denied chooses how many groups a batch holds
(one stolen key trying 300 actions makes 300 groups), so an invocation posts at
most ``Budget.max_posts`` alerts, at most ``max_per_principal`` of them for one
caller, most important first (``severity.importance``). Every alert left over is
counted in one digest per caller; nothing is dropped, and the counts add up:
``sum(posted totals) + sum(digest counts) == sum(all totals)``.
See docs/alert-policy.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from deniedwatch.alerts.group import Alert
from deniedwatch.severity import Importance, from_another_account, importance

DEFAULT_MAX_POSTS = 20
DEFAULT_MAX_PER_PRINCIPAL = 5
# Digests per invocation; callers past this share one "other principals" digest, so
# an attacker with many identities cannot turn digests into a flood of their own.
DEFAULT_MAX_DIGESTS = 10
DIGEST_TOP = 10  # actions a digest lists by name (all are counted)

OTHERS = "*others*"  # the caller key of the digest that merges the least important callers


@dataclass(frozen=True, slots=True)
class Budget:
    max_posts: int = DEFAULT_MAX_POSTS
    max_per_principal: int = DEFAULT_MAX_PER_PRINCIPAL
    max_digests: int = DEFAULT_MAX_DIGESTS


DEFAULT_BUDGET = Budget()


@dataclass(frozen=True)
class Digest:
    """The alerts of one caller that did not get a post of their own, counted in one message.

    ``kind`` is ``"budget"`` (over this invocation's budget) or ``"window"`` (held in
    a dedup window that closed without announcing them).
    """

    caller: str
    alerts: tuple[Alert, ...]  # most important first
    kind: str = "budget"

    @property
    def count(self) -> int:
        return sum(a.total for a in self.alerts)

    @property
    def account_id(self) -> str | None:
        accounts = {a.key.account_id for a in self.alerts}
        return accounts.pop() if len(accounts) == 1 else None

    @property
    def account(self) -> str:
        """The account as shown: its id and label, or "several accounts"."""
        if self.account_id is None:
            return "several accounts"
        label = self.alerts[0].account_label
        return f"{self.account_id} ({label})" if label else self.account_id

    @property
    def who(self) -> str:
        """The caller as people know it: an assumed role's name with its session count."""
        if self.caller == OTHERS:
            return f"{len({a.key.caller for a in self.alerts})} other principals"
        names = {_name(a) for a in self.alerts}
        if len(names) == 1:
            return names.pop()
        role = _name(self.alerts[0]).split("/", 1)[0]
        return f"{role} ({len(names)} sessions)"

    @property
    def actions(self) -> int:
        return len({a.key.action for a in self.alerts})

    @property
    def services(self) -> int:
        return len({(a.key.action or "").split(":", 1)[0] for a in self.alerts})

    def top(self, n: int = DIGEST_TOP) -> list[tuple[str, int]]:
        """The ``n`` actions with the most denials (most important first on a tie)."""
        counts: Counter[str] = Counter()
        for a in self.alerts:
            counts[a.key.action or "unknown action"] += a.total
        order = {action: i for i, action in enumerate(counts)}
        return sorted(counts.items(), key=lambda kv: (-kv[1], order[kv[0]]))[:n]

    def listed(self) -> str:
        """``top 10 listed, all counted`` (or ``all listed``)."""
        shown = len(self.top())
        return "all listed" if shown >= self.actions else f"top {shown} listed, all counted"


def _name(alert: Alert) -> str:
    f = alert.sample
    return f.principal_name or f.principal_arn or alert.key.principal or "an unknown principal"


@dataclass(frozen=True)
class Plan:
    posts: tuple[Alert, ...]  # most important first
    digests: tuple[Digest, ...]  # most important caller first


def rank_key(alert: Alert, new_callers: Collection[str]) -> tuple[Importance, str, str]:
    """``severity.importance`` of an alert, then time and group id (a stable order)."""
    return (
        importance(
            action=alert.key.action,
            principal_type=alert.sample.principal_type,
            count=alert.total,
            new_principal=alert.key.caller in new_callers,
            foreign=from_another_account(alert.sample),
        ),
        alert.first_time or "",
        alert.key.digest(),
    )


def quotas(alert: Alert) -> tuple[str, ...]:
    """The per-caller counts an alert's post uses: its caller's, and for a caller from
    another account, that account's (all its callers together get at most
    ``max_per_principal``: whoever owns an account can make any number of roles in it)."""
    caller = alert.key.caller
    f = alert.sample
    if from_another_account(f):
        return caller, f"from|{alert.key.account_id or ''}|{f.caller_account_id}"
    return (caller,)


def plan(
    alerts: Iterable[Alert], budget: Budget = DEFAULT_BUDGET, *, new_callers: Collection[str] = ()
) -> Plan:
    """Split alerts into posts (within the budget, most important first) and digests."""
    ranked = sorted(alerts, key=lambda a: rank_key(a, new_callers))
    posts: list[Alert] = []
    used: Counter[str] = Counter()
    rest: dict[str, list[Alert]] = {}
    for alert in ranked:
        caller = alert.key.caller
        keys = quotas(alert)
        if len(posts) < budget.max_posts and all(used[k] < budget.max_per_principal for k in keys):
            posts.append(alert)
            used.update(keys)
        else:
            rest.setdefault(caller, []).append(alert)
    return Plan(tuple(posts), tuple(digests(rest, budget.max_digests)))


def digests(by_caller: dict[str, list[Alert]], limit: int, kind: str = "budget") -> list[Digest]:
    """One digest per caller (in the dict's order); past ``limit``, the last ones merge."""
    out = [Digest(caller, tuple(alerts), kind) for caller, alerts in by_caller.items()]
    if len(out) > max(limit, 1):
        keep = max(limit, 1) - 1
        merged = tuple(a for d in out[keep:] for a in d.alerts)
        out = [*out[:keep], Digest(OTHERS, merged, kind)]
    return out


def by_caller(alerts: Sequence[Alert]) -> dict[str, list[Alert]]:
    """Alerts per caller, callers in order of their first alert."""
    out: dict[str, list[Alert]] = {}
    for alert in alerts:
        out.setdefault(alert.key.caller, []).append(alert)
    return out
