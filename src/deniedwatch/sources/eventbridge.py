"""EventBridge envelopes of CloudTrail events -> CloudTrail records.

On the default bus CloudTrail's event is ``{"version", "id", "detail-type": "AWS API
Call via CloudTrail", "source": "aws.<service>", "account", "time", "region",
"resources", "detail": <the CloudTrail record>}``; an SQS target receives that JSON
as the message body.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
Stdlib only: this is on the Lambda's import path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from deniedwatch.rules import AWS_SOURCE_PREFIX, CLOUDTRAIL_DETAIL_TYPE
from deniedwatch.sources.cwlogs import BadRecord, looks_like_cloudtrail

# A scheduled rule's event (the alert policy's flush), as EventBridge sends it.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
SCHEDULED_DETAIL_TYPE = "Scheduled Event"
SCHEDULED_SOURCE = "aws.events"


def is_envelope(obj: Any) -> bool:
    """An EventBridge event of any kind: it has detail-type, source and detail."""
    return isinstance(obj, Mapping) and "detail-type" in obj and "source" in obj


def is_scheduled(obj: Any) -> bool:
    return (
        is_envelope(obj)
        and obj.get("detail-type") == SCHEDULED_DETAIL_TYPE
        and obj.get("source") == SCHEDULED_SOURCE
    )


def record_from_envelope(envelope: Any) -> dict[str, Any]:
    """The CloudTrail record inside one envelope; raises BadRecord with the reason."""
    if not isinstance(envelope, Mapping):
        raise BadRecord("not an EventBridge event (not a JSON object)")
    if envelope.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        raise BadRecord(f"detail-type is not {CLOUDTRAIL_DETAIL_TYPE!r}")
    source = envelope.get("source")
    if not isinstance(source, str) or not source.startswith(AWS_SOURCE_PREFIX):
        # Only AWS may send aws.* sources; anything else was put on the bus by someone.
        raise BadRecord("source is not an AWS service")
    record = envelope.get("detail")
    if not looks_like_cloudtrail(record):
        raise BadRecord("detail is not a CloudTrail record")
    return dict(record)


def record_from_body(body: Any) -> dict[str, Any]:
    """One SQS message body (an envelope as JSON text) -> the CloudTrail record."""
    if not isinstance(body, str):
        raise BadRecord("message body is not a string")
    try:
        envelope = json.loads(body)
    except RecursionError:
        raise BadRecord("message body nests too deeply") from None
    except ValueError as exc:
        raise BadRecord(f"message body is not JSON: {exc}") from None
    return record_from_envelope(envelope)
