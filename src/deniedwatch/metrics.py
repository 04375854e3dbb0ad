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
# alarms on them see data points rather than gaps.
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
)

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
        self.write = write
        self.clock = clock

    def add(self, name: str, value: int = 1) -> None:
        if name not in METRIC_NAMES:
            raise KeyError(f"unknown metric {name!r}")
        self.counts[name] += value

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
