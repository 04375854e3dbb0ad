"""Read an AWS access-denied errorMessage: which policy type said no, how, and on what.

The phrasing follows the IAM user guide's access-denied message formats, e.g.
``User: arn:… is not authorized to perform: s3:GetObject on resource: "arn:…"
with an explicit deny in a service control policy`` or ``… because no
identity-based policy allows the s3:GetObject action``.
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


@dataclass(frozen=True, slots=True)
class Explanation:
    policy: str | None
    explicit: bool | None
    resource: str | None


NOTHING = Explanation(None, None, None)


def explain(message: str | None) -> Explanation:
    """Pull policy type, explicit/implicit and resource out of a denial message."""
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
    return Explanation(policy, explicit, resource_in(message))


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
