"""Decoded items -> the denials to alert on, counting and logging what was bad or suppressed.

The handler's first step after the decoding seam (sources/invocation.py), whatever
shape delivered the records: a bad record is logged and skipped, never the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from deniedwatch.finding import Finding
from deniedwatch.metrics import Metrics, log
from deniedwatch.rules import Ruleset, Verdict
from deniedwatch.sources.invocation import Invocation, Item


@dataclass(frozen=True, slots=True)
class Detected:
    """A denial and the item that carried it (its SQS message, for a partial failure)."""

    finding: Finding
    item: Item


def detect(invocation: Invocation, ruleset: Ruleset, metrics: Metrics) -> list[Detected]:
    """Every item -> the denials among them; counts Events, bad, suppressed and denied."""
    metrics.add("Events", len(invocation))
    found: list[Detected] = []
    for item in invocation:
        if item.record is None:
            _bad(invocation, item, item.problem or "not a record", metrics)
            continue
        try:
            detection = ruleset.evaluate(item.record)
        except Exception as exc:  # never let one record sink the batch
            _bad(invocation, item, f"rules failed: {type(exc).__name__}: {exc}"[:300], metrics)
            continue
        if detection.verdict is Verdict.SUPPRESSED:
            metrics.add("SuppressedEvents")
        elif detection.verdict is Verdict.DENIED and detection.finding is not None:
            metrics.add("DeniedEvents")
            found.append(Detected(detection.finding, item))
    return found


def _bad(invocation: Invocation, item: Item, reason: str, metrics: Metrics) -> None:
    metrics.add("BadRecords")
    fields = {invocation.ref_name: item.ref, **invocation.where(), "reason": reason}
    log("bad-record", level="warning", **fields)
