"""Mutes and seen Slack requests, in the dedup table beside the group states.

- a mute: item ``mute#<id>`` holding the Mute as JSON in ``state``; ``pending = "mute"``
  and ``closes_at = expires_at`` put it in the table's sparse index (HELD_INDEX, the one
  the window summaries use, another partition), so the active mutes are one Query, never
  a Scan; ``expires_at`` is the table's TTL attribute, so DynamoDB deletes it after
  its end (within a day or two: ``active`` filters by time, not by presence);
- a seen request: item ``request#<hash of Slack's signature>``, kept for
  ``REPLAY_SECONDS``; a conditional put refuses the same signature twice.

Store errors while reading mutes fail open (the denial is alerted); while claiming a
request, fail closed (the click is refused: a click can be made again, an alert cannot).
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from deniedwatch.alerts.dedup import HELD_INDEX, DynamoStore, _is_condition_failure
from deniedwatch.triage.mutes import Mute

MUTE = "mute"  # the index partition of mutes (group states use "held")
REPLAY_SECONDS = 10 * 60  # a signature seen this recently is refused


class MuteStoreError(RuntimeError):
    """The table did not answer (the message names no secret)."""


class MuteStore(Protocol):
    def put(self, mute: Mute) -> None: ...
    def active(self, now: float) -> list[Mute]: ...
    def revoke(self, mute_id: str) -> bool: ...
    def first_sight(self, signature: str, now: float) -> bool:
        """True the first time this request signature is seen within REPLAY_SECONDS."""
        ...


class MemoryMutes:
    """One process's memory (tests, local runs, a function without a dedup table)."""

    def __init__(self) -> None:
        self.mutes: dict[str, Mute] = {}
        self.seen: dict[str, float] = {}

    def put(self, mute: Mute) -> None:
        self.mutes[mute.id] = mute

    def active(self, now: float) -> list[Mute]:
        return sorted((m for m in self.mutes.values() if m.active(now)), key=lambda m: m.expires_at)

    def revoke(self, mute_id: str) -> bool:
        return self.mutes.pop(mute_id, None) is not None

    def first_sight(self, signature: str, now: float) -> bool:
        key = _request_key(signature)
        if self.seen.get(key, 0) > now:
            return False
        self.seen[key] = now + REPLAY_SECONDS
        return True


class DynamoMutes:
    """Mutes and request claims through the dedup store's client and table."""

    def __init__(self, store: DynamoStore) -> None:
        self.store = store

    @property
    def _client(self) -> Any:
        return self.store.client

    def put(self, mute: Mute) -> None:
        until = str(int(mute.expires_at))
        try:
            self._client.put_item(
                TableName=self.store.table,
                Item={
                    "pk": {"S": f"{MUTE}#{mute.id}"},
                    "state": {"S": mute.to_json()},
                    "pending": {"S": MUTE},
                    "closes_at": {"N": until},
                    "expires_at": {"N": until},
                },
            )
        except Exception as exc:
            raise MuteStoreError(f"{type(exc).__name__}: {exc}"[:300]) from None

    def active(self, now: float) -> list[Mute]:
        mutes = []
        try:
            pages = self._client.get_paginator("query").paginate(
                TableName=self.store.table,
                IndexName=HELD_INDEX,
                KeyConditionExpression="pending = :m AND closes_at > :now",
                ExpressionAttributeValues={":m": {"S": MUTE}, ":now": {"N": str(int(now))}},
            )
            for page in pages:
                for item in page.get("Items", []):
                    mute = Mute.from_json(item["state"]["S"])
                    if mute.active(now):
                        mutes.append(mute)
        except Exception as exc:
            raise MuteStoreError(f"{type(exc).__name__}: {exc}"[:300]) from None
        return sorted(mutes, key=lambda m: m.expires_at)

    def revoke(self, mute_id: str) -> bool:
        try:
            old = self._client.delete_item(
                TableName=self.store.table,
                Key={"pk": {"S": f"{MUTE}#{mute_id}"}},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        except Exception as exc:
            raise MuteStoreError(f"{type(exc).__name__}: {exc}"[:300]) from None
        return bool(old)

    def first_sight(self, signature: str, now: float) -> bool:
        try:
            self._client.put_item(
                TableName=self.store.table,
                Item={
                    "pk": {"S": "request#" + _request_key(signature)},
                    "expires_at": {"N": str(int(now + REPLAY_SECONDS))},
                },
                # TTL deletes late: an item past its time counts as gone
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except Exception as exc:
            if _is_condition_failure(exc):
                return False
            raise MuteStoreError(f"{type(exc).__name__}: {exc}"[:300]) from None
        return True


def _request_key(signature: str) -> str:
    return hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()[:40]


def mute_store(store: object) -> MuteStore:
    """The dedup table's mutes when there is a table, else this process's memory."""
    return DynamoMutes(store) if isinstance(store, DynamoStore) else MemoryMutes()
