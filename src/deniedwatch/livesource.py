"""Which live path delivers records to the function, and the `--live-source` choices.

A core module of its own because the sources (which decode each path's payload), the
alerts (the eventID claims of `both`, ``alerts/sightings.py``), the settings and the
deploy plan all name the paths, and ``sources/`` and ``alerts/`` never import each other.
"""

from __future__ import annotations

import enum


class Path(enum.Enum):
    """Which live path delivered the records (``both`` dedups across them by eventID)."""

    CLOUDWATCH_LOGS = "cloudwatch-logs"  # durable: the backstop
    EVENTBRIDGE = "eventbridge"  # fast, best effort


BOTH = "both"  # both paths, deduplicated by eventID (alerts/sightings.py)
# `deploy --live-source` / `[deploy] live_source` / the template's LiveSource parameter
LIVE_SOURCES: tuple[str, ...] = (Path.CLOUDWATCH_LOGS.value, Path.EVENTBRIDGE.value, BOTH)
DEFAULT_LIVE_SOURCE = Path.CLOUDWATCH_LOGS.value
