"""The dedup window's stores: where each group's window state lives between invocations.

The decision is a pure function over a small per-group state (``window.admit``); the
stores only keep that state. ``DynamoStore`` does read -> decide -> conditional
write on a version number, so two concurrent invocations cannot both post the
same group: the loser re-reads and sees the winner's claim.

A claim remembers the batch that made it and the channels it reached, so an
AWS retry of the same batch re-sends only what did not go out, and a batch that
was already counted is never counted twice. It also keeps where a threaded
destination (Slack app) posted the claim's message (``threads``: destination ->
channel, ts), so repeats inside the window can go into that thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from deniedwatch.alerts.group import Alert, GroupKey
from deniedwatch.alerts.window import (
    CallerState,
    Decision,
    Delivery,
    GroupState,
    HeldGroup,
    admit,
    after_summary,
    mark_delivered,
    note_caller,
)

# How long a group's state outlives its last activity (TTL attribute `expires_at`):
# covers Lambda's retries of a failed batch (up to 6 hours) with room to spare.
RETAIN_SECONDS = 24 * 3600

ENV_TABLE = "DENIEDWATCH_DEDUP_TABLE"
# The sparse global secondary index of groups holding denials: partition key `pending`
# (always HELD), sort key `closes_at` (when the window closes). Items that hold nothing
# lack both attributes, so they are not in the index; the flush Queries, never Scans.
HELD_INDEX = "held"
HELD = "held"

_Stored = GroupState | CallerState
S = TypeVar("S", GroupState, CallerState)


def admit_alert(
    store: DedupStore, state: GroupState | None, alert: Alert, batch: str, now: float
) -> tuple[GroupState, Decision]:
    """``admit`` for one alert, with the store's window and threshold."""
    return admit(
        state,
        batch=batch,
        count=alert.count,
        now=now,
        window_seconds=store.window_seconds,
        threshold=store.threshold,
        units=alert.units,
        about=alert.about(),
    )


class DedupStoreError(RuntimeError):
    """The store could not answer: the caller fails open (the alert goes out)."""


class DedupStore(Protocol):
    window_seconds: float
    threshold: int

    def admit(self, alert: Alert, *, batch: str, now: float) -> Decision: ...

    def delivered(self, alert: Alert, delivery: Delivery) -> None: ...

    def held_groups(self, *, closed_by: float | None = None) -> list[HeldGroup]:
        """Groups holding denials no alert announced, whose window closed by ``closed_by``
        (all of them without it): what the scheduled flush summarises, what status shows."""
        ...

    def announced(self, key: GroupKey, count: int, *, now: float) -> None:
        """A window summary announced ``count`` of this group's held denials."""
        ...

    def new_callers(self, callers: Iterable[str], *, batch: str, now: float) -> set[str]:
        """The callers not seen in the window before this batch (and remember them)."""
        ...


class NullStore:
    """No cross-invocation memory: every group at or over the threshold goes out."""

    def __init__(self, *, window_seconds: float = 3600, threshold: int = 1) -> None:
        self.window_seconds = window_seconds
        self.threshold = threshold

    def admit(self, alert: Alert, *, batch: str, now: float) -> Decision:
        if alert.count >= self.threshold:
            return Decision(True, reason="no-store")
        return Decision(False, reason="threshold")

    def delivered(self, alert: Alert, delivery: Delivery) -> None:
        return None

    def held_groups(self, *, closed_by: float | None = None) -> list[HeldGroup]:
        return []

    def announced(self, key: GroupKey, count: int, *, now: float) -> None:
        return None

    def new_callers(self, callers: Iterable[str], *, batch: str, now: float) -> set[str]:
        return set(callers)  # no memory: every caller is new, order by impact and count


class MemoryStore:
    """The full window logic in one process's memory (tests, local runs)."""

    def __init__(self, *, window_seconds: float = 3600, threshold: int = 1) -> None:
        self.window_seconds = window_seconds
        self.threshold = threshold
        self.states: dict[str, GroupState] = {}
        self.callers: dict[str, CallerState] = {}
        self._lock = threading.Lock()

    def admit(self, alert: Alert, *, batch: str, now: float) -> Decision:
        with self._lock:
            digest = alert.key.digest()
            state, decision = admit_alert(self, self.states.get(digest), alert, batch, now)
            self.states[digest] = state
            return decision

    def delivered(self, alert: Alert, delivery: Delivery) -> None:
        with self._lock:
            digest = alert.key.digest()
            if digest in self.states:
                self.states[digest] = mark_delivered(self.states[digest], delivery)

    def held_groups(self, *, closed_by: float | None = None) -> list[HeldGroup]:
        with self._lock:
            states = list(self.states.values())
        return [
            g
            for s in states
            if (g := HeldGroup.of(s, s.window_closes(self.window_seconds), closed_by))
        ]

    def announced(self, key: GroupKey, count: int, *, now: float) -> None:
        with self._lock:
            digest = key.digest()
            if digest in self.states:
                self.states[digest] = after_summary(self.states[digest], count)

    def new_callers(self, callers: Iterable[str], *, batch: str, now: float) -> set[str]:
        new = set()
        with self._lock:
            for caller in set(callers):
                self.callers[caller], is_new = note_caller(
                    self.callers.get(caller),
                    batch=batch,
                    now=now,
                    window_seconds=self.window_seconds,
                )
                if is_new:
                    new.add(caller)
        return new


