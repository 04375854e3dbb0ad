"""Read an AWS access-denied errorMessage: which policy type said no, how, on what, and
what a responder does next.

The phrasing follows the IAM user guide's access-denied message formats
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html), e.g.
``User: arn:… is not authorized to perform: s3:GetObject on resource: "arn:…"
with an explicit deny in a service control policy: arn:aws:organizations::…:policy/…``
or ``… because no identity-based policy allows the s3:GetObject action``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class PolicyType:
    """One policy type AWS names in access-denied messages: the one record every lookup
    (message parsing, readable names, hints, docs) is derived from."""

    name: str  # the value in Findings (denial_policy)
    phrase: str  # as the message writes it, lower case: "service control policy"
    words: str  # as people read it: "service control policy (SCP)"
    where: str  # where a responder finds it ("Open the <words> <where> and …")
    doc: str  # AWS's page on this policy type


_IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
_ORGS_GUIDE = "https://docs.aws.amazon.com/organizations/latest/userguide/"
POLICY_KINDS: tuple[PolicyType, ...] = (
    PolicyType(
        "service-control-policy",
        "service control policy",
        "service control policy (SCP)",
        "in AWS Organizations (Policies > Service control policies)",
        _ORGS_GUIDE + "orgs_manage_policies_scps.html",
    ),
    PolicyType(
        "resource-control-policy",
        "resource control policy",
        "resource control policy (RCP)",
        "in AWS Organizations (Policies > Resource control policies)",
        _ORGS_GUIDE + "orgs_manage_policies_rcps.html",
    ),
    PolicyType(
        "identity-based-policy",
        "identity-based policy",
        "identity-based policy",
        "of the caller (its IAM user or role, and the user's groups)",
        _IAM_GUIDE + "access_policies_identity-vs-resource.html",
    ),
    PolicyType(
        "resource-based-policy",
        "resource-based policy",
        "resource-based policy",
        "on the resource itself",
        _IAM_GUIDE + "access_policies_identity-vs-resource.html",
    ),
    PolicyType(
        "permissions-boundary",
        "permissions boundary",
        "permissions boundary",
        "set on the caller's IAM user or role",
        _IAM_GUIDE + "access_policies_boundaries.html",
    ),
    PolicyType(
        "session-policy",
        "session policy",
        "session policy",
        "passed when the caller's session was created",
        _IAM_GUIDE + "access_policies.html#policies_session",
    ),
    PolicyType(
        "vpc-endpoint-policy",
        "vpc endpoint policy",
        "VPC endpoint policy",
        "of the VPC endpoint the call went through",
        "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html",
    ),
)
POLICY_BY_NAME: dict[str, PolicyType] = {p.name: p for p in POLICY_KINDS}
# Phrase in the message -> the policy type name used in Findings.
POLICY_TYPES: dict[str, str] = {p.phrase: p.name for p in POLICY_KINDS}
# Readable names of the policy types, shared by every rendering.
POLICY_WORDS: dict[str, str] = {p.name: p.words for p in POLICY_KINDS}

_TYPE_ALT = "|".join(re.escape(p) for p in POLICY_TYPES)
_EXPLICIT = re.compile(r"with an explicit deny in (?:a|an|the) (" + _TYPE_ALT + ")", re.IGNORECASE)
_IMPLICIT = re.compile(r"because no (" + _TYPE_ALT + ") allows", re.IGNORECASE)
# The resource is quoted, or runs to the next space; punctuation ending a clause
# ("…:alerts." / "…/key, because") is not part of it.
_RESOURCE = re.compile(r'on resource:\s*(?:"([^"]*)"|(\S+?)[.,;]?(?=\s|$))', re.IGNORECASE)
# "… in a service control policy: arn:aws:organizations::1:policy/o-x/service_control_policy/p-y"
# right after the type phrase (a permissions boundary's ARN follows "boundary:", not "policy:")
_POLICY_ARN = re.compile(r":\s*(arn:aws[a-z-]*:[a-z0-9-]+:[^\s\"',;]*[^\s\"',;.])")
# The IAM action, as AWS writes it: "not authorized to perform: s3:GetObject" or
# "because no … allows the s3:GetObject action".
_ACTION_TEXT = r"([a-z0-9][a-z0-9-]*:[A-Za-z0-9*]+)"
_ACTION = re.compile(r"not authorized to perform:\s*" + _ACTION_TEXT)
_ALLOWS_ACTION = re.compile(r"allows the " + _ACTION_TEXT + r" action")
_ACTION_PLACES = (("not authorized to perform:", _ACTION), ("allows the ", _ALLOWS_ACTION))
# VpceAccessDenied: "The request was denied due to a VPC endpoint policy" (CloudTrail
# network activity events, https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-events.html)
_VPCE_POLICY = re.compile(r"due to (?:a|an|the) VPC endpoint policy", re.IGNORECASE)
VPCE_ID = re.compile(r"\bvpce-[0-9a-z]{8,17}\b")
# EC2's "Encoded authorization failure message: <blob>"; decode with
# sts:DecodeAuthorizationMessage (https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html)
_ENCODED = re.compile(r"Encoded authorization failure message:\s*([A-Za-z0-9_\-+/=]{16,})")
_BILLING = re.compile(r"IAM user access (?:is )?not activated", re.IGNORECASE)
# The phrasing before AWS named the policy type (2021) and still seen from some services:
# "… is not authorized to perform: lambda:ListFunctions on resource: * with an explicit
# deny" (the "Before" messages of https://aws.amazon.com/blogs/security/enhanced-access-denied-error-messages-with-policy-arns/).
# Explicit, policy type unknown. Tried only when no typed phrase matched.
_UNTYPED_EXPLICIT = re.compile(r"\bwith an explicit deny\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Explanation:
    policy: str | None
    explicit: bool | None
    resource: str | None
    policy_arn: str | None = None
    action: str | None = None  # the IAM action the message names
    vpc_endpoint_id: str | None = None
    encoded: str | None = None  # EC2's encoded authorization failure message
    billing_access_off: bool = False  # "IAM user access not activated" (an account setting)


NOTHING = Explanation(None, None, None)


def explain(message: str | None) -> Explanation:
    """Pull policy type/ARN, explicit/implicit, action and resource out of a denial message."""
    if not message or not isinstance(message, str):
        return NOTHING
    return _explain(message)


def _policy_of(message: str) -> tuple[str | None, bool | None, re.Match[str] | None]:
    """(policy type, explicit, the typed phrase's match): the first part of ``_explain``."""
    if typed := _EXPLICIT.search(message):
        return POLICY_TYPES[typed.group(1).lower()], True, typed
    if typed := _IMPLICIT.search(message):
        return POLICY_TYPES[typed.group(1).lower()], False, typed
    if _VPCE_POLICY.search(message):
        return "vpc-endpoint-policy", None, None
    return None, (True if _UNTYPED_EXPLICIT.search(message) else None), None


@lru_cache(maxsize=4096)
def explicit_in(message: str | None) -> bool | None:
    """Just ``explain(message).explicit`` (Finding.denial_explicit): what grouping reads of
    every denial to tell severity members apart, without the rest of the explanation."""
    if not message or not isinstance(message, str):
        return None
    return _policy_of(message)[1]


@lru_cache(maxsize=4096)  # a probing key repeats the same few messages many times
def _explain(message: str) -> Explanation:
    policy, explicit, typed = _policy_of(message)
    resource = resource_in(message)
    policy_arn = None
    if typed is not None and (arn := _POLICY_ARN.match(message, typed.end())):
        policy_arn = arn.group(1)
    action = action_in(message)
    vpce = m.group() if (m := VPCE_ID.search(message)) else None
    encoded = m.group(1) if (m := _ENCODED.search(message)) else None
    billing = bool(_BILLING.search(message))
    return Explanation(policy, explicit, resource, policy_arn, action, vpce, encoded, billing)


@lru_cache(maxsize=4096)
def action_in(message: str | None) -> str | None:
    """Just the IAM action a denial message names ("not authorized to perform: X", or
    "… allows the X action"); grouping needs it for every denial, so the regexes run
    only where those words stand."""
    if not message or not isinstance(message, str):
        return None
    for words, pattern in _ACTION_PLACES:
        at = message.find(words)
        if at >= 0 and (m := pattern.search(message, at)):
            return m.group(1)
    return None


@lru_cache(maxsize=4096)
def resource_in(message: str | None) -> str | None:
    """Just the resource of a denial message (grouping needs it for every denial; the
    policy type only for the few it shows): the same as searching with ``_RESOURCE``,
    but the regex runs only where "on resource:" stands, not across the message."""
    if not message or not isinstance(message, str):
        return None
    m = None
    if message.isascii():  # lower() keeps every index: match only where the words are
        lowered, start = message.lower(), 0
        while m is None and (at := lowered.find("on resource:", start)) >= 0:
            m, start = _RESOURCE.match(message, at), at + 1
    else:
        m = _RESOURCE.search(message)
    return ((m.group(1) if m.group(1) is not None else m.group(2)) or None) if m else None


_ASSUME_ROLE = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")

# What a resource-based policy is called, per IAM service prefix (the action's), so the
# hint names the document a responder opens.
RESOURCE_POLICY_NAMES: dict[str, str] = {
    "s3": "bucket policy",
    "kms": "key policy",
    "sts": "role trust policy",
    "lambda": "function's resource-based policy",
    "sqs": "queue policy",
    "sns": "topic policy",
    "secretsmanager": "secret's resource policy",
    "ecr": "repository policy",
    "glacier": "vault access policy",
    "es": "domain access policy",
    "logs": "log group's resource policy",
    "events": "event bus policy",
}


@dataclass(frozen=True, slots=True)
class HintFacts:
    """What the hint reads: the message's explanation plus a few record facts."""

    why: Explanation
    action: str | None
    resource: str | None
    vpc_endpoint_id: str | None
    action_known: bool | None = None


@lru_cache(maxsize=4096)  # the same few (message, action, resource) repeat through a scan
def hint_for(
    why: Explanation,
    action: str | None,
    resource: str | None,
    vpc_endpoint_id: str | None,
    action_known: bool | None = None,
) -> str | None:
    """The responder's next step, or None when nothing useful can be added."""
    return hint(HintFacts(why, action, resource, vpc_endpoint_id, action_known))


def hint(facts: HintFacts) -> str | None:
    """The responder's next step (uncached; ``hint_for`` is the cached entry): what the
    message states comes first; EC2's decode advice is added after it."""
    text = _reason_hint(facts)
    why = facts.why
    if why.encoded:
        decode = (
            "decode it with `aws sts decode-authorization-message --encoded-message <the "
            "encoded message>` (needs sts:DecodeAuthorizationMessage), or turn on [explain] "
            "decode_authorization_messages"
        )
        stated = why.policy is not None or why.explicit is not None
        text = (
            f"{text}. EC2 also encoded the details: {decode}"
            if stated
            else (f"EC2 encoded the reason: {decode}")
        )
    if facts.action_known is False and facts.action:
        text += (
            f" ({facts.action} is not an IAM action AWS lists: the name is as the record wrote it)"
        )
    return text


def resource_policy_name(action: str | None) -> str:
    """'bucket policy' for s3:…, 'key policy' for kms:…, else "resource's policy"."""
    prefix = action.split(":", 1)[0] if action and ":" in action else ""
    return RESOURCE_POLICY_NAMES.get(prefix, "resource's policy")


def _typed(facts: HintFacts, kind: PolicyType) -> str:
    """The policy type is in the message: open that policy (its ARN when given)."""
    why = facts.why
    where = kind.where
    if kind.name == "vpc-endpoint-policy" and facts.vpc_endpoint_id:
        where = f"of {facts.vpc_endpoint_id}"
    elif kind.name == "resource-based-policy":
        where = f"(the {resource_policy_name(facts.action)})"
    look = why.policy_arn or where
    action = facts.action or "this action"
    if why.explicit is False:  # the resource is in the finding: the hint stays one per reason
        return (
            f"No {kind.words} allows {action}: if the call should succeed, add an allow "
            f"of {action} to the {kind.words} {look} (see {kind.doc})"
        )
    check = "the statement that denies" if why.explicit else "what it says of"
    return f"Open the {kind.words} {look} and check {check} {action}"


def _places(facts: HintFacts) -> str:
    """Every policy that could have said no, for a message that names none."""
    places = [
        "the caller's identity-based policies, permissions boundary and session policy",
        f"the {resource_policy_name(facts.action)}",
    ]
    if facts.action and facts.action.startswith("s3:"):
        places.append("S3 Block Public Access")
    if facts.vpc_endpoint_id:
        vpce = facts.vpc_endpoint_id
        places.append(f"the policy of VPC endpoint {vpce} (the call went through it)")
    places.append("any SCP or RCP")
    return ", ".join(places[:-1]) + " or " + places[-1]


def _reason_hint(facts: HintFacts) -> str:
    why = facts.why
    if why.billing_access_off:
        return (
            "An account setting, not a policy: IAM user and role access to Billing "
            "information is not activated (the root user turns it on under Account settings)"
        )
    if why.policy:
        return _typed(facts, POLICY_BY_NAME[why.policy])
    action = facts.action or "this action"
    on = f" on {facts.resource}" if facts.resource else ""
    if why.explicit:
        return (
            f"A Deny statement denies {action}{on}; the message does not say in which "
            f"policy: look in one of: {_places(facts)}"
        )
    if facts.action in _ASSUME_ROLE:
        role = f" of {facts.resource}" if facts.resource else ""
        return (
            f"The role's trust policy{role} does not allow this caller, or the caller's "
            f"own policies lack {facts.action}"
        )
    return f"The message does not name the policy: check {_places(facts)} for {action}{on}"
