"""The one decoding seam: whatever invoked the function -> an ``Invocation`` to iterate.

Three live shapes carry CloudTrail records, and each becomes the same ``Item``s:

- a CloudWatch Logs subscription payload (``{"awslogs": {"data": ...}}``, cwlogs.py);
- an SQS batch of EventBridge envelopes (``{"Records": [{"eventSource": "aws:sqs", ...}]}``)
  from the fast path's event source mapping;
- one EventBridge envelope, when a rule invokes the function directly.

Two more shapes carry no records: a CloudWatch Logs control message and the scheduled
flush (``FLUSH_EVENT``, or an EventBridge "Scheduled Event"). Anything else raises
PayloadError so the invocation fails and AWS retries it. Modelled on Powertools'
``CloudWatchLogsEvent``: decode once, then iterate. Stdlib only: on the Lambda's import path.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from deniedwatch.livesource import Path
from deniedwatch.sources import cwlogs, eventbridge
from deniedwatch.sources.cwlogs import BadRecord, PartialRecord, PayloadError

SQS_EVENT_SOURCE = "aws:sqs"
# The constant input of the stack's scheduled rule that asks the function to summarise
# closed dedup windows (the alert policy's flush); any EventBridge "Scheduled Event" is
# taken as the same request.
FLUSH_EVENT = {"deniedwatch": "flush-held-windows"}


class Shape(enum.Enum):
    CLOUDWATCH_LOGS = "cloudwatch-logs"
    SQS = "sqs"
    EVENTBRIDGE = "eventbridge"
    CONTROL = "control-message"
    SCHEDULE = "scheduled-event"


@dataclass(frozen=True, slots=True)
class Item:
    """One delivered record, or why the delivered thing is not one (both: a record read
    in part, counted as bad and still checked)."""

    ref: str | None  # log event id, SQS messageId or EventBridge event id (for logs)
    record: dict[str, Any] | None
    problem: str | None = None
    message_id: str | None = None  # the SQS message to report in batchItemFailures


@dataclass(frozen=True)
class Invocation:
    shape: Shape
    items: tuple[Item, ...] = ()
    batch_id: str = ""  # the same payload (an AWS retry) always gets the same id
    log_group: str | None = None
    log_stream: str | None = None
    queue_arn: str | None = None

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def path(self) -> Path | None:
        if self.shape is Shape.CLOUDWATCH_LOGS:
            return Path.CLOUDWATCH_LOGS
        if self.shape in (Shape.SQS, Shape.EVENTBRIDGE):
            return Path.EVENTBRIDGE
        return None

    @property
    def reports_item_failures(self) -> bool:
        """SQS with ReportBatchItemFailures: a failure is returned per message, not raised."""
        return self.shape is Shape.SQS

    @property
    def ref_name(self) -> str:
        """What an item's ``ref`` is, as a log field name."""
        return {Shape.SQS: "message_id", Shape.EVENTBRIDGE: "event_id"}.get(
            self.shape, "log_event_id"
        )

    def where(self) -> dict[str, str | None]:
        """Where the batch came from, for log lines."""
        if self.shape is Shape.SQS:
            return {"queue": self.queue_arn}
        return {"log_group": self.log_group, "log_stream": self.log_stream}


def decode_invocation(event: Any) -> Invocation:
    """The Lambda event -> Invocation; raises PayloadError when it is none of the shapes."""
    if isinstance(event, Mapping):
        if event == FLUSH_EVENT:
            return Invocation(Shape.SCHEDULE, batch_id=_digest(["schedule"]))
        if "awslogs" in event:
            return _from_cloudwatch_logs(event)
        records = event.get("Records")
        if isinstance(records, list) and records and _is_sqs(records[0]):
            return _from_sqs(records)
        if eventbridge.is_scheduled(event):
            return Invocation(Shape.SCHEDULE, batch_id=_digest(["schedule", event.get("id")]))
        if eventbridge.is_envelope(event):
            return _from_envelope(event)
    raise PayloadError(
        "not a CloudWatch Logs payload, an SQS batch or an EventBridge event "
        f"({type(event).__name__})"
    )


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


def _item(ref: str | None, parse: Any, raw: Any, message_id: str | None = None) -> Item:
    try:
        return Item(ref, parse(raw), message_id=message_id)
    except PartialRecord as exc:  # bad, and still a record to check: it may be a denial
        return Item(ref, exc.record, str(exc), message_id)
    except BadRecord as exc:
        return Item(ref, None, str(exc), message_id)


def _from_cloudwatch_logs(event: Mapping[str, Any]) -> Invocation:
    batch = cwlogs.decode_payload(event)
    if batch.is_control:
        return Invocation(Shape.CONTROL, log_group=batch.log_group)
    parts: list[Any] = [batch.log_group, batch.log_stream]
    for e in batch.events:
        parts.append(e.id or hashlib.sha256(repr(e.message).encode()).hexdigest())
    return Invocation(
        Shape.CLOUDWATCH_LOGS,
        tuple(_item(e.id, cwlogs.parse_record, e) for e in batch.events),
        batch_id=_digest(parts),
        log_group=batch.log_group,
        log_stream=batch.log_stream,
    )


def _is_sqs(record: Any) -> bool:
    return isinstance(record, Mapping) and record.get("eventSource") == SQS_EVENT_SOURCE


def _from_sqs(records: list[Any]) -> Invocation:
    items: list[Item] = []
    for raw in records:
        if not _is_sqs(raw):
            items.append(Item(None, None, "not an SQS message"))
            continue
        message_id = raw.get("messageId")
        message_id = message_id if isinstance(message_id, str) else None
        items.append(_item(message_id, eventbridge.record_from_body, raw.get("body"), message_id))
    arns = {r.get("eventSourceARN") for r in records if isinstance(r, Mapping)}
    arn = next(iter(arns)) if len(arns) == 1 else None
    return Invocation(
        Shape.SQS,
        tuple(items),
        batch_id=message_batch_id(sorted(i.message_id or "" for i in items)),
        queue_arn=arn if isinstance(arn, str) else None,
    )


def message_batch_id(message_ids: list[str]) -> str:
    """SQS messages keep their messageId when redelivered: the same messages, the same id."""
    return _digest(["sqs", message_ids])


def _from_envelope(event: Mapping[str, Any]) -> Invocation:
    ref = event.get("id") if isinstance(event.get("id"), str) else None
    item = _item(ref, eventbridge.record_from_envelope, event)
    return Invocation(Shape.EVENTBRIDGE, (item,), batch_id=_digest(["eventbridge", ref]))