class DynamoStore:
    """Group states in a DynamoDB table: partition key ``pk`` (S), TTL ``expires_at`` (N).

    Each write is conditional on the version read, so concurrent invocations
    serialise per group; a lost race is retried from a fresh read.
    """

    MAX_RACES = 8

    def __init__(
        self,
        table: str,
        *,
        window_seconds: float = 3600,
        threshold: int = 1,
        client: Any = None,
    ) -> None:
        self.table = table
        self.window_seconds = window_seconds
        self.threshold = threshold
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: ~160 ms, only when a table is configured

            self._client = boto3.client("dynamodb")
        return self._client

    @staticmethod
    def _pk(key: GroupKey) -> str:
        return "group#" + key.digest()

    @staticmethod
    def _caller_pk(caller: str) -> str:
        return "caller#" + hashlib.sha256(caller.encode("utf-8")).hexdigest()[:32]

    def _read(self, pk: str) -> tuple[str | None, int]:
        """(the item's state JSON or None, its version; 0 when there is no item)."""
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None, 0
        return item["state"]["S"], int(item["version"]["N"])

    def _write(self, pk: str, state: _Stored, version: int, now: float) -> bool:
        """Conditional put; False when another invocation wrote first."""
        item = {
            "pk": {"S": pk},
            "version": {"N": str(version + 1)},
            "state": {"S": state.to_json()},
            "expires_at": {"N": str(int(now + self.window_seconds + RETAIN_SECONDS))},
        }
        if isinstance(state, GroupState):
            item["held"] = {"N": str(state.held)}
            if (closes := state.window_closes(self.window_seconds)) is not None:
                # in the sparse index HELD_INDEX only while it holds denials
                item["pending"] = {"S": HELD}
                item["closes_at"] = {"N": str(int(closes))}
        condition: dict[str, Any]
        if version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(version)}},
            }
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except Exception as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def _update(self, pk: str, now: float, load: Callable[[str], S], change: Any) -> Any:
        """Read -> ``change(state) -> (new state, result)`` -> conditional write, until
        no other invocation wrote in between; no write when nothing changed."""
        try:
            for _ in range(self.MAX_RACES):
                text, version = self._read(pk)
                state = load(text) if text is not None else None
                new, result = change(state)
                if new is None or new == state:
                    return result
                if self._write(pk, new, version, now):
                    return result
        except Exception as exc:
            raise DedupStoreError(f"{type(exc).__name__}: {exc}") from None
        raise DedupStoreError(f"lost {self.MAX_RACES} write races in a row")

    def admit(self, alert: Alert, *, batch: str, now: float) -> Decision:
        def change(state: GroupState | None) -> tuple[GroupState, Decision]:
            return admit_alert(self, state, alert, batch, now)

        return self._update(self._pk(alert.key), now, GroupState.from_json, change)

    def delivered(self, alert: Alert, delivery: Delivery) -> None:
        def change(state: GroupState | None) -> tuple[GroupState | None, None]:
            if state is None:
                return None, None
            return mark_delivered(state, delivery), None

        self._update(self._pk(alert.key), delivery.now, GroupState.from_json, change)

    def held_groups(self, *, closed_by: float | None = None) -> list[HeldGroup]:
        """A Query on the sparse index HELD_INDEX (only items holding denials are in it)."""
        condition = "pending = :held"
        values: dict[str, Any] = {":held": {"S": HELD}}
        if closed_by is not None:
            condition += " AND closes_at <= :now"
            values[":now"] = {"N": str(int(closed_by))}
        groups = []
        try:
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table,
                IndexName=HELD_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            for page in pages:
                for item in page.get("Items", []):
                    state = GroupState.from_json(item["state"]["S"])
                    closes = float(item["closes_at"]["N"])
                    if group := HeldGroup.of(state, closes, closed_by):
                        groups.append(group)
        except Exception as exc:
            raise DedupStoreError(f"{type(exc).__name__}: {exc}") from None
        return groups

    def announced(self, key: GroupKey, count: int, *, now: float) -> None:
        def change(state: GroupState | None) -> tuple[GroupState | None, None]:
            return (after_summary(state, count) if state else None), None

        self._update(self._pk(key), now, GroupState.from_json, change)

    def new_callers(self, callers: Iterable[str], *, batch: str, now: float) -> set[str]:
        def change(state: CallerState | None) -> tuple[CallerState, bool]:
            return note_caller(state, batch=batch, now=now, window_seconds=self.window_seconds)

        return {
            caller
            for caller in sorted(set(callers))
            if self._update(self._caller_pk(caller), now, CallerState.from_json, change)
        }


def _is_condition_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
