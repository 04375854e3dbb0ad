"""What counts as a denial, what is suppressed, and the CloudWatch Logs and
EventBridge patterns rendered from the very same rule, so the Lambda, the scan,
the subscription filter and the EventBridge rule can never disagree.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from functools import cached_property, lru_cache
from typing import Any

from deniedwatch.finding import Finding, RecordLike, RecordView

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

# CloudTrail's events on the EventBridge default bus carry this detail-type; their
# source is "aws.<service>", which PutEvents refuses to anyone else, so matching the
# prefix keeps forged events out of the fast path.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
AWS_SOURCE_PREFIX = "aws."

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
        return _is_denial(self, error_code)

    def _decide(self, error_code: str) -> bool:
        if error_code in self.ignored_codes:
            return False
        if error_code in self.extra_codes or error_code in DENIAL_EXACT:
            return True
        return error_code.startswith(DENIAL_PREFIXES) or error_code.endswith(DENIAL_SUFFIXES)

    def filter_pattern(self) -> str:
        """The subscription filter pattern (CloudWatch Logs JSON syntax) for this rule."""
        terms = [f'($.errorCode = "{p}*")' for p in DENIAL_PREFIXES]
        terms += [f'($.errorCode = "*{s}")' for s in DENIAL_SUFFIXES]
        return self._with_exact_codes(terms)

    def filter_pattern_regex(self) -> str:
        """The same rule with the families as ONE regular expression instead of four
        wildcards: deploy's fallback if CloudWatch Logs refuses the wildcard form (a third
        party claims a cap on wildcards per pattern that AWS's pages do not state).
        CloudWatch Logs' regex has no parentheses, so each family is its own alternative,
        written to match whether the value is searched or matched whole:
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/regex-expressions.html"""
        families = [f"^{p}.*" for p in DENIAL_PREFIXES]
        families += [f".*{s}$" for s in DENIAL_SUFFIXES]
        return self._with_exact_codes([f"($.errorCode = %{'|'.join(families)}%)"])

    def _with_exact_codes(self, terms: list[str]) -> str:
        terms = [
            *terms,
            *(f'($.errorCode = "{c}")' for c in sorted({*DENIAL_EXACT, *self.extra_codes})),
        ]
        pattern = " || ".join(terms)
        if self.ignored_codes:
            exclusions = " && ".join(f'($.errorCode != "{c}")' for c in sorted(self.ignored_codes))
            pattern = f"({pattern}) && {exclusions}"
        return "{ " + pattern + " }"

    def event_pattern(self) -> dict[str, object]:
        """The EventBridge event pattern for this rule, on ``detail.errorCode``.

        Documented matching (case-sensitive; "*" in a wildcard is zero or more characters):
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
        A field's values are ORed and EventBridge cannot AND two conditions on one field,
        so an ignored code is left out of the exact list but still reaches the function
        when a family covers it; the function's is_denial drops it (``pattern_routes``).
        """
        codes: list[object] = [{"prefix": p} for p in DENIAL_PREFIXES]
        codes += [{"suffix": s} for s in DENIAL_SUFFIXES]
        codes += sorted({*DENIAL_EXACT, *self.extra_codes} - self.ignored_codes)
        return {
            "source": [{"prefix": AWS_SOURCE_PREFIX}],
            "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
            "detail": {"errorCode": codes},
        }

    def pattern_routes(self, error_code: object) -> bool:
        """What ``event_pattern`` lets through: every denial, plus ignored codes a family
        covers (EventBridge has no "and not" on one field)."""
        if not isinstance(error_code, str) or not error_code:
            return False
        if error_code in ({*DENIAL_EXACT, *self.extra_codes} - self.ignored_codes):
            return True
        return error_code.startswith(DENIAL_PREFIXES) or error_code.endswith(DENIAL_SUFFIXES)


@lru_cache(maxsize=1024)  # a batch holds a handful of distinct codes
def _is_denial(rule: DenialRule, error_code: str) -> bool:
    return rule._decide(error_code)


DEFAULT_DENIAL_RULE = DenialRule()


# A principal name or source that is an AWS service (config.amazonaws.com,
# delivery.logs.amazonaws.com; China regions end in .amazonaws.com.cn).
_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?")
AWS_SERVICE = "AWSService"  # userIdentity.type of a call an AWS service made itself


def is_service_name(value: str | None) -> bool:
    return value is not None and _SERVICE_NAME.fullmatch(value) is not None


@dataclass(frozen=True)
class Suppression:
    """A named rule: a Finding is suppressed when every field that is set matches.

    Globs (fnmatch, case-sensitive) for principal_arn, event_name and user_agent;
    CIDR for source_ip (a non-IP source such as a service name matches only an
    exact string); exact strings for the rest. ``same_account`` matches callers of
    the account that received the call (userIdentity.accountId = recipientAccountId).

    A principal_name that names an AWS service matches only principal_type
    AWSService: anyone can call sts:GetFederationToken --name config.amazonaws.com
    or create an IAM user of that name, but not make a call as the service.
    """

    name: str
    principal_arn: str | None = None
    principal_name: str | None = None
    principal_type: str | None = None
    event_source: str | None = None
    event_name: str | None = None
    error_code: str | None = None
    account_id: str | None = None
    caller_account_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    same_account: bool | None = None

    @cached_property
    def _network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        if self.source_ip is None:
            return None
        try:
            return ipaddress.ip_network(self.source_ip, strict=False)
        except ValueError:
            return None

    @cached_property
    def _principal_type(self) -> str | None:
        if self.principal_type is None and is_service_name(self.principal_name):
            return AWS_SERVICE
        return self.principal_type

    def _ip_matches(self, ip: str | None) -> bool:
        if ip is None:
            return False
        if self._network is None:
            return ip == self.source_ip
        try:
            return ipaddress.ip_address(ip) in self._network
        except ValueError:
            return False

    @cached_property
    def _checks(self) -> tuple[tuple[str, Callable[[Any], bool]], ...]:
        """(field, test) for each key the rule sets, cheapest and most selective first:
        matching reads only those fields (of a Finding or a finding.RecordView)."""

        def glob(pattern: str) -> Callable[[Any], bool]:
            if not any(c in pattern for c in "*?["):
                return lambda v: v == pattern
            return lambda v: v is not None and fnmatchcase(v, pattern)

        def exact(expected: str) -> Callable[[Any], bool]:
            return lambda v: v == expected

        checks: list[tuple[str, Callable[[Any], bool]]] = []
        for name, value, test in (
            ("event_name", self.event_name, glob),
            ("error_code", self.error_code, exact),
            ("service", self.event_source, exact),
            ("caller_account_id", self.caller_account_id, exact),
            ("account_id", self.account_id, exact),
            ("principal_type", self._principal_type, exact),
            ("principal_arn", self.principal_arn, glob),
            ("user_agent", self.user_agent, glob),
            ("principal_name", self.principal_name, exact),
        ):
            if value is not None:
                checks.append((name, test(value)))
        if self.source_ip is not None:
            checks.append(("source_ip", self._ip_matches))
        return tuple(checks)

    def reads(self) -> frozenset[str]:
        """The Finding fields ``matches`` reads (grouping keeps one member per distinct
        value of what severity rules read: ``severity.fields_read``)."""
        same = ("caller_account_id", "account_id") if self.same_account else ()
        return frozenset((*(name for name, _ in self._checks), *same))

    def matches(self, f: Finding | RecordView) -> bool:
        """Every key the rule sets matches (a Finding, or a raw record's RecordView)."""
        for name, test in self._checks:
            if not test(getattr(f, name)):
                return False
        return not self.same_account or _same_account(f)

    def forgeable_keys(self) -> list[str]:
        """The keys of a rule that match on what the caller chooses, unless it is pinned.

        user_agent, a principal_name that is not an AWS service, a source_ip that is a
        service name (a call made through CloudFormation, say) and a principal_arn glob
        over the account or the role/user name (``arn:aws:sts::*:assumed-role/terraform-*``:
        anyone can create ``terraform-evil`` in their own account) are all picked by
        whoever makes the call. A rule is pinned only by a principal_arn with a literal
        account id and a role or user name without wildcards (``pinned_arn``), or by
        principal_type AWSService (a call the service itself made). ``same_account``,
        ``caller_account_id`` and a source_ip range pin no one: every principal of the
        account (or the network) can copy the rest (docs/alert-policy.md).
        """
        forgeable = []
        if self.principal_arn is not None and not pinned_arn(self.principal_arn):
            forgeable.append("principal_arn")
        if self.user_agent is not None:
            forgeable.append("user_agent")
        if self.principal_name is not None and not is_service_name(self.principal_name):
            forgeable.append("principal_name")
        if self.source_ip is not None and self._network is None:
            forgeable.append("source_ip")
        anchored = (
            self.principal_arn is not None and pinned_arn(self.principal_arn)
        ) or self._principal_type == AWS_SERVICE
        return [] if anchored else forgeable


# arn:<partition>:iam::<12 digits>:user/<path/name> | role/<path/name> | root, or
# arn:<partition>:sts::<12 digits>:assumed-role/<role>/<session (may be a glob)>
_PINNED_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:iam::\d{12}:(?:(?:user|role)/[^*?\[\]]+|root)"
    r"|sts::\d{12}:assumed-role/[^*?\[\]/]+/.+)"
)


