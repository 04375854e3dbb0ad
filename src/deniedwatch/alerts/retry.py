"""Waiting politely: Retry-After, pacing, and a JSON POST with retries (Teams, PagerDuty).

Stdlib only (urllib): the function zip carries no HTTP library, and slack_sdk,
which the Slack channels use, has no client for other services. Every wait
goes through an injectable ``sleep`` so tests check which waits were asked for
without waiting.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

# A Retry-After is honoured while the invocation has the time (less RESERVE for the
# rest of the batch); past that the post fails and AWS retries the invocation later.
# Without a deadline (the CLI) a wait of up to WAIT_MAX is honoured.
RESERVE = 10.0
WAIT_MAX = 120.0
MAX_RETRIES = 3
BACKOFF = (1.0, 2.0, 4.0)
POST_INTERVAL = 1.0  # Slack: about one message a second per webhook / channel

Sleep = Callable[[float], None]


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from ``now``: delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    return _date(value, now)


def _date(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return when.timestamp() - now


def backoff(attempt: int) -> float:
    return BACKOFF[min(attempt, len(BACKOFF) - 1)]


def wait_for(
    retry_after: str | None,
    attempt: int,
    now: float,
    *,
    time_left: Callable[[], float] | None = None,
    floor: float = 0.0,
) -> float | None:
    """How long to wait before the next try (Retry-After if readable, else backoff; at
    least ``floor``), or None when that wait does not fit in the time left."""
    seconds = retry_after_seconds(retry_after, now)
    wait = max(backoff(attempt) if seconds is None else max(seconds, 0.0), floor)
    room = time_left() - RESERVE if time_left is not None else WAIT_MAX
    return wait if wait <= room else None


class Pacer:
    """At most one post per ``interval`` seconds, waiting through injectable clock/sleep."""

    def __init__(
        self,
        interval: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.interval = POST_INTERVAL if interval is None else interval
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            gap = self._last + self.interval - self.clock()
            if gap > 0:
                self.sleep(gap)
        self._last = self.clock()


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: Mapping[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Unreachable(RuntimeError):
    """No HTTP answer after the retries (refused, reset, timed out)."""


def post_json(
    url: str,
    payload: Any,
    *,
    timeout: float = 10,
    sleep: Sleep = time.sleep,
    now: Callable[[], float] = time.time,
    retries: int = MAX_RETRIES,
    time_left: Callable[[], float] | None = None,
    throttled_wait: float = 0.0,
) -> HttpAnswer:
    """POST JSON; retry connection errors, 429 (Retry-After) and 5xx; return the last answer.

    A wait that does not fit in ``time_left`` ends the tries (the caller fails the post,
    so it is retried later); ``throttled_wait`` is the least wait after a 429 (what the
    service asks for when it sends no Retry-After). Raises Unreachable when no try got
    an answer. The message names no URL: the URL of a webhook is its secret.
    """
    # UTF-8, not \u escapes: Teams counts bytes; a lone surrogate becomes "?".
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace")
    last: HttpAnswer | None = None
    error = ""
    for attempt in range(retries + 1):
        if attempt:
            retry_after = last.headers.get("retry-after") if last else None
            floor = throttled_wait if last is not None and last.status == 429 else 0.0
            wait = wait_for(retry_after, attempt - 1, now(), time_left=time_left, floor=floor)
            if wait is None:
                break
            sleep(wait)
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return _answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            last = _answer(exc.code, exc.read(), exc.headers)
            if not (last.status == 429 or 500 <= last.status <= 599):
                return last
        except (urllib.error.URLError, ConnectionError, TimeoutError, HTTPException) as exc:
            last, error = None, type(exc).__name__
    if last is not None:
        return last
    raise Unreachable(f"no answer after {retries + 1} tries ({error})")


def _answer(status: int, body: bytes, headers: Any) -> HttpAnswer:
    lower = {k.lower(): v for k, v in (headers.items() if headers else [])}
    return HttpAnswer(status, body[:4096].decode("utf-8", "replace"), lower)
