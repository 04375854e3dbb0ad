"""CloudWatch Logs subscription payloads -> CloudTrail records.

AWS delivers ``{"awslogs": {"data": base64(gzip(json))}}``; the JSON holds
messageType (DATA_MESSAGE or CONTROL_MESSAGE), logGroup, logStream,
subscriptionFilters and logEvents[{id, timestamp, message}], each message one
CloudTrail record. Stdlib only: this is on the Lambda's import path.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from deniedwatch.sources import bounded
from deniedwatch.sources.bounded import MAX_PAYLOAD_BYTES
from deniedwatch.sources.recover import salvage

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"


class PayloadError(ValueError):
    """The whole payload is undecodable: the invocation must fail so AWS retries it."""


class BadRecord(ValueError):
    """One log event is not a CloudTrail record: log it, count it, go on."""


class PartialRecord(BadRecord):
    """A record read without a field that would not parse (nested past the parser's
    depth): log and count it as bad, and still look at ``record`` (it may be a denial)."""

    def __init__(self, reason: str, record: dict[str, Any]) -> None:
        super().__init__(reason)
        self.record = record


class LogEvent(NamedTuple):
    """One log event of a batch (a tuple: one per record, and a frozen dataclass's
    ``__init__`` costs twice as much)."""

    id: str | None
    timestamp: int | None
    message: Any


@dataclass(frozen=True, slots=True)
class LogBatch:
    message_type: str
    owner: str | None = None
    log_group: str | None = None
    log_stream: str | None = None
    subscription_filters: tuple[str, ...] = ()
    events: tuple[LogEvent, ...] = field(default_factory=tuple)

    @property
    def is_control(self) -> bool:
        return self.message_type == CONTROL_MESSAGE


def decode_payload(event: Any) -> LogBatch:
    """The Lambda event -> LogBatch; raises PayloadError when nothing can be read."""
    try:
        data = event["awslogs"]["data"]
    except (KeyError, TypeError) as exc:
        raise PayloadError(f"no awslogs.data in the event ({type(exc).__name__})") from None
    if not isinstance(data, str | bytes):
        raise PayloadError("awslogs.data is not a string")
    text = inflate_payload(data)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"awslogs.data is not JSON: {exc}") from None
    if not isinstance(body, Mapping):
        raise PayloadError("awslogs.data is not a JSON object")
    message_type = body.get("messageType")
    if message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
        raise PayloadError(f"unknown messageType {str(message_type)[:40]!r}")
    raw_events = body.get("logEvents", [])
    if not isinstance(raw_events, list):
        raise PayloadError("logEvents is not a list")
    events = tuple(_log_event(e) for e in raw_events)
    filters = body.get("subscriptionFilters")
    return LogBatch(
        message_type=message_type,
        owner=_opt_str(body.get("owner")),
        log_group=_opt_str(body.get("logGroup")),
        log_stream=_opt_str(body.get("logStream")),
        subscription_filters=tuple(f for f in filters if isinstance(f, str))
        if isinstance(filters, list)
        else (),
        events=events,
    )


def inflate_payload(data: str | bytes, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """awslogs.data (base64 of gzip) -> the JSON bytes, never more than ``limit``.

    Anything bigger is not a CloudWatch Logs batch (see bounded.MAX_PAYLOAD_BYTES):
    a gzip bomb ends here as a PayloadError in bounded memory, not as MemoryError.
    """
    if len(data) > limit:  # base64 is 4/3 of the gzip, which is smaller than the JSON
        raise PayloadError(f"awslogs.data is over the {bounded.mib(limit)} limit")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"awslogs.data is not base64: {exc}") from None
    if raw[:2] != bounded.GZIP_MAGIC:
        raise PayloadError("awslogs.data is not gzip")
    try:
        return bounded.gunzip(raw, limit)
    except bounded.TooLarge as exc:
        raise PayloadError(f"awslogs.data {exc}: not a CloudWatch Logs batch") from None
    except bounded.CorruptGzip as exc:
        raise PayloadError(f"awslogs.data is not gzip: {exc}") from None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _log_event(raw: Any) -> LogEvent:
    # type() first: the ABC check behind isinstance(x, Mapping) is slow on the hot path
    if type(raw) is not dict and not isinstance(raw, Mapping):
        return LogEvent(None, None, raw)
    ts = raw.get("timestamp")
    event_id = raw.get("id")
    return LogEvent(
        event_id if type(event_id) is str else _opt_str(event_id),
        ts if type(ts) is int else None,  # not bool: type() is exact
        raw.get("message"),
    )


def looks_like_cloudtrail(obj: Any) -> bool:
    """A CloudTrail record is a JSON object with an eventVersion or an eventSource+eventName."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return False
    return isinstance(obj.get("eventVersion"), str) or (
        isinstance(obj.get("eventSource"), str) and isinstance(obj.get("eventName"), str)
    )


def parse_record(event: LogEvent) -> dict[str, Any]:
    """One log event's message -> a CloudTrail record; raises BadRecord with the reason."""
    if not isinstance(event.message, str):
        raise BadRecord("message is not a string")
    try:
        record = json.loads(event.message)
    except RecursionError:
        salvaged = salvage(event.message)
        if salvaged and looks_like_cloudtrail(salvaged[0]):
            fields, dropped = salvaged
            raise PartialRecord(
                f"message nests too deeply (read without {', '.join(dropped)})", fields
            ) from None
        raise BadRecord("message nests too deeply") from None
    except ValueError as exc:
        raise BadRecord(f"message is not JSON: {exc}") from None
    if not looks_like_cloudtrail(record):
        raise BadRecord("message is not a CloudTrail record")
    return record
