"""Structured JSON log lines, and CloudWatch metrics as Embedded Metric Format lines.

Plain EMF (a JSON object with an ``_aws`` member, printed to stdout): CloudWatch
Logs turns it into metrics, no client library or API call needed. Stdlib only.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

NAMESPACE = "deniedwatch"

# Every metric the Lambda emits (all Count, no dimensions), zero included, so
# alarms on them see data points rather than gaps. Delivery metrics are also
# emitted per destination (below).
METRIC_NAMES: tuple[str, ...] = (
    "Events",  # log events received
    "DeniedEvents",  # denials that reached grouping
    "SuppressedEvents",  # denials a suppression rule hid
    "BadRecords",  # log events that were not CloudTrail records
    "Alerts",  # groups formed
    "AlertsHeld",  # groups kept quiet by the dedup window or threshold
    "AlertsDelivered",  # alert deliveries that succeeded (one per channel)
    "DeliveryFailures",  # alert deliveries that failed after retries
    "DedupStoreErrors",  # dedup store calls that failed (alerts went out anyway)
    # live_source = both (alerts/sightings.py):
    "BackstopOnlyEvents",  # denials CloudWatch Logs delivered before EventBridge did
    "FastPathLateEvents",  # denials EventBridge delivered after CloudWatch Logs did
    "DuplicateEvents",  # denials dropped because the other path had alerted them
    "TamperedEvents",  # eventIDs that arrived with another record than the one claimed
    # triage from the alert (docs/triage.md):
    "MutedEvents",  # denials a mute set from Slack hid
    "MutesSet",  # mutes set (or extended) by a click
    "TriageRefused",  # clicks refused: signature, replay, cap, not allowed
)

_KNOWN = frozenset(METRIC_NAMES)
# Per destination (dimension ``destination``), beside the totals above.
DESTINATION_METRICS: tuple[str, ...] = ("AlertsDelivered", "DeliveryFailures")

Writer = Callable[[str], None]


def stdout_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(kind: str, write: Writer = stdout_line, **fields: Any) -> None:
    """One structured log line: ``{"level", "kind", ...fields}`` as JSON."""
    level = fields.pop("level", "info")
    write(json.dumps({"level": level, "kind": kind, **fields}, default=str))


class Metrics:
    """Counts for one invocation, flushed as one EMF line."""

    def __init__(
        self, *, write: Writer = stdout_line, clock: Callable[[], float] = time.time
    ) -> None:
        self.counts: Counter[str] = Counter()
        self.by_destination: dict[str, Counter[str]] = {}
        self.write = write
        self.clock = clock

    def add(self, name: str, value: int = 1, *, destination: str | None = None) -> None:
        """Count ``value``; with ``destination``, under that destination's dimension only
        (the caller adds the total separately)."""
        if name not in _KNOWN:
            raise KeyError(f"unknown metric {name!r}")
        if destination is None:
            self.counts[name] += value
            return
        if name not in DESTINATION_METRICS:
            raise KeyError(f"metric {name!r} has no destination dimension")
        self.by_destination.setdefault(destination, Counter())[name] += value

    def destination_emf(self, destination: str) -> dict[str, Any]:
        """One EMF object for one destination: dimension ``destination``."""
        return {
            "_aws": {
                "Timestamp": int(self.clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["destination"]],
                        "Metrics": [{"Name": n, "Unit": "Count"} for n in DESTINATION_METRICS],
                    }
                ],
            },
            "destination": destination,
            **{n: self.by_destination[destination][n] for n in DESTINATION_METRICS},
        }

    def emf(self) -> dict[str, Any]:
        return {
            "_aws": {
                "Timestamp": int(self.clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [[]],
                        "Metrics": [{"Name": n, "Unit": "Count"} for n in METRIC_NAMES],
                    }
                ],
            },
            **{n: self.counts[n] for n in METRIC_NAMES},
        }

    def flush(self) -> None:
        self.write(json.dumps(self.emf()))
        for destination in sorted(self.by_destination):
            self.write(json.dumps(self.destination_emf(destination)))
