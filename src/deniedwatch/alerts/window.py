"""The dedup window's decisions: pure functions over a small per-group state.

``admit`` decides whether a batch's alert for a group goes out (new, novel, retry) or is
held (window, threshold, repeat); ``mark_delivered`` remembers what a claim reached;
``note_caller`` says whether a caller is new in the window; ``HeldGroup`` is what a window
summary announces. The stores in ``dedup.py`` only keep this state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace

from deniedwatch.alerts.channels.base import ThreadRef
from deniedwatch.alerts.group import Alert, GroupKey
from deniedwatch.finding import SCHEMA_FIELDS, Finding

# Batches remembered per group, so an AWS retry of a batch is not counted twice.
RECENT_BATCHES = 20
# A claim no channel confirmed after this long is taken over by the next batch:
# Lambda's maximum timeout is 15 minutes, so its owner has failed by then.
CLAIM_LEASE_SECONDS = 15 * 60

# Novelty: per field, the units of a window's values remembered (as short hashes); a
# unit not among them is news, always: past KNOWN_MAX the alert says the novelty cap is
# reached (a caller inventing names), but a new value is never held silently. At most
# KNOWN_KEPT hashes are kept per field (the oldest go first; DynamoDB items are <= 400 KB),
# so a value forgotten that way is news again: noise, never silence.
KNOWN_MAX = 50
KNOWN_KEPT = 500
VALUE_MAX = 300  # characters of a new value a claim keeps (at most group.UNITS_MAX each)

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
    owner_fresh: dict[str, tuple[str, ...]] = field(default_factory=dict)  # its news values
    owner_capped: tuple[str, ...] = ()  # its news fields past the novelty cap

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GroupState:
        data = json.loads(text)
        data["delivered"] = tuple(data.get("delivered", ()))
        data["recent"] = tuple(data.get("recent", ()))
        data["threads"] = tuple(tuple(t) for t in data.get("threads", ()))
        data["known"] = {k: tuple(v) for k, v in data.get("known", {}).items()}
        data["owner_fresh"] = {k: tuple(v) for k, v in data.get("owner_fresh", {}).items()}
        data["owner_capped"] = tuple(data.get("owner_capped", ()))
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
    # new | novel | novel-aside | retry | window | threshold | repeat | no-store | store-error
    reason: str = ""
    threads: Mapping[str, ThreadRef] = field(default_factory=dict)  # held: where the claim is
    total: int = 0  # held in a window: every denial of the group since the claim, this included
    news: tuple[str, ...] = ()  # novelty fields with a value the window had not seen
    held: int = 0  # the group's held denials after this decision (for the held log line)
    fresh: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # news: the new values
    capped: tuple[str, ...] = ()  # news fields past KNOWN_MAX values in the window
    window_start: float | None = None  # when the group's window opened (PagerDuty's key)
    # held in a window: the group as stored (first_time / first_url of the claim's alert)
    story: Mapping[str, str | None] = field(default_factory=dict)


def _unit_hash(unit: str) -> str:
    return hashlib.sha256(unit.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Learned:
    known: Known  # what the window knows now
    news: tuple[str, ...]  # fields with a value not seen before
    fresh: dict[str, tuple[str, ...]]  # field -> those values
    capped: tuple[str, ...]  # news fields that already knew KNOWN_MAX values


def learn_values(known: Known, units: Mapping[str, Iterable[str]]) -> Learned:
    """Add ``units`` to what the window knows; every unit not seen before is news."""
    out = dict(known)
    news, capped, fresh_values = [], [], {}
    for name, values in units.items():
        have = out.get(name, ())
        seen = set(have)
        fresh = {h: v for v in values if (h := _unit_hash(v)) not in seen}
        if fresh:
            news.append(name)
            # cut: the claim keeps them (a retry names the same news), items <= 400 KB
            fresh_values[name] = tuple(dict.fromkeys(v[:VALUE_MAX] for v in fresh.values()))
            if len(have) >= KNOWN_MAX:
                capped.append(name)
            out[name] = (*have, *fresh)[-KNOWN_KEPT:]
    return Learned(out, tuple(news), fresh_values, tuple(capped))


def learn(known: Known, units: Mapping[str, Iterable[str]]) -> tuple[Known, tuple[str, ...]]:
    """``learn_values``' new knowledge and the fields that had news."""
    learned = learn_values(known, units)
    return learned.known, learned.news


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
        # a retry of a news alert names the same news (and PagerDuty gets the same key)
        fresh = {k: tuple(v) for k, v in s.owner_fresh.items()}
        retry = Decision(
            True,
            s.owner_held,
            frozenset(s.delivered),
            "retry",
            news=tuple(fresh),
            fresh=fresh,
            capped=s.owner_capped,
            window_start=s.posted_at,
        )
        return s, retry
    if batch in s.recent:
        return s, Decision(False, reason="repeat", held=s.held)
    recent = (*s.recent, batch)[-RECENT_BATCHES:]
    about = about or s.about
    abandoned = s._abandoned(now)
    in_window = s.posted_at is not None and now < s.posted_at + window_seconds
    if in_window and not abandoned:
        # a claim still being delivered keeps its place: its retry must find it
        learned = learn_values(s.known, units or {})
        news, fresh, capped = learned.news, learned.fresh, learned.capped
        if s.owner is None or s.complete:
            known = learned.known
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
                    owner_fresh=fresh,
                    owner_capped=capped,
                )
                decision = Decision(
                    True,
                    s.held,
                    frozenset(),
                    "novel",
                    news=news,
                    fresh=fresh,
                    capped=capped,
                    window_start=s.posted_at,
                )
                return claim, decision
        elif news:
            # A claim of this window is still being delivered (or failed and awaits
            # AWS's retry): news goes out beside it, without taking its place (its retry
            # must find it) and without being learned (nothing remembers this batch, so
            # a retry posts it again: at least once, never silent).
            aside = Decision(
                True,
                reason="novel-aside",
                news=news,
                fresh=fresh,
                capped=capped,
                window_start=s.posted_at,
            )
            return s, aside
        total = s.owner_count + s.owner_held + s.held + count
        story = _held_about(s.about, about)
        held = replace(s, held=s.held + count, recent=recent, about=story)
        decision = Decision(
            False,
            reason="window",
            threads=s.thread_refs(),
            total=total,
            held=held.held,
            news=news,
            fresh=fresh,
            capped=capped,
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
    return claim, Decision(True, unannounced, frozenset(), "new", window_start=now)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one batch's delivery of a claimed alert reached: the stores remember it, so an
    AWS retry of the batch re-sends only the rest, and a threaded destination's repeats
    go into the claim's thread."""

    batch: str
    channels: tuple[str, ...]
    complete: bool  # every channel reached: the claim can never be taken over
    now: float = 0.0
    threads: Mapping[str, ThreadRef] = field(default_factory=dict)


def mark_delivered(state: GroupState, delivery: Delivery) -> GroupState:
    """Remember which channels the claim of ``delivery.batch`` reached, and whether that is all."""
    if state.owner != delivery.batch:
        return state
    delivered = (*state.delivered, *(c for c in delivery.channels if c not in state.delivered))
    known = {t[0] for t in state.threads}
    added = tuple(
        (dest, ref.channel, ref.ts) for dest, ref in delivery.threads.items() if dest not in known
    )
    return replace(
        state,
        delivered=delivered,
        complete=state.complete or delivery.complete,
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


def after_summary(state: GroupState, count: int) -> GroupState:
    """The state once a window summary announced ``count`` held denials. At least once:
    a new alert that announced them in between is not undone (never below zero)."""
    held = max(0, state.held - count)
    about = state.about
    if held == 0 and about is not None:
        about = {**about, "held_first": None}
    return replace(state, held=held, about=about)
