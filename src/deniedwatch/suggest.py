"""`scan --suggest-suppressions`: recurring, routine-looking denials -> TOML rules.

Pure: findings in, suggestions and their TOML text out. A suggestion is one group of
denials with the same principal, action, error code and account, that looks like
routine noise for a stated reason:

- an AWS service's own call (``principal_type = "AWSService"``);
- a security scanner's service-linked role (Config, Inspector, Macie, Access Analyzer,
  Security Hub, GuardDuty): names starting ``AWSServiceRoleFor`` only AWS can create;
- a read-only call (Get/List/Describe/…) repeated on ``MIN_DAYS`` days or more.

A rule never rests on what a caller chooses: not on the user agent (anyone can send
``AWS Internal``), and never for a high-impact action or root (``severity.is_high_impact``:
hiding those is what an attacker wants). Each names the principal by what
cannot be borrowed, the principal type AWSService for a service (see rules.py), else
the principal's ARN (a role: any session of it). Principals without either (anonymous,
another account, federated users whose name the caller picks, root) get no suggestion.
Each rule is exactly the group's keys, so, loaded with ``--config`` and applied to the
same data, it hides exactly the denials it counts (tests/test_suggest.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import tomli_w

from deniedwatch.alerts.text import clean
from deniedwatch.finding import Finding
from deniedwatch.rules import Suppression
from deniedwatch.severity import is_high_impact

MIN_COUNT = 3  # denials a group needs before it is suggested
MIN_DAYS = 3  # distinct days a read-only call must recur on
AWS_SERVICE = "AWSService"

READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet")
SCANNER_ROLES = {
    "AWSServiceRoleForConfig": "AWS Config",
    "AWSServiceRoleForAmazonInspector2": "Amazon Inspector",
    "AWSServiceRoleForAmazonInspector": "Amazon Inspector",
    "AWSServiceRoleForAmazonMacie": "Amazon Macie",
    "AWSServiceRoleForAccessAnalyzer": "IAM Access Analyzer",
    "AWSServiceRoleForSecurityHub": "AWS Security Hub",
    "AWSServiceRoleForAmazonGuardDuty": "Amazon GuardDuty",
}
_ASSUMED_ROLE = re.compile(r"(arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64})/[^/]+")
_IAM_USER = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:user/[\w+=,.@/-]{1,512}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?")
_GLOB = re.compile(r"[*?\[\]]")


@dataclass(frozen=True)
class Suggestion:
    rule: Suppression
    count: int
    first_time: str
    last_time: str
    days: int
    why: str
    principal: str  # what the rule's principal keys name, for the comment


def _anchor(f: Finding) -> tuple[dict[str, str], str] | None:
    """The rule's principal keys and a readable name, or None if the principal could
    be borrowed (or cannot be named safely)."""
    if f.principal_type == AWS_SERVICE:
        if f.principal_name and _SERVICE.fullmatch(f.principal_name):
            keys = {"principal_type": AWS_SERVICE, "principal_name": f.principal_name}
            return keys, f.principal_name
        return None
    arn = f.principal_arn or ""
    if f.principal_type == "AssumedRole" and (m := _ASSUMED_ROLE.fullmatch(arn)):
        return {"principal_arn": m.group(1) + "/*"}, f"role {m.group(1).rsplit('/', 1)[1]}"
    if f.principal_type == "IAMUser" and _IAM_USER.fullmatch(arn):
        return {"principal_arn": arn}, f"user {arn.rsplit('/', 1)[1]}"
    return None


def _reason(f: Finding, principal_keys: dict[str, str], days: int) -> str | None:
    if principal_keys.get("principal_type") == AWS_SERVICE:
        return f"an AWS service's own call ({f.principal_name})"
    role = principal_keys.get("principal_arn", "").removesuffix("/*").rsplit("/", 1)[-1]
    if role in SCANNER_ROLES:
        return f"the {SCANNER_ROLES[role]} scanner's service-linked role"
    if (f.event_name or "").startswith(READ_ONLY_PREFIXES) and days >= MIN_DAYS:
        return f"a read-only call repeated on {days} days"
    return None


def suggest(findings: Iterable[Finding]) -> list[Suggestion]:
    """Groups of routine-looking denials as rules, the largest first."""
    groups: dict[tuple[tuple[str, str], ...], list[Finding]] = {}
    anchors: dict[tuple[tuple[str, str], ...], str] = {}
    for f in findings:
        anchor = _anchor(f)
        if anchor is None or not (f.service and f.event_name and f.error_code and f.account_id):
            continue
        if is_high_impact(f.action, f.principal_type):
            continue  # StopLogging, PutBucketPolicy, root: never a rule to hide them
        if _GLOB.search(f.event_name) or not _SERVICE.fullmatch(f.service):
            continue  # the rule's event_name is a glob: it must match only this name
        principal_keys, name = anchor
        keys = {
            **principal_keys,
            "event_source": f.service,
            "event_name": f.event_name,
            "error_code": f.error_code,
            "account_id": f.account_id,
        }
        key = tuple(keys.items())
        groups.setdefault(key, []).append(f)
        anchors[key] = name
    out = []
    for key, members in groups.items():
        if len(members) < MIN_COUNT:
            continue
        times = sorted(f.event_time for f in members if f.event_time)
        days = len({t[:10] for t in times})
        keys = dict(key)
        why = _reason(members[0], {k: keys[k] for k in keys if k.startswith("principal")}, days)
        if why is None or not times:
            continue
        name = "suggested-" + _slug(f"{anchors[key]}-{keys['event_name']}-{keys['account_id']}")
        out.append(
            Suggestion(
                rule=Suppression(name=name, **keys),
                count=len(members),
                first_time=times[0],
                last_time=times[-1],
                days=days,
                why=why,
                principal=anchors[key],
            )
        )
    out.sort(key=lambda s: (-s.count, s.rule.name))
    return _unique_names(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def _unique_names(suggestions: list[Suggestion]) -> list[Suggestion]:
    seen: dict[str, int] = {}
    out = []
    for s in suggestions:
        n = seen[s.rule.name] = seen.get(s.rule.name, 0) + 1
        if n > 1:
            rule = Suppression(**{**_keys(s.rule), "name": f"{s.rule.name}-{n}"})
            s = Suggestion(rule, s.count, s.first_time, s.last_time, s.days, s.why, s.principal)
        out.append(s)
    return out


def _keys(rule: Suppression) -> dict[str, str]:
    """The rule's set keys, in the order the dataclass declares them (name first)."""
    return {k: v for k, v in vars(rule).items() if v is not None and not k.startswith("_")}


def _t(value: str) -> str:
    return value.replace("T", " ").removesuffix("Z")


def to_toml(suggestions: Sequence[Suggestion], total: int) -> str:
    """The rules as TOML for --config, each with a comment: its count, first and last
    seen, and why it was suggested. Comments hold record text: cleaned to one line."""
    hidden = sum(s.count for s in suggestions)
    lines = [
        "# deniedwatch scan --suggest-suppressions",
        f"# {len(suggestions)} rules for {hidden} of {total} denials. Review each one: a",
        "# suppression hides matching denials from alerts and scans. Append the rules you",
        "# keep to your settings file (or load this file with --config).",
    ]
    for s in suggestions:
        seen = _t(s.first_time) + ("" if s.first_time == s.last_time else f" to {_t(s.last_time)}")
        lines += [
            "",
            f"# {s.count} denials, {seen} UTC, on {s.days} day{'s' if s.days != 1 else ''}",
            f"# why: {clean(s.why)}",
            tomli_w.dumps({"suppress": {"rule": [_keys(s.rule)]}}).rstrip("\n"),
        ]
    return "\n".join(lines) + "\n"
