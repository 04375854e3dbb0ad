"""``live_source = both``: one denial, two paths, one alert. Keyed by CloudTrail's eventID.

The fast path (EventBridge -> SQS) and the durable backstop (CloudWatch Logs) usually
both deliver a denial. The first path to see an eventID claims it in the dedup table
(item ``event#<eventID>``, conditional put); the other path drops it. A path always
keeps what it claimed itself, so its own retries (a failed delivery, SQS
redelivery) behave exactly as with one path. An event the fast path never delivered is
claimed by the backstop and alerted from there, and counted: BackstopOnlyEvents is
how often best effort fell short (less FastPathLateEvents, the fast path's stragglers).

CloudTrail writes the eventID, not the caller, so an attacker cannot make two denials
share one. Store errors fail open: the denial is alerted (perhaps twice), never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from deniedwatch.alerts.dedup import RETAIN_SECONDS, DynamoStore, _is_condition_failure
from deniedwatch.livesource import BOTH, Path
from deniedwatch.metrics import Metrics, log

__all__ = ["BOTH", "ENV_LIVE_SOURCE", "DynamoSightings", "EveryPath", "MemorySightings"]

ENV_LIVE_SOURCE = "DENIEDWATCH_LIVE_SOURCE"  # set by the stack: one of LIVE_SOURCES
BACKSTOP = Path.CLOUDWATCH_LOGS.value  # its first sightings are what the fast path missed
CLAIM_WORKERS = 8  # concurrent conditional puts: a storm batch is hundreds of denials


NEW, AGAIN, OTHER = "new", "again", "other"  # a claim's outcome
ERROR = "error"  # the store did not answer: fail open, alert (perhaps twice) rather than lose


class Sightings(Protocol):
    def claim(self, event_ids: Sequence[str], path: str, *, now: float) -> dict[str, str]:
        """Each event id -> NEW (first sighting, by this path), AGAIN (this path had it:
        a retry), OTHER (the other path had it: drop it) or ERROR (keep it)."""
        ...


class EveryPath:
    """One live path only: nothing to dedup across paths."""

    def claim(self, event_ids: Sequence[str], path: str, *, now: float) -> dict[str, str]:
        return dict.fromkeys(event_ids, NEW)


class MemorySightings:
    """The claim logic in one process's memory (tests, local runs)."""

    def __init__(self) -> None:
        self.owner: dict[str, str] = {}

    def claim(self, event_ids: Sequence[str], path: str, *, now: float) -> dict[str, str]:
        out = {}
        for e in event_ids:
            owner = self.owner.get(e)
            self.owner.setdefault(e, path)
            out[e] = NEW if owner is None else AGAIN if owner == path else OTHER
        return out


class DynamoSightings:
    """Claims in the dedup table, beside the group states (another key prefix), through
    the dedup store's client."""

    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    def _claim_one(self, event_id: str, path: str, now: float) -> str:
        try:
            old = self.store.client.put_item(
                TableName=self.store.table,
                Item={
                    "pk": {"S": "event#" + event_id},
                    "path": {"S": path},
                    "expires_at": {"N": str(int(now + RETAIN_SECONDS))},
                },
                ConditionExpression="attribute_not_exists(pk) OR #p = :p",
                ExpressionAttributeNames={"#p": "path"},
                ExpressionAttributeValues={":p": {"S": path}},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        except Exception as exc:
            if _is_condition_failure(exc):
                return OTHER
            log("sightings-error", level="error", error=f"{type(exc).__name__}: {exc}"[:300])
            return ERROR
        return AGAIN if old else NEW

    def claim(self, event_ids: Sequence[str], path: str, *, now: float) -> dict[str, str]:
        ids = list(dict.fromkeys(event_ids))
        if len(ids) <= 1:
            return {e: self._claim_one(e, path, now) for e in ids}
        with ThreadPoolExecutor(max_workers=min(CLAIM_WORKERS, len(ids))) as pool:
            outcomes = list(pool.map(lambda e: self._claim_one(e, path, now), ids))
        return dict(zip(ids, outcomes, strict=True))


def first_sightings(
    sightings: Sightings,
    event_ids: Sequence[str | None],
    path: str,
    *,
    now: float,
    metrics: Metrics,
) -> set[str]:
    """Claim ``event_ids`` for ``path``; the ids it may alert on. Counts what the metrics
    promise (nothing for a single-path deployment)."""
    outcomes = sightings.claim([e for e in event_ids if e], path, now=now)
    keep = {e for e, o in outcomes.items() if o != OTHER}
    if isinstance(sightings, EveryPath):
        return keep
    new = sum(1 for o in outcomes.values() if o == NEW)
    dropped = len(outcomes) - len(keep)
    if path == BACKSTOP:
        metrics.add("BackstopOnlyEvents", new)
    else:
        metrics.add("FastPathLateEvents", dropped)
    metrics.add("DuplicateEvents", dropped)
    metrics.add("DedupStoreErrors", sum(1 for o in outcomes.values() if o == ERROR))
    return keep
