"""Deploy-time proof that EventBridge matches the rendered pattern as the code decides.

Before the stack is created, ``check_event_pattern`` asks AWS (events:TestEventPattern)
whether the pattern matches sample envelopes: one per denial family and exact code, and
non-denials chosen to catch a wrong operator (case, a suffix that is not at the end, a
substring of an exact code, no errorCode, a source that is not AWS). If AWS disagrees
with the rule (``DenialRule.pattern_routes``) anywhere, deploy refuses.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deniedwatch.deploy.plan import PlanError
from deniedwatch.rules import (
    CLOUDTRAIL_DETAIL_TYPE,
    DENIAL_EXACT,
    DENIAL_PREFIXES,
    DENIAL_SUFFIXES,
    DenialRule,
)

# Real codes of each family, beside the bare family names.
FAMILY_EXAMPLES = ("AccessDeniedException", "VpceAccessDenied", "Client.UnauthorizedOperation")
NON_DENIALS = (
    None,  # no errorCode: the call succeeded
    "ThrottlingException",
    "NoSuchKey",
    "accessdenied",  # matching is case-sensitive, and so is the rule
    "ACCESSDENIEDEXCEPTION",
    "UnauthorizedOperationPending",  # the suffix family needs the suffix at the end
    "Forbidden",  # a piece of an exact code is not that code
    "ForbiddenExceptionX",
    "",
)


@dataclass(frozen=True)
class Sample:
    name: str  # what it tests, for the refusal message
    envelope: dict[str, Any]
    expected: bool  # should the pattern match it?


def envelope(error_code: str | None, *, source: str = "aws.s3") -> dict[str, Any]:
    """An EventBridge envelope of a CloudTrail record, with the fields TestEventPattern
    requires (id, account, source, time, region, resources, detail-type)."""
    detail: dict[str, Any] = {
        "eventVersion": "1.10",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "eventID": "00000000-0000-4000-8000-000000000000",
        "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
    }
    if error_code is not None:
        detail["errorCode"] = error_code
    return {
        "version": "0",
        "id": "11111111-2222-4333-8444-555555555555",
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": source,
        "account": "111122223333",
        "time": "2026-11-20T09:05:31Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def samples(rule: DenialRule) -> list[Sample]:
    codes = [
        *DENIAL_PREFIXES,
        *DENIAL_SUFFIXES,
        *FAMILY_EXAMPLES,
        *sorted(DENIAL_EXACT),
        *sorted(rule.extra_codes),
        *sorted(rule.ignored_codes),
        *NON_DENIALS,
    ]
    out = [
        Sample(f"errorCode {c!r}", envelope(c), rule.pattern_routes(c))
        for c in dict.fromkeys(codes)
    ]
    # A denial put on the bus by someone, not by AWS: PutEvents refuses "aws." sources to
    # callers, so the pattern's source prefix keeps forged denials out.
    out.append(Sample("a non-AWS source", envelope("AccessDenied", source="acme.app"), False))
    return out


def check_event_pattern(events: Any, rule: DenialRule, pattern: str) -> int:
    """Ask AWS about every sample; raise PlanError listing disagreements, else the count."""
    wrong = []
    checked = samples(rule)
    for sample in checked:
        result = events.test_event_pattern(EventPattern=pattern, Event=json.dumps(sample.envelope))
        if bool(result.get("Result")) != sample.expected:
            want = "match" if sample.expected else "not match"
            wrong.append(f"{sample.name}: should {want}, EventBridge says the opposite")
    if wrong:
        raise PlanError(
            "EventBridge disagrees with deniedwatch's denial rule on the rendered event "
            "pattern; nothing was deployed:\n  " + "\n  ".join(wrong)
        )
    return len(checked)
