"""Decoded items -> the denials to alert on, counting and logging what was bad or suppressed.

The handler's first step after the decoding seam (sources/invocation.py), whatever
shape delivered the records: a bad record is logged and skipped, never the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deniedwatch.alerts.group import GroupKey, record_key
from deniedwatch.metrics import Metrics, log
from deniedwatch.rules import Ruleset, Verdict
from deniedwatch.sources.invocation import Invocation, Item


@dataclass(frozen=True, slots=True)
class Detected:
    """A denial (its raw record: a Finding is built only for what an alert shows) and
    the item that carried it (its SQS message, for a partial failure)."""

    record: dict[str, Any]
    item: Item

    @property
    def event_id(self) -> str | None:
        value = self.record.get("eventID")
        return value if isinstance(value, str) and value else None  # as Finding.event_id

    @property
    def key(self) -> GroupKey:
        """GroupKey.of(its Finding), read straight from the record."""
        return GroupKey(*record_key(self.record))


def detect(invocation: Invocation, ruleset: Ruleset, metrics: Metrics) -> list[Detected]:
    """Every item -> the denials among them; counts Events, bad, suppressed and denied."""
    metrics.add("Events", len(invocation))
    found: list[Detected] = []
    for item in invocation:
        if item.problem or item.record is None:
            _bad(invocation, item, item.problem or "not a record", metrics)
        if item.record is None:
            continue
        try:
            detection = ruleset.classify(item.record)
        except Exception as exc:  # never let one record sink the batch
            _bad(invocation, item, f"rules failed: {type(exc).__name__}: {exc}"[:300], metrics)
            continue
        if detection.verdict is Verdict.SUPPRESSED:
            metrics.add("SuppressedEvents")
        elif detection.verdict is Verdict.DENIED:
            metrics.add("DeniedEvents")
            found.append(Detected(item.record, item))
    return found


def _bad(invocation: Invocation, item: Item, reason: str, metrics: Metrics) -> None:
    metrics.add("BadRecords")
    fields = {invocation.ref_name: item.ref, **invocation.where(), "reason": reason}
    log("bad-record", level="warning", **fields)
