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
from deniedwatch.finding import SCHEMA_FIELDS, Finding

# Batches remembered per group, so an AWS retry of a batch is not counted twice.
RECENT_BATCHES = 20
# A claim no channel confirmed after this long is taken over by the next batch:
# Lambda's maximum timeout is 15 minutes, so its owner has failed by then.
CLAIM_LEASE_SECONDS = 15 * 60
# How long a group's state outlives its last activity (TTL attribute `expires_at`):
# covers Lambda's retries of a failed batch (up to 6 hours) with room to spare.
RETAIN_SECONDS = 24 * 3600

ENV_TABLE = "DENIEDWATCH_DEDUP_TABLE"
# The sparse global secondary index of groups holding denials: partition key `pending`
# (always HELD), sort key `closes_at` (when the window closes). Items that hold nothing
# lack both attributes, so they are not in the index; the flush Queries, never Scans.
HELD_INDEX = "held"
HELD = "held"

# Novelty: per field, the units of a window's values remembered (as short hashes); a
# unit not among them is news. Past this many, new ones are no longer news (held).
KNOWN_MAX = 50

Known = dict[str, tuple[str, ...]]  # field -> hashes of the units seen in the window


@dataclass(frozen=True, slots=True)
class GroupState:
    window_start: float = 0.0  # start of the threshold window
    seen: int = 0  # denials since window_start (for the threshold)
    held: int = 0  # denials not announced by any alert yet
    posted_at: float | None = None  # when the window's first claim was made
    owner: str | None = None  # the batch holding the current claim
    owner_count: int = 0  # denials the claim's alert carries
    owner_held: int = 0  # held-back denials the claim's alert announces
    delivered: tuple[str, ...] = ()  # channels the claim has reached
    complete: bool = False  # every channel reached: the claim can never be taken over
    recent: tuple[str, ...] = ()  # batches already counted
    threads: tuple[tuple[str, str, str], ...] = ()  # (destination, channel, ts) of the claim
    claimed_at: float | None = None  # when the current claim was made (None: posted_at)
    known: Known = field(default_factory=dict)  # novelty: what the window has seen
    about: dict[str, str | None] | None = None  # the group, for a window summary

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GroupState:
        data = json.loads(text)
        data["delivered"] = tuple(data.get("delivered", ()))
        data["recent"] = tuple(data.get("recent", ()))
        data["threads"] = tuple(tuple(t) for t in data.get("threads", ()))
        data["known"] = {k: tuple(v) for k, v in data.get("known", {}).items()}
        return cls(**data)

    def thread_refs(self) -> dict[str, ThreadRef]:
        return {dest: ThreadRef(channel, ts) for dest, channel, ts in self.threads}

    def _abandoned(self, now: float) -> bool:
        claimed = self.claimed_at if self.claimed_at is not None else self.posted_at
        return (
            self.owner is not None
            and not self.complete
            and claimed is not None
            and now >= claimed + CLAIM_LEASE_SECONDS
        )

    def window_closes(self, window_seconds: float) -> float | None:
        """When the window of denials held after an alert closes; None if none is held."""
        if self.held <= 0 or self.posted_at is None:
            return None
        return self.posted_at + window_seconds


@dataclass(frozen=True, slots=True)
class Decision:
    post: bool
    held_back: int = 0  # similar denials to announce in this alert
    delivered: frozenset[str] = frozenset()  # channels a previous try already reached
    # new | novel | retry | window | threshold | repeat | no-store | store-error
    reason: str = ""
    threads: Mapping[str, ThreadRef] = field(default_factory=dict)  # held: where the claim is
    total: int = 0  # held in a window: every denial of the group since the claim, this included
    news: tuple[str, ...] = ()  # novelty fields with a value the window had not seen
    held: int = 0  # the group's held denials after this decision (for the held log line)
    # held in a window: the group as stored (first_time / first_url of the claim's alert)
    story: Mapping[str, str | None] = field(default_factory=dict)


