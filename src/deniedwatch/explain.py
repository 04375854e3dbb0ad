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

# Phrase in the message -> the policy type name used in Findings.
POLICY_TYPES: dict[str, str] = {
    "service control policy": "service-control-policy",
    "resource control policy": "resource-control-policy",
    "identity-based policy": "identity-based-policy",
    "resource-based policy": "resource-based-policy",
    "permissions boundary": "permissions-boundary",
    "session policy": "session-policy",
    "vpc endpoint policy": "vpc-endpoint-policy",
}

_TYPE_ALT = "|".join(re.escape(p) for p in POLICY_TYPES)
_EXPLICIT = re.compile(r"with an explicit deny in (?:a|an|the) (" + _TYPE_ALT + ")", re.IGNORECASE)
_IMPLICIT = re.compile(r"because no (" + _TYPE_ALT + ") allows", re.IGNORECASE)
# The resource is quoted, or runs to the next space; punctuation ending a clause
# ("…:alerts." / "…/key, because") is not part of it.
_RESOURCE = re.compile(r'on resource:\s*(?:"([^"]*)"|(\S+?)[.,;]?(?=\s|$))', re.IGNORECASE)
# "… in a service control policy: arn:aws:organizations::1:policy/o-x/service_control_policy/p-y"
_POLICY_ARN = re.compile(r"policy:\s*(arn:aws[a-z-]*:[a-z0-9-]+:[^\s\"',;]*[^\s\"',;.])")
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


@lru_cache(maxsize=4096)  # a probing key repeats the same few messages many times
def _explain(message: str) -> Explanation:
    policy: str | None = None
    explicit: bool | None = None
    if m := _EXPLICIT.search(message):
        policy, explicit = POLICY_TYPES[m.group(1).lower()], True
    elif m := _IMPLICIT.search(message):
        policy, explicit = POLICY_TYPES[m.group(1).lower()], False
    elif _VPCE_POLICY.search(message):
        policy = "vpc-endpoint-policy"
    resource = resource_in(message)
    policy_arn = m.group(1) if policy and (m := _POLICY_ARN.search(message)) else None
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


# Readable names of the policy types, shared by every rendering.
POLICY_WORDS = {
    "service-control-policy": "service control policy (SCP)",
    "resource-control-policy": "resource control policy (RCP)",
    "identity-based-policy": "identity-based policy",
    "resource-based-policy": "resource-based policy",
    "permissions-boundary": "permissions boundary",
    "session-policy": "session policy",
    "vpc-endpoint-policy": "VPC endpoint policy",
}

# Where a responder finds each policy type ("Open the <type> <where> and check …").
_WHERE_TO_LOOK = {
    "service-control-policy": "in AWS Organizations (Policies > Service control policies)",
    "resource-control-policy": "in AWS Organizations (Policies > Resource control policies)",
    "identity-based-policy": "of the caller (its IAM user or role, and the user's groups)",
    "resource-based-policy": "on the resource itself",
    "permissions-boundary": "set on the caller's IAM user or role",
    "session-policy": "passed when the caller's session was created",
    "vpc-endpoint-policy": "of the VPC endpoint the call went through",
}


_ASSUME_ROLE = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")


@dataclass(frozen=True, slots=True)
class HintFacts:
    """What the hint reads: the message's explanation plus a few record facts."""

    why: Explanation
    action: str | None
    resource: str | None
    vpc_endpoint_id: str | None


@lru_cache(maxsize=4096)  # the same few (message, action, resource) repeat through a scan
def hint_for(
    why: Explanation, action: str | None, resource: str | None, vpc_endpoint_id: str | None
) -> str | None:
    """The responder's next step, or None when nothing useful can be added."""
    return hint(HintFacts(why, action, resource, vpc_endpoint_id))


def hint(facts: HintFacts) -> str | None:
    """The responder's next step (uncached; ``hint_for`` is the cached entry)."""
    why = facts.why
    if why.encoded:
        return (
            "EC2 encoded the reason: decode it with `aws sts decode-authorization-message "
            "--encoded-message <the encoded message>` (needs sts:DecodeAuthorizationMessage), "
            "or turn on [explain] decode_authorization_messages"
        )
    if why.billing_access_off:
        return (
            "An account setting, not a policy: IAM user and role access to Billing "
            "information is not activated (the root user turns it on under Account settings)"
        )
    if why.policy:
        where = _WHERE_TO_LOOK[why.policy]
        if why.policy == "vpc-endpoint-policy" and facts.vpc_endpoint_id:
            where = f"of {facts.vpc_endpoint_id}"
        look = why.policy_arn or where
        check = {True: "the statement that denies", False: "for an allow of"}.get(
            why.explicit, "what it says of"
        )
        action = facts.action or "this action"
        return f"Open the {POLICY_WORDS[why.policy]} {look} and check {check} {action}"
    if facts.action in _ASSUME_ROLE:
        role = f" of {facts.resource}" if facts.resource else ""
        return (
            f"The role's trust policy{role} does not allow this caller, or the caller's "
            f"own policies lack {facts.action}"
        )
    if facts.vpc_endpoint_id:
        return f"Check the policy of VPC endpoint {facts.vpc_endpoint_id} and the caller's policies"
    action = facts.action or "this action"
    on = f" on {facts.resource}" if facts.resource else ""
    return (
        f"The message does not name the policy: check the caller's identity-based policies and "
        f"permissions boundary, the resource's policy, and any SCP/RCP for {action}{on}"
    )
