"""The one decoding seam: whatever invoked the function -> an ``Invocation`` to iterate.

Three live shapes carry CloudTrail records, and each becomes the same ``Item``s:

- a CloudWatch Logs subscription payload (``{"awslogs": {"data": ...}}``, cwlogs.py);
- an SQS batch of EventBridge envelopes (``{"Records": [{"eventSource": "aws:sqs", ...}]}``)
  from the fast path's event source mapping;
- one EventBridge envelope, when a rule invokes the function directly.

Three shapes carry no records: a CloudWatch Logs control message; the stack's scheduled
flush (``FLUSH_EVENT``, the constant input of its rule); and any other EventBridge
"Scheduled Event". The last one does **not** flush: only the stack's own rule, whose input
is ``FLUSH_EVENT``, asks for the summaries, so a schedule someone else points at the
function is acknowledged and logged (``scheduled-event``), never turned into posts.
One more shape is a request, not a batch: the function URL's event (payload format 2.0),
a click on an alert's button (``triage/``). Anything else raises PayloadError so the
invocation fails and AWS retries it. Modelled on Powertools' ``CloudWatchLogsEvent``:
decode once, then iterate; each shape's facts are one row of ``SHAPES``. Stdlib only: on
the Lambda's import path.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

from deniedwatch.livesource import Path
from deniedwatch.sources import cwlogs, eventbridge
from deniedwatch.sources.cwlogs import BadRecord, PartialRecord, PayloadError

SQS_EVENT_SOURCE = "aws:sqs"
# The constant input of the stack's scheduled rule (template: FlushSchedule) that asks the
# function to summarise closed dedup windows (the alert policy's flush). The only request
# that flushes: a plain EventBridge "Scheduled Event" is Shape.SCHEDULE, logged only.
FLUSH_EVENT = {"deniedwatch": "flush-held-windows"}


class Shape(enum.Enum):
    CLOUDWATCH_LOGS = "cloudwatch-logs"
    SQS = "sqs"
    EVENTBRIDGE = "eventbridge"
    CONTROL = "control-message"
    FLUSH = "flush"
    SCHEDULE = "scheduled-event"
    FUNCTION_URL = "function-url"


class BatchItemFailure(TypedDict):
    itemIdentifier: str  # the SQS messageId to give back


class PartialBatchResponse(TypedDict):
    """What an SQS batch with ReportBatchItemFailures answers, in the documented syntax.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""

    batchItemFailures: list[BatchItemFailure]


class HttpResponse(TypedDict):
    """What a function URL request answers (payload format 2.0's response).
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-response-payload"""

    statusCode: int
    headers: dict[str, str]
    body: str


class Item(NamedTuple):
    """One delivered record, or why the delivered thing is not one (both: a record read
    in part, counted as bad and still checked). A tuple: one per record, and a frozen
    dataclass's ``__init__`` costs twice as much."""

    ref: str | None  # log event id, SQS messageId or EventBridge event id (for logs)
    record: dict[str, Any] | None
    problem: str | None = None
    message_id: str | None = None  # the SQS message to report in batchItemFailures


@dataclass(frozen=True, slots=True)
class ShapeFacts:
    """What one shape means to the rest of the function: one row of ``SHAPES``."""

    path: Path | None = None  # the live path its records came by (None: no records)
    # SQS with ReportBatchItemFailures: a failure is returned per message, not raised.
    reports_item_failures: bool = False
    ref_name: str = "log_event_id"  # what an item's ``ref`` is, as a log field name
    where: tuple[tuple[str, str], ...] = (("log_group", "log_group"), ("log_stream", "log_stream"))
    # ^ (log field, Invocation attribute): where the batch came from, for log lines


