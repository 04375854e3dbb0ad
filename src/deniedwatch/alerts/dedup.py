"""The dedup window: the same group is posted at most once per window, repeats counted.

The decision is a pure function over a small per-group state (``admit``); the
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
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TypeVar

from deniedwatch.alerts.channels.base import ThreadRef
from deniedwatch.alerts.group import Alert, GroupKey

# Batches remembered per group, so an AWS retry of a batch is not counted twice.
RECENT_BATCHES = 20
# A claim no channel confirmed after this long is taken over by the next batch:
# Lambda's maximum timeout is 15 minutes, so its owner has failed by then.
CLAIM_LEASE_SECONDS = 15 * 60
# How long a group's state outlives its last activity (TTL attribute `expires_at`):
# covers Lambda's retries of a failed batch (up to 6 hours) with room to spare.
RETAIN_SECONDS = 24 * 3600

ENV_TABLE = "DENIEDWATCH_DEDUP_TABLE"


@dataclass(frozen=True, slots=True)
class GroupState:
    window_start: float = 0.0  # start of the threshold window
    seen: int = 0  # denials since window_start (for the threshold)
    held: int = 0  # denials not announced by any alert yet
    posted_at: float | None = None  # when the current claim was made
    owner: str | None = None  # the batch holding the current claim
    owner_count: int = 0  # denials the claim's alert carries
    owner_held: int = 0  # held-back denials the claim's alert announces
    delivered: tuple[str, ...] = ()  # channels the claim has reached
    complete: bool = False  # every channel reached: the claim can never be taken over
    recent: tuple[str, ...] = ()  # batches already counted
    threads: tuple[tuple[str, str, str], ...] = ()  # (destination, channel, ts) of the claim

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GroupState:
        data = json.loads(text)
        data["delivered"] = tuple(data.get("delivered", ()))
        data["recent"] = tuple(data.get("recent", ()))
        data["threads"] = tuple(tuple(t) for t in data.get("threads", ()))
        return cls(**data)

    def thread_refs(self) -> dict[str, ThreadRef]:
        return {dest: ThreadRef(channel, ts) for dest, channel, ts in self.threads}

    def _abandoned(self, now: float) -> bool:
        return (
            self.owner is not None
            and not self.complete
            and self.posted_at is not None
            and now >= self.posted_at + CLAIM_LEASE_SECONDS
        )


@dataclass(frozen=True, slots=True)
class Decision:
    post: bool
    held_back: int = 0  # similar denials to announce in this alert
    delivered: frozenset[str] = frozenset()  # channels a previous try already reached
    reason: str = ""  # new | retry | window | threshold | repeat | no-store | store-error
    threads: Mapping[str, ThreadRef] = field(default_factory=dict)  # held: where the claim is
    total: int = 0  # held in a window: every denial of the group since the claim, this included


def admit(
    state: GroupState | None,
    *,
    batch: str,
    count: int,
    now: float,
    window_seconds: float,
    threshold: int = 1,
) -> tuple[GroupState, Decision]:
    """Should this batch's alert for a group go out? Returns the new state and why."""
    s = state or GroupState()
    if s.owner == batch:
        return s, Decision(True, s.owner_held, frozenset(s.delivered), "retry")
    if batch in s.recent:
        return s, Decision(False, reason="repeat")
    recent = (*s.recent, batch)[-RECENT_BATCHES:]
    abandoned = s._abandoned(now)
    in_window = s.posted_at is not None and now < s.posted_at + window_seconds
    if in_window and not abandoned:
        total = s.owner_count + s.owner_held + s.held + count
        decision = Decision(False, reason="window", threads=s.thread_refs(), total=total)
        return replace(s, held=s.held + count, recent=recent), decision
    window_start, seen = s.window_start, s.seen
    if now >= window_start + window_seconds:
        window_start, seen = now, 0
    seen += count
    unannounced = s.held + (s.owner_held + s.owner_count if abandoned else 0)
    if seen < threshold:
        new = replace(s, window_start=window_start, seen=seen, held=s.held + count, recent=recent)
        if abandoned:
            new = replace(new, owner=None, held=unannounced + count, owner_count=0, owner_held=0)
        return new, Decision(False, reason="threshold")
    claim = GroupState(
        window_start=now,
        seen=0,
        held=0,
        posted_at=now,
        owner=batch,
        owner_count=count,
        owner_held=unannounced,
        delivered=(),
        recent=recent,
    )
    return claim, Decision(True, unannounced, frozenset(), "new")


