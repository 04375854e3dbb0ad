"""Decoded items -> the denials to alert on, counting and logging what was bad or suppressed.

The handler's first step after the decoding seam (sources/invocation.py), whatever
shape delivered the records: a bad record is logged and skipped, never the batch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from deniedwatch.alerts.group import GroupKey, record_key
from deniedwatch.finding import _str
from deniedwatch.metrics import Metrics, log
from deniedwatch.rules import Ruleset, Verdict
from deniedwatch.sources.invocation import Invocation, Item


class Detected(NamedTuple):
    """A denial (its raw record: a Finding is built only for what an alert shows) and
    the item that carried it (its SQS message, for a partial failure). A tuple: the
    handler makes one per denial, and a frozen dataclass's ``__init__`` costs ~3x more."""

    record: dict[str, Any]
    item: Item
    event_id: str | None  # as Finding.event_id: read once, the handler needs it thrice

    @property
    def key(self) -> GroupKey:
        """GroupKey.of(its Finding), read straight from the record."""
        return GroupKey(*record_key(self.record))


def detect(invocation: Invocation, ruleset: Ruleset, metrics: Metrics) -> list[Detected]:
    """Every item -> the denials among them; counts Events, bad, suppressed and denied."""
    metrics.add("Events", len(invocation))
    found: list[Detected] = []
    suppressed = 0
    classify = ruleset.classify
    for item in invocation:
        record = item.record
        if item.problem or record is None:
            _bad(invocation, item, item.problem or "not a record", metrics)
        if record is None:
            continue
        try:
            verdict = classify(record).verdict
        except Exception as exc:  # never let one record sink the batch
            _bad(invocation, item, f"rules failed: {type(exc).__name__}: {exc}"[:300], metrics)
            continue
        if verdict is Verdict.DENIED:
            found.append(Detected(record, item, _str(record.get("eventID"))))
        elif verdict is Verdict.SUPPRESSED:
            suppressed += 1
    metrics.add("SuppressedEvents", suppressed)  # counted once per batch, not per record
    metrics.add("DeniedEvents", len(found))
    return found


def _bad(invocation: Invocation, item: Item, reason: str, metrics: Metrics) -> None:
    metrics.add("BadRecords")
    fields = {invocation.ref_name: item.ref, **invocation.where(), "reason": reason}
    log("bad-record", level="warning", **fields)