def pinned_arn(pattern: str) -> bool:
    """A principal ARN (glob) naming one account and one user or role: only an assumed
    role's session name, which the caller picks anyway, may be a wildcard."""
    return _PINNED_ARN.fullmatch(pattern) is not None


def _same_account(f: Finding | RecordView) -> bool:
    return f.caller_account_id is not None and f.caller_account_id == f.account_id


# On unless the settings say `[suppress] defaults = false`.
DEFAULT_SUPPRESSIONS: tuple[Suppression, ...] = (
    # S3 HEAD on a bucket you may not list: SDKs and consoles of your own account probe
    # this constantly. Only your own account's callers: from anywhere else it is probing.
    Suppression(name="default:head-bucket", event_name="HeadBucket", same_account=True),
    # S3 server access / ELB log delivery probing bucket ACLs (the service itself).
    Suppression(
        name="default:log-delivery",
        source_ip="delivery.logs.amazonaws.com",
        principal_type=AWS_SERVICE,
    ),
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
DENIED = Detection(Verdict.DENIED)


@dataclass(frozen=True)
class Ruleset:
    """Everything that decides a record's fate; built once from Settings."""

    denial: DenialRule = DEFAULT_DENIAL_RULE
    suppressions: tuple[Suppression, ...] = DEFAULT_SUPPRESSIONS
    account_labels: dict[str, str] = field(default_factory=dict)

    def classify(self, record: RecordLike) -> Detection:
        """Decide one CloudTrail record's fate without building a Finding (the live
        path builds Findings only for what it renders)."""
        if not self.denial.is_denial(record.get("errorCode")):
            return NOT_DENIED
        if self.suppressions:
            view = RecordView(record)
            for rule in self.suppressions:
                if rule.matches(view):
                    return Detection(Verdict.SUPPRESSED, None, rule.name)
        return DENIED

    def evaluate(self, record: RecordLike) -> Detection:
        """Decide one CloudTrail record's fate; builds a Finding only for denials."""
        detection = self.classify(record)
        if detection.verdict is Verdict.NOT_DENIED:
            return detection
        return replace(detection, finding=Finding.from_record(record))

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
