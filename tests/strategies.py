"""Hypothesis strategies shared by the property tests: JSON values, and log messages
that are mangled, truncated or not records at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)

# The CloudTrail fields deniedwatch reads (plus two it passes through).
RECORD_FIELDS = [
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "errorCode",
    "errorMessage",
    "userAgent",
    "sourceIPAddress",
    "eventID",
    "resources",
    "recipientAccountId",
    "requestParameters",
    "eventVersion",
]


@st.composite
def log_messages(
    draw: Any, make_record: Callable[[], dict[str, Any]], damaged: bool = False
) -> Any:
    """A log event message built from ``make_record()``: with fields replaced by random
    JSON, truncated, random text, or not a string at all. ``damaged`` guarantees the
    message differs from the intact record (at least one field, a strict truncation)."""
    kind = draw(st.sampled_from(["mangled", "truncated", "junk", "value"]))
    if kind == "mangled":
        record = make_record()
        fields = st.lists(st.sampled_from(RECORD_FIELDS), min_size=int(damaged), max_size=6)
        for name in draw(fields):
            record[name] = draw(json_values)
        return json.dumps(record)
    if kind == "truncated":
        text = json.dumps(make_record())
        return text[: draw(st.integers(0, len(text) - int(damaged)))]
    if kind == "junk":
        return draw(st.text(max_size=200))
    return draw(json_values)


# CloudTrail records made of random values (Finding, rules and scan properties).
CLOUDTRAIL_KEYS = [
    "eventID",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "recipientAccountId",
    "resources",
    "eventCategory",
    "eventType",
    "vpcEndpointId",
    "requestParameters",
]

IDENTITY_KEYS = [
    "type",
    "arn",
    "userName",
    "principalId",
    "accountId",
    "invokedBy",
    "sessionContext",
    "onBehalfOf",
]
identity_type = st.sampled_from(
    ["IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser", "AWSAccount", "Other"]
)
identities = st.fixed_dictionaries(
    {},
    optional={
        **{k: json_values for k in IDENTITY_KEYS},
        "type": identity_type | json_values,
        "arn": st.sampled_from(["", ":", "a/", "arn:aws:sts::1:assumed-role/", "x:federated-user/"])
        | json_values,
        "sessionContext": st.fixed_dictionaries({}, optional={"sessionIssuer": json_values}),
    },
)
random_records = st.fixed_dictionaries(
    {},
    optional={
        **{k: json_values for k in CLOUDTRAIL_KEYS},
        "errorCode": st.sampled_from(["AccessDenied", "Client.UnauthorizedOperation", "X"])
        | json_values,
        "errorMessage": st.text() | st.just('on resource: "') | json_values,
        "resources": st.lists(st.dictionaries(st.just("ARN"), json_values), max_size=2)
        | json_values,
        "userIdentity": identities | json_values,
    },
)