def mark_delivered(
    state: GroupState,
    *,
    batch: str,
    channels: tuple[str, ...],
    complete: bool,
    threads: Mapping[str, ThreadRef] | None = None,
) -> GroupState:
    """Remember which channels the claim of ``batch`` reached, and whether that is all."""
    if state.owner != batch:
        return state
    delivered = (*state.delivered, *(c for c in channels if c not in state.delivered))
    known = {t[0] for t in state.threads}
    added = tuple(
        (dest, ref.channel, ref.ts) for dest, ref in (threads or {}).items() if dest not in known
    )
    return replace(
        state,
        delivered=delivered,
        complete=state.complete or complete,
        threads=state.threads + added,
    )


@dataclass(frozen=True, slots=True)
class CallerState:
    """When a caller (``GroupKey.caller``) was first seen in the current window."""

    first_seen: float
    batch: str  # the batch that saw it first: its retries still count it as new

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CallerState:
        return cls(**json.loads(text))


def note_caller(
    state: CallerState | None, *, batch: str, now: float, window_seconds: float
) -> tuple[CallerState, bool]:
    """Is this caller new in the window (the alert order puts it first)? And the new state."""
    if state is not None and state.batch == batch:
        return state, True
    if state is not None and now < state.first_seen + window_seconds:
        return state, False
    return CallerState(first_seen=now, batch=batch), True


_Stored = GroupState | CallerState
S = TypeVar("S", GroupState, CallerState)


class DedupStoreError(RuntimeError):
    """The store could not answer: the caller fails open (the alert goes out)."""


class DedupStore(Protocol):
    window_seconds: float
    threshold: int

    def admit(self, alert: Alert, *, batch: str, now: float) -> Decision: ...

    def delivered(
        self,
        alert: Alert,
        *,
        batch: str,
        channels: tuple[str, ...],
        complete: bool,
        now: float,
        threads: Mapping[str, ThreadRef] | None = None,
    ) -> None: ...

    def pending(self, key: GroupKey) -> int:
        """Denials of this group held back and not announced yet."""
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

    def delivered(
        self,
        alert: Alert,
        *,
        batch: str,
        channels: tuple[str, ...],
        complete: bool,
        now: float,
        threads: Mapping[str, ThreadRef] | None = None,
    ) -> None:
        return None

    def pending(self, key: GroupKey) -> int:
        return 0

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
            state, decision = admit(
                self.states.get(digest),
                batch=batch,
                count=alert.count,
                now=now,
                window_seconds=self.window_seconds,
                threshold=self.threshold,
            )
            self.states[digest] = state
            return decision

    def delivered(
        self,
        alert: Alert,
        *,
        batch: str,
        channels: tuple[str, ...],
        complete: bool,
        now: float,
        threads: Mapping[str, ThreadRef] | None = None,
    ) -> None:
        with self._lock:
            digest = alert.key.digest()
            if digest in self.states:
                self.states[digest] = mark_delivered(
                    self.states[digest],
                    batch=batch,
                    channels=channels,
                    complete=complete,
                    threads=threads,
                )

    def pending(self, key: GroupKey) -> int:
        state = self.states.get(key.digest())
        return state.held if state else 0

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
            return admit(
                state,
                batch=batch,
                count=alert.count,
                now=now,
                window_seconds=self.window_seconds,
                threshold=self.threshold,
            )

        return self._update(self._pk(alert.key), now, GroupState.from_json, change)

    def delivered(
        self,
        alert: Alert,
        *,
        batch: str,
        channels: tuple[str, ...],
        complete: bool,
        now: float,
        threads: Mapping[str, ThreadRef] | None = None,
    ) -> None:
        def change(state: GroupState | None) -> tuple[GroupState | None, None]:
            if state is None:
                return None, None
            new = mark_delivered(
                state, batch=batch, channels=channels, complete=complete, threads=threads
            )
            return new, None

        self._update(self._pk(alert.key), now, GroupState.from_json, change)

    def pending(self, key: GroupKey) -> int:
        text, _ = self._read(self._pk(key))
        return GroupState.from_json(text).held if text else 0

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
