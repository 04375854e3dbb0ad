"""``live_source = both``: one denial, two paths, one alert. Keyed by CloudTrail's eventID
and a hash of the record.

The fast path (EventBridge -> SQS) and the durable backstop (CloudWatch Logs) usually
both deliver a denial. The first path to see an eventID claims it in the dedup table
(item ``event#<eventID>`` with the path and ``record_hash``, conditional put); the other
path drops it when its copy hashes the same. A path always keeps what it claimed itself,
so its own retries (a failed delivery, SQS redelivery) behave exactly as with one path. An
event the fast path never delivered is claimed by the backstop and alerted from there, and
counted: BackstopOnlyEvents is how often best effort fell short (less FastPathLateEvents,
the fast path's stragglers).

CloudTrail writes the eventID, not the caller, but the queue is only as trustworthy as its
policy: a message whose eventID was claimed with a *different* record hash is forged (or
the claim was). Neither copy is dropped: both are alerted, the mismatch is counted
(TamperedEvents), logged, and alerted on its own (``tamper_record``). The queue policy
denies sqs:SendMessage to anything but the rule (deploy/template.yaml).
Store errors fail open: the denial is alerted (perhaps twice), never lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from deniedwatch.alerts.dedup import RETAIN_SECONDS, DynamoStore, _is_condition_failure
from deniedwatch.finding import RecordLike, resource_of
from deniedwatch.livesource import BOTH, Path
from deniedwatch.metrics import Metrics, log

__all__ = [
    "BOTH",
    "ENV_LIVE_SOURCE",
    "DynamoSightings",
    "EveryPath",
    "MemorySightings",
    "record_hash",
    "tamper_record",
]

ENV_LIVE_SOURCE = "DENIEDWATCH_LIVE_SOURCE"  # set by the stack: one of LIVE_SOURCES
BACKSTOP = Path.CLOUDWATCH_LOGS.value  # its first sightings are what the fast path missed
CLAIM_WORKERS = 8  # concurrent conditional puts: a storm batch is hundreds of denials

NEW, AGAIN, OTHER = "new", "again", "other"  # a claim's outcome
TAMPERED = "tampered"  # the eventID was claimed with another record: alert both, and this
ERROR = "error"  # the store did not answer: fail open, alert (perhaps twice) rather than lose

# What both paths carry of a record and what an alert is made of: a forged copy that
# changes any of it hashes differently. (The EventBridge envelope's ``detail`` is the
# CloudTrail record; fields outside this list may be laid out differently by the paths.)
_HASHED = (
    "eventID",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "errorCode",
    "errorMessage",
    "recipientAccountId",
    "sourceIPAddress",
    "userAgent",
)
_IDENTITY = ("type", "principalId", "arn", "accountId", "userName", "invokedBy")


def record_hash(record: RecordLike) -> str:
    """A short hash of what makes the alert of ``record``: who, what, where, when, why,
    and the resource. The same CloudTrail record hashes alike on both paths."""
    ui = record.get("userIdentity")
    ui = ui if isinstance(ui, Mapping) else {}
    parts: list[Any] = [_plain(record.get(k)) for k in _HASHED]
    parts += [_plain(ui.get(k)) for k in _IDENTITY]
    parts.append(resource_of(record))
    raw = json.dumps(parts, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _plain(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else json.dumps(value)


class Sightings(Protocol):
    def claim(self, events: Mapping[str, str], path: str, *, now: float) -> dict[str, str]:
        """Each event id (-> its record hash) -> NEW (first sighting, by this path), AGAIN
        (this path had it: a retry), OTHER (the other path had the same record: drop it),
        TAMPERED (claimed with another record: keep it, alert the mismatch) or ERROR."""
        ...


class EveryPath:
    """One live path only: nothing to dedup across paths."""

    def claim(self, events: Mapping[str, str], path: str, *, now: float) -> dict[str, str]:
        return dict.fromkeys(events, NEW)


def _outcome(owner: tuple[str, str | None] | None, path: str, digest: str) -> str:
    if owner is None:
        return NEW
    owner_path, owner_hash = owner
    if owner_hash is not None and owner_hash != digest:
        return TAMPERED
    return AGAIN if owner_path == path else OTHER


class MemorySightings:
    """The claim logic in one process's memory (tests, local runs)."""

    def __init__(self) -> None:
        self.owner: dict[str, tuple[str, str | None]] = {}

    def claim(self, events: Mapping[str, str], path: str, *, now: float) -> dict[str, str]:
        out = {}
        for e, digest in events.items():
            owner = self.owner.get(e)
            self.owner.setdefault(e, (path, digest))
            out[e] = _outcome(owner, path, digest)
        return out


