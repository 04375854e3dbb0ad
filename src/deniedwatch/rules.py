"""What counts as a denial, what is suppressed, and the CloudWatch Logs patterns
rendered from the very same rule, so the Lambda, the scan and the subscription
filter can never disagree.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property

from deniedwatch.finding import Finding, RecordLike

# The one list of denial codes. A code is a denial when it starts with one of
# DENIAL_PREFIXES, ends with one of DENIAL_SUFFIXES, or is one of DENIAL_EXACT.
# Only prefix (``X*``) and suffix (``*X``) wildcards: those are the forms the CloudWatch
# Logs documentation shows for JSON patterns ("*Event" matches PutEvent, "Event*" matches
# EventId, "Ev*ent" only the literal text), https://docs.aws.amazon.com/AmazonCloudWatch/
# latest/logs/FilterAndPatternSyntax.html - a wildcard at both ends appears in no example.
DENIAL_PREFIXES: tuple[str, ...] = ("AccessDenied",)
DENIAL_SUFFIXES: tuple[str, ...] = (
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
)
DENIAL_EXACT: tuple[str, ...] = (
    "AuthorizationError",
    "AuthorizationErrorException",
    "ForbiddenException",
    "UnauthorizedException",
)
# What a settings code may look like: it goes verbatim into the filter pattern, where a
# quote would end the string and ``*`` would be a wildcard (a literal in the function).
ERROR_CODE_SHAPE = re.compile(r"[A-Za-z0-9._-]+")

# The CIS / Security Hub CloudWatch.2 metric filter, to the letter: Security Hub and
# Prowler fail any other text. Noise is cut in the Lambda path, never here.
CIS_METRIC_FILTER_PATTERN = (
    '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'
)


@dataclass(frozen=True, slots=True)
class DenialRule:
    """Denial codes: the built-in families plus the settings' extra and ignored codes."""

    extra_codes: frozenset[str] = frozenset()
    ignored_codes: frozenset[str] = frozenset()

    def is_denial(self, error_code: object) -> bool:
        if not isinstance(error_code, str) or not error_code:
            return False
        if error_code in self.ignored_codes:
            return False
        if error_code in self.extra_codes or error_code in DENIAL_EXACT:
            return True
        return error_code.startswith(DENIAL_PREFIXES) or error_code.endswith(DENIAL_SUFFIXES)

    def filter_pattern(self) -> str:
        """The subscription filter pattern (CloudWatch Logs JSON syntax) for this rule."""
        terms = [f'($.errorCode = "{p}*")' for p in DENIAL_PREFIXES]
        terms += [f'($.errorCode = "*{s}")' for s in DENIAL_SUFFIXES]
        terms += [f'($.errorCode = "{c}")' for c in sorted({*DENIAL_EXACT, *self.extra_codes})]
        pattern = " || ".join(terms)
        if self.ignored_codes:
            exclusions = " && ".join(f'($.errorCode != "{c}")' for c in sorted(self.ignored_codes))
            pattern = f"({pattern}) && {exclusions}"
        return "{ " + pattern + " }"


DEFAULT_DENIAL_RULE = DenialRule()


@dataclass(frozen=True)
class Suppression:
    """A named rule: a Finding is suppressed when every field that is set matches.

    Globs (fnmatch, case-sensitive) for principal_arn, event_name and user_agent;
    CIDR for source_ip (a non-IP source such as a service name matches only an
    exact string); exact strings for the rest.
    """

    name: str
    principal_arn: str | None = None
    principal_name: str | None = None
    event_source: str | None = None
    event_name: str | None = None
    error_code: str | None = None
    account_id: str | None = None
    caller_account_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None

    @cached_property
    def _network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        if self.source_ip is None:
            return None
        try:
            return ipaddress.ip_network(self.source_ip, strict=False)
        except ValueError:
            return None

    def _ip_matches(self, ip: str | None) -> bool:
        if ip is None:
            return False
        if self._network is None:
            return ip == self.source_ip
        try:
            return ipaddress.ip_address(ip) in self._network
        except ValueError:
            return False

    def matches(self, f: Finding) -> bool:
        def glob(pattern: str | None, value: str | None) -> bool:
            return pattern is None or (value is not None and fnmatchcase(value, pattern))

        def exact(expected: str | None, value: str | None) -> bool:
            return expected is None or value == expected

        return (
            glob(self.principal_arn, f.principal_arn)
            and exact(self.principal_name, f.principal_name)
            and exact(self.event_source, f.service)
            and glob(self.event_name, f.event_name)
            and exact(self.error_code, f.error_code)
            and exact(self.account_id, f.account_id)
            and exact(self.caller_account_id, f.caller_account_id)
            and (self.source_ip is None or self._ip_matches(f.source_ip))
            and glob(self.user_agent, f.user_agent)
        )


# On unless the settings say `[suppress] defaults = false`.
DEFAULT_SUPPRESSIONS: tuple[Suppression, ...] = (
    # S3 HEAD on a bucket you may not list: SDKs and consoles probe this constantly.
    Suppression(name="default:head-bucket", event_name="HeadBucket"),
    # S3 server access / ELB log delivery probing bucket ACLs.
    Suppression(name="default:log-delivery", source_ip="delivery.logs.amazonaws.com"),
    # Anonymous (unsigned) requests against public endpoints: internet noise.
    Suppression(name="default:anonymous", caller_account_id="ANONYMOUS_PRINCIPAL"),
)


class Verdict(enum.Enum):
    NOT_DENIED = "not-denied"
    SUPPRESSED = "suppressed"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class Detection:
    verdict: Verdict
    finding: Finding | None = None
    suppressed_by: str | None = None


NOT_DENIED = Detection(Verdict.NOT_DENIED)


@dataclass(frozen=True)
class Ruleset:
    """Everything that decides a record's fate; built once from Settings."""

    denial: DenialRule = DEFAULT_DENIAL_RULE
    suppressions: tuple[Suppression, ...] = DEFAULT_SUPPRESSIONS
    account_labels: dict[str, str] = field(default_factory=dict)

    def evaluate(self, record: RecordLike) -> Detection:
        """Decide one CloudTrail record's fate; builds a Finding only for denials."""
        if not self.denial.is_denial(record.get("errorCode")):
            return NOT_DENIED
        finding = Finding.from_record(record)
        for rule in self.suppressions:
            if rule.matches(finding):
                return Detection(Verdict.SUPPRESSED, finding, rule.name)
        return Detection(Verdict.DENIED, finding)

    def label(self, account_id: str | None) -> str | None:
        """The human name the settings give an account, if any."""
        return self.account_labels.get(account_id) if account_id else None


def build_ruleset(
    *,
    extra_codes: Iterable[str] = (),
    ignored_codes: Iterable[str] = (),
    default_suppressions: bool = True,
    suppressions: Iterable[Suppression] = (),
    account_labels: dict[str, str] | None = None,
) -> Ruleset:
    defaults = DEFAULT_SUPPRESSIONS if default_suppressions else ()
    return Ruleset(
        denial=DenialRule(frozenset(extra_codes), frozenset(ignored_codes)),
        suppressions=(*defaults, *suppressions),
        account_labels=dict(account_labels or {}),
    )