SHAPES: dict[Shape, ShapeFacts] = {
    Shape.CLOUDWATCH_LOGS: ShapeFacts(Path.CLOUDWATCH_LOGS),
    Shape.SQS: ShapeFacts(Path.EVENTBRIDGE, True, "message_id", (("queue", "queue_arn"),)),
    Shape.EVENTBRIDGE: ShapeFacts(Path.EVENTBRIDGE, ref_name="event_id"),
    Shape.CONTROL: ShapeFacts(where=(("log_group", "log_group"),)),
    Shape.FLUSH: ShapeFacts(where=()),
    Shape.SCHEDULE: ShapeFacts(ref_name="event_id", where=()),
    Shape.FUNCTION_URL: ShapeFacts(ref_name="request_id", where=(("source_ip", "source_ip"),)),
}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The function URL's request (payload format 2.0), as read, before any check.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads"""

    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case, as function URLs deliver them
    body: str  # as delivered: base64 text when ``base64`` is true
    base64: bool = False
    request_id: str | None = None
    source_ip: str | None = None


@dataclass(frozen=True)
class Invocation:
    shape: Shape
    items: tuple[Item, ...] = ()
    batch_id: str = ""  # the same payload (an AWS retry) always gets the same id
    log_group: str | None = None
    log_stream: str | None = None
    queue_arn: str | None = None
    request: HttpRequest | None = None  # Shape.FUNCTION_URL only

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def facts(self) -> ShapeFacts:
        return SHAPES[self.shape]

    @property
    def path(self) -> Path | None:
        return self.facts.path

    @property
    def reports_item_failures(self) -> bool:
        return self.facts.reports_item_failures

    @property
    def ref_name(self) -> str:
        return self.facts.ref_name

    @property
    def source_ip(self) -> str | None:
        return self.request.source_ip if self.request else None

    def where(self) -> dict[str, str | None]:
        """Where the batch came from, for log lines."""
        return {name: getattr(self, attr) for name, attr in self.facts.where}


def decode_invocation(event: Any) -> Invocation:
    """The Lambda event -> Invocation; raises PayloadError when it is none of the shapes."""
    if isinstance(event, Mapping):
        if event == FLUSH_EVENT:
            return Invocation(Shape.FLUSH, batch_id=_digest(["flush"]))
        if "awslogs" in event:
            return _from_cloudwatch_logs(event)
        records = event.get("Records")
        if isinstance(records, list) and records and _is_sqs(records[0]):
            return _from_sqs(records)
        if eventbridge.is_scheduled(event):
            return Invocation(Shape.SCHEDULE, batch_id=_digest(["schedule", event.get("id")]))
        if eventbridge.is_envelope(event):
            return _from_envelope(event)
        if _is_function_url(event):
            return _from_function_url(event)
    raise PayloadError(
        "not a CloudWatch Logs payload, an SQS batch, an EventBridge event or a function "
        f"URL request ({type(event).__name__})"
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


def _is_function_url(event: Mapping[str, Any]) -> bool:
    """Payload format 2.0: ``version`` "2.0" and ``requestContext.http``."""
    context = event.get("requestContext")
    return (
        event.get("version") == "2.0"
        and isinstance(context, Mapping)
        and isinstance(context.get("http"), Mapping)
    )


def _from_function_url(event: Mapping[str, Any]) -> Invocation:
    http = event["requestContext"]["http"]
    headers = event.get("headers")
    body = event.get("body")
    request = HttpRequest(
        method=str(http.get("method") or ""),
        path=str(http.get("path") or event.get("rawPath") or ""),
        headers={str(k).lower(): str(v) for k, v in (headers or {}).items() if isinstance(v, str)}
        if isinstance(headers, Mapping)
        else {},
        body=body if isinstance(body, str) else "",
        base64=event.get("isBase64Encoded") is True,
        request_id=_str_or_none(event["requestContext"].get("requestId")),
        source_ip=_str_or_none(http.get("sourceIp")),
    )
    return Invocation(
        Shape.FUNCTION_URL, batch_id=_digest(["url", request.request_id]), request=request
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