class DynamoSightings:
    """Claims in the dedup table, beside the group states (another key prefix), through
    the dedup store's client."""

    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    def _claim_one(self, event_id: str, digest: str, path: str, now: float) -> str:
        client, table, pk = self.store.client, self.store.table, {"S": "event#" + event_id}
        try:
            old = client.put_item(
                TableName=table,
                Item={
                    "pk": pk,
                    "path": {"S": path},
                    "hash": {"S": digest},
                    "expires_at": {"N": str(int(now + RETAIN_SECONDS))},
                },
                # a claim from before record hashes (no "hash") matches any record
                ConditionExpression=(
                    "attribute_not_exists(pk) OR "
                    "(#p = :p AND (attribute_not_exists(#h) OR #h = :h))"
                ),
                ExpressionAttributeNames={"#p": "path", "#h": "hash"},
                ExpressionAttributeValues={":p": {"S": path}, ":h": {"S": digest}},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
            if old:
                return AGAIN
            return NEW
        except Exception as exc:
            if not _is_condition_failure(exc):
                log("sightings-error", level="error", error=f"{type(exc).__name__}: {exc}"[:300])
                return ERROR
        try:  # another path, or another record: which?
            item = client.get_item(TableName=table, Key={"pk": pk}, ConsistentRead=True)
        except Exception as exc:
            log("sightings-error", level="error", error=f"{type(exc).__name__}: {exc}"[:300])
            return ERROR
        old_item = item.get("Item") or {}
        owner_path = old_item.get("path", {}).get("S", "")
        owner_hash = old_item.get("hash", {}).get("S")
        return _outcome((owner_path, owner_hash), path, digest)

    def claim(self, events: Mapping[str, str], path: str, *, now: float) -> dict[str, str]:
        ids = list(events)
        if len(ids) <= 1:
            return {e: self._claim_one(e, events[e], path, now) for e in ids}
        with ThreadPoolExecutor(max_workers=min(CLAIM_WORKERS, len(ids))) as pool:
            outcomes = list(pool.map(lambda e: self._claim_one(e, events[e], path, now), ids))
        return dict(zip(ids, outcomes, strict=True))


def first_sightings(
    sightings: Sightings,
    events: Sequence[tuple[str | None, RecordLike]],
    path: str,
    *,
    now: float,
    metrics: Metrics,
) -> tuple[set[str], set[str]]:
    """Claim ``events`` ((event id, record) pairs) for ``path``: the ids it may alert on,
    and the ids claimed with another record (tampering: kept, and alerted). Counts what
    the metrics promise; a single-path deployment hashes and counts nothing."""
    if isinstance(sightings, EveryPath):
        return {e for e, _ in events if e}, set()
    claims: dict[str, str] = {}
    tampered: set[str] = set()
    for event_id, record in events:
        if not event_id:
            continue
        digest = record_hash(record)
        if claims.setdefault(event_id, digest) != digest:
            tampered.add(event_id)  # two different records with one id in one batch
    outcomes = sightings.claim(claims, path, now=now)
    keep = {e for e, o in outcomes.items() if o != OTHER}
    tampered |= {e for e, o in outcomes.items() if o == TAMPERED}
    new = sum(1 for o in outcomes.values() if o == NEW)
    dropped = len(outcomes) - len(keep)
    if path == BACKSTOP:
        metrics.add("BackstopOnlyEvents", new)
    else:
        metrics.add("FastPathLateEvents", dropped)
    metrics.add("DuplicateEvents", dropped)
    metrics.add("TamperedEvents", len(tampered))
    metrics.add("DedupStoreErrors", sum(1 for o in outcomes.values() if o == ERROR))
    for event_id in sorted(tampered):
        log("event-tampering", level="error", event_id=event_id[:128], path=path)
    return keep, tampered


TAMPER_CODE = "ForgedEvent"


def tamper_record(record: RecordLike, path: str) -> dict[str, Any]:
    """The alert of a tampering: a denial-shaped record, by an unknown principal (whoever
    can send to the queue), naming the eventID and the denial it arrived with. Both copies
    of the event are alerted as they are; this says one of them is forged."""
    event_id = str(record.get("eventID") or "")[:128]
    account = record.get("recipientAccountId")
    region = record.get("awsRegion")
    message = (
        f"eventID {event_id} arrived on the {path} path with a record that differs from the "
        "one claimed first: one of them was forged (anyone with sqs:SendMessage on the "
        "fast-path queue can send one). Both were alerted; compare them in CloudTrail."
    )
    return {
        "eventVersion": "1.10",
        "eventID": event_id,
        "eventTime": record.get("eventTime"),
        "eventSource": "sqs.amazonaws.com",
        "eventName": "SendMessage",
        "awsRegion": region,
        "errorCode": TAMPER_CODE,
        "errorMessage": message,
        "recipientAccountId": account,
        "userIdentity": {"type": "Unknown", "accountId": account},
    }