def _unit_hash(unit: str) -> str:
    return hashlib.sha256(unit.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def learn(known: Known, units: Mapping[str, Iterable[str]]) -> tuple[Known, tuple[str, ...]]:
    """Add ``units`` to what the window knows; returns the new knowledge and the fields
    that had news (a unit not seen before, with room left to remember it)."""
    out = dict(known)
    news = []
    for name, values in units.items():
        have = out.get(name, ())
        seen = set(have)
        fresh = [h for h in dict.fromkeys(map(_unit_hash, values)) if h not in seen]
        room = KNOWN_MAX - len(have)
        if fresh and room > 0:
            news.append(name)
            out[name] = (*have, *fresh[:room])
    return out, tuple(news)


def admit(
    state: GroupState | None,
    *,
    batch: str,
    count: int,
    now: float,
    window_seconds: float,
    threshold: int = 1,
    units: Mapping[str, Iterable[str]] | None = None,
    about: dict[str, str | None] | None = None,
) -> tuple[GroupState, Decision]:
    """Should this batch's alert for a group go out? Returns the new state and why.

    Inside the window, repeats are held; a unit (``group.novelty_units``: a resource,
    a source IP, a principal id) the window has not seen is news and goes out.
    """
    s = state or GroupState()
    if s.owner == batch:
        return s, Decision(True, s.owner_held, frozenset(s.delivered), "retry")
    if batch in s.recent:
        return s, Decision(False, reason="repeat", held=s.held)
    recent = (*s.recent, batch)[-RECENT_BATCHES:]
    about = about or s.about
    abandoned = s._abandoned(now)
    in_window = s.posted_at is not None and now < s.posted_at + window_seconds
    if in_window and not abandoned:
        # a claim still being delivered keeps its place: its retry must find it
        if s.owner is None or s.complete:
            known, news = learn(s.known, units or {})
            if news:
                claim = replace(
                    s,
                    held=0,
                    owner=batch,
                    owner_count=count,
                    owner_held=s.held,
                    claimed_at=now,
                    delivered=(),
                    complete=False,
                    recent=recent,
                    threads=(),
                    known=known,
                    about=about,
                )
                return claim, Decision(True, s.held, frozenset(), "novel", news=news)
        total = s.owner_count + s.owner_held + s.held + count
        story = _held_about(s.about, about)
        held = replace(s, held=s.held + count, recent=recent, about=story)
        decision = Decision(
            False,
            reason="window",
            threads=s.thread_refs(),
            total=total,
            held=held.held,
            story=story or {},
        )
        return held, decision
    window_start, seen = s.window_start, s.seen
    if now >= window_start + window_seconds:
        window_start, seen = now, 0
    seen += count
    unannounced = s.held + (s.owner_held + s.owner_count if abandoned else 0)
    if seen < threshold:
        new = replace(
            s, window_start=window_start, seen=seen, held=s.held + count, recent=recent, about=about
        )
        if abandoned:
            new = replace(new, owner=None, held=unannounced + count, owner_count=0, owner_held=0)
        return new, Decision(False, reason="threshold", held=new.held)
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
        known=learn({}, units or {})[0],
        about=about,
    )
    return claim, Decision(True, unannounced, frozenset(), "new")


def _held_about(
    stored: dict[str, str | None] | None, latest: dict[str, str | None] | None
) -> dict[str, str | None] | None:
    """What the store keeps of a group while it holds repeats: the claim's first time and
    first event (the threaded parent's story) with the latest batch's details, and when
    the held repeats began (a window summary's time range)."""
    if stored is None or latest is None:
        return latest or stored
    kept = {k: stored.get(k) for k in ("first_time", "first_url")}
    held_first = stored.get("held_first") or latest.get("first_time")
    return {**latest, **kept, "held_first": held_first}


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


@dataclass(frozen=True, slots=True)
class HeldGroup:
    """A group holding denials that no alert announced, and when its window closes."""

    key: GroupKey
    held: int
    closes_at: float
    about: dict[str, str | None]

    @classmethod
    def of(
        cls, state: GroupState, closes: float | None, closed_by: float | None
    ) -> HeldGroup | None:
        """The group if it holds denials (and its window closed by ``closed_by``)."""
        if state.held <= 0 or closes is None or state.about is None:
            return None
        if closed_by is not None and closes > closed_by:
            return None
        a = state.about
        key = GroupKey(
            a.get("account_id"), a.get("principal"), a.get("action"), a.get("error_code")
        )
        return cls(key, state.held, closes, a)

    def as_alert(self) -> Alert:
        """The held denials as an alert of a window summary (no event of its own)."""
        a = self.about
        sample = Finding(
            **{
                **dict.fromkeys(SCHEMA_FIELDS),
                "account_id": self.key.account_id,
                "principal_name": a.get("who"),
                "principal_type": a.get("principal_type"),
                "service": a.get("service"),
                "action": self.key.action,
                "error_code": self.key.error_code,
                "resource": a.get("resource"),
                "region": a.get("region"),
            }
        )
        return Alert(
            key=self.key,
            count=self.held,
            first_time=a.get("held_first"),
            last_time=a.get("last_time"),
            sample=sample,
            examples=(),
            account_label=a.get("label"),
        )


def after_summary(state: GroupState, count: int) -> GroupState:
    """The state once a window summary announced ``count`` held denials. At least once:
    a new alert that announced them in between is not undone (never below zero)."""
    held = max(0, state.held - count)
    about = state.about
    if held == 0 and about is not None:
        about = {**about, "held_first": None}
    return replace(state, held=held, about=about)


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
