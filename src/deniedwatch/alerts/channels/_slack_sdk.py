"""slack_sdk plumbing shared by the Slack channels (webhook and app): retries and logging.

Our RetryHandlers wait through an injectable ``sleep``: connection errors, 429
honouring Retry-After (seconds or HTTP date) while the invocation has the time, and
every 5xx (slack_sdk's
own handler retries only 500 and 503, and its default covers only connection
errors). slack_sdk's logger is ours, at WARNING, with secrets redacted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from http.client import HTTPException
from urllib.error import URLError

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from deniedwatch.alerts.retry import MAX_RETRIES, Sleep, backoff, wait_for
from deniedwatch.secrets import redact


class _WaitingHandler(RetryHandler):
    """A slack_sdk RetryHandler that waits through an injectable sleep."""

    def __init__(self, sleep: Sleep, max_retry_count: int = MAX_RETRIES) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    def delay(self, state: RetryState, response: HttpResponse | None) -> float:
        return backoff(state.current_attempt)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.sleep(self.delay(state, response))
        state.increment_current_attempt()


# Refused, reset, timed out or cut-off connections: what slack_sdk raises when no HTTP
# answer came (after the retries below), so a channel can say "unreachable".
UNREACHABLE = (URLError, ConnectionError, TimeoutError, HTTPException)


class ConnectionErrorHandler(_WaitingHandler):
    """Refused, reset, timed out or cut-off connections (no HTTP answer at all)."""

    ERRORS = UNREACHABLE

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[override]
        return response is None and isinstance(error, self.ERRORS)


class ServerErrorHandler(_WaitingHandler):
    """Every 5xx (slack_sdk's own handler retries only 500 and 503)."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[override]
        return response is not None and 500 <= response.status_code <= 599


class RateLimitHandler(_WaitingHandler):
    """429: wait what Retry-After says (seconds or an HTTP date) if the time left allows;
    a longer wait is not retried here (the post fails and is retried later)."""

    def __init__(
        self,
        sleep: Sleep,
        max_retry_count: int = MAX_RETRIES,
        *,
        now: Callable[[], float] = time.time,
        time_left: Callable[[], float | None] = lambda: None,
    ) -> None:
        super().__init__(sleep, max_retry_count)
        self.now = now
        self.time_left = time_left

    def _wait(self, state: RetryState, response: HttpResponse | None) -> float | None:
        value = _header(response, "retry-after") if response else None
        left = self.time_left()
        room = (lambda: left) if left is not None else None
        return wait_for(value, state.current_attempt, self.now(), time_left=room)

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[override]
        if response is None or response.status_code != 429:
            return False
        return self._wait(state, response) is not None

    def delay(self, state: RetryState, response: HttpResponse | None) -> float:
        return self._wait(state, response) or 0.0


def _header(response: HttpResponse, name: str) -> str | None:
    for key, values in response.headers.items():
        if key.lower() == name:
            value = values[0] if isinstance(values, list) and values else values
            return value if isinstance(value, str) else None
    return None


def retry_handlers(
    sleep: Sleep,
    now: Callable[[], float] = time.time,
    time_left: Callable[[], float | None] = lambda: None,
) -> list[RetryHandler]:
    return [
        ConnectionErrorHandler(sleep),
        RateLimitHandler(sleep, now=now, time_left=time_left),
        ServerErrorHandler(sleep),
    ]


# slack_sdk logs request URLs (and bodies) at INFO/DEBUG and each failed try at ERROR
# ("Failed to send a request to Slack API server…", once per retry): quiet. The channel's
# DeliveryFailed is the one line (CLI) or log record (Lambda) that says what failed.
sdk_logger = logging.getLogger("deniedwatch.slack_sdk")
sdk_logger.setLevel(logging.CRITICAL + 1)
sdk_logger.propagate = False
sdk_logger.addHandler(logging.NullHandler())


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


sdk_logger.addFilter(_Redact())
