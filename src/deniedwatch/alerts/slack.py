"""Slack: Block Kit rendering (the one place that writes Slack text) and delivery.

Rendering is pure. Every string that came from a record goes through
``text.literal`` (escaped ``&``, ``<``, ``>``; inline code so ``*`` and URLs
stay plain) or into a ``plain_text`` object, and every text object is cut to
Block Kit's limits. Links are built only from URLs we made, percent-encoded.

Delivery uses slack_sdk's WebhookClient with our own retry handlers: connection
errors, 429 honouring Retry-After (seconds or HTTP date, capped) and every 5xx,
all waiting through an injectable ``sleep``; posts are paced to one a second.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from http.client import HTTPException
from typing import Any
from urllib.error import URLError
from urllib.parse import quote

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.deliver import DeliveryFailed
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut, escape_mrkdwn, literal
from deniedwatch.explain import POLICY_WORDS
from deniedwatch.secrets import redact

# Block Kit limits (Slack's reference for blocks and composition objects).
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BLOCKS_MAX = 50
FALLBACK_TEXT_MAX = 3000  # Slack allows 40,000; a notification needs far less

_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def link(url: str | None, label: str) -> str | None:
    """``<url|label>`` for a URL we built; None for anything that is not plain http(s)."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    safe_url = escape_mrkdwn(quote(url, safe=_URL_SAFE))
    safe_label = escape_mrkdwn(clean(label)).replace("|", "¦")
    return f"<{safe_url}|{safe_label}>"


def _field(label: str, value: object, extra: str = "") -> dict[str, str]:
    """A section field: our bold label, then the record's value as literal text."""
    head = f"*{label}*\n"
    tail = f"\n{extra}" if extra else ""
    if value is None or value == "":
        body = "_unknown_"
    else:
        body = literal(value, FIELD_TEXT_MAX - len(head) - len(tail))
    return {"type": "mrkdwn", "text": head + body + tail}


def _others(alert: Alert, name: str, noun: str) -> str:
    n = alert.variety.get(name, 0) - 1
    return f"_and {n} other {noun}{'s' if n > 1 else ''}_" if n > 0 else ""


def _why(alert: Alert) -> str | None:
    f = alert.sample
    if f.denial_policy is None:
        return None
    kind = {True: "explicit deny in", False: "no allow in", None: "denied by"}[f.denial_explicit]
    return f"{kind} {POLICY_WORDS.get(f.denial_policy, f.denial_policy)}"


def _when(alert: Alert) -> str:
    if alert.first_time and alert.last_time and alert.first_time != alert.last_time:
        return f"{alert.first_time} → {alert.last_time}"
    return alert.last_time or alert.first_time or ""


def header_text(alert: Alert) -> str:
    f = alert.sample
    what = f.action or f.event_name or "an AWS API call"
    who = f.principal_name or f.principal_arn or "an unknown principal"
    return cut(clean(f"🚫 {f.error_code or 'Denied'}: {what} by {who}"), HEADER_MAX)


def fallback_text(alert: Alert) -> str:
    """The notification text (shown where blocks are not): escaped, one line."""
    times = "once" if alert.count == 1 else f"{alert.count} times"
    return escape_mrkdwn(cut(f"{header_text(alert)} ({times})", FALLBACK_TEXT_MAX))


def _summary(alert: Alert, window_minutes: int | None) -> str:
    times = "1 denied call" if alert.count == 1 else f"{alert.count} denied calls"
    lines = [f"*{times}* in this batch, {literal(_when(alert), 200)} (UTC)"]
    if alert.held_back:
        window = f" (dedup window {window_minutes} min)" if window_minutes else ""
        lines.append(
            f"_Plus {alert.held_back} similar denials held back since the last alert{window}._"
        )
    return cut("\n".join(lines), SECTION_TEXT_MAX)


def _details(alert: Alert) -> str | None:
    """Denying policy ARN, VPC endpoint and the next step: record text, as literals."""
    f = alert.sample
    rows = [
        ("Denying policy", f.denial_policy_arn, 900),
        ("VPC endpoint", f.vpc_endpoint_id, 200),
        ("Next step", f.hint, 1500),
    ]
    text = "\n".join(f"*{label}* {literal(value, limit)}" for label, value, limit in rows if value)
    return text or None


def _links(alert: Alert) -> str | None:
    f = alert.sample
    parts = [link(f.console_url, "Open the event in CloudTrail")]
    if f.console_url and f.console_note:
        parts[0] = f"{parts[0]} _({escape_mrkdwn(f.console_note)})_"
    if alert.log:
        parts.append(link(alert.log.console_url(), "Log stream"))
    examples = [
        link(e.console_url, e.event_time or e.event_id or f"event {i}")
        for i, e in enumerate(alert.examples, 1)
        if e.event_id != f.event_id
    ]
    examples = [e for e in examples if e]
    text = " · ".join(p for p in parts if p)
    if examples:
        text += ("\n" if text else "") + "Other examples: " + ", ".join(examples)
    # Never cut inside a link: drop whole examples until it fits.
    while len(text) > SECTION_TEXT_MAX and examples:
        examples.pop()
        text = text.rsplit("\n", 1)[0] + ("\nOther examples: " + ", ".join(examples))
    return text if text and len(text) <= SECTION_TEXT_MAX else None


def render(
    alert: Alert, *, slack_channel: str | None = None, window_minutes: int | None = None
) -> dict[str, Any]:
    """The webhook payload for one alert: ``text`` fallback plus Block Kit ``blocks``."""
    f = alert.sample
    account = f.account_id
    if account and alert.account_label:
        account = f"{account} ({alert.account_label})"
    where = " / ".join(x for x in (account, f.region) if x) or None
    fields = [
        _field("Who", f.principal_name),
        _field("Principal type", f.principal_type),
        _field("Principal ARN", f.principal_arn),
        _field("What", f.action or f.event_name),
        _field("Error code", f.error_code),
        _field("Why", _why(alert)),
        _field("Resource", f.resource, _others(alert, "resource", "resource")),
        _field("Where (account / region)", where, _others(alert, "region", "region")),
        _field("Source IP", f.source_ip, _others(alert, "source_ip", "source IP")),
        _field("User agent", f.user_agent, _others(alert, "user_agent", "user agent")),
    ][:FIELDS_MAX]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text(alert)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _summary(alert, window_minutes)}},
        {"type": "section", "fields": fields},
    ]
    if f.error_message:
        quote_text = "*Error message*\n>" + literal(f.error_message, SECTION_TEXT_MAX - 20)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quote_text}})
    if details := _details(alert):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": details}})
    if links := _links(alert):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
    context = "deniedwatch"
    if slack_channel:
        context += f" · {escape_mrkdwn(cut(clean(slack_channel), 80))}"
    if window_minutes:
        context += f" · repeats of this alert are held back for {window_minutes} min"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": fallback_text(alert), "blocks": blocks[:BLOCKS_MAX]}


def render_digest(digest: Digest, *, slack_channel: str | None = None) -> dict[str, Any]:
    """The webhook payload for a digest: who, how many, the top actions; all counted."""
    headline = clean(digest.headline())
    header = cut(("🧾 " if digest.kind == "budget" else "⏳ ") + headline, HEADER_MAX)
    intro = (
        f"*{digest.count} denied calls* by {literal(digest.who, 400)} in "
        f"{literal(digest.account, 200)} ({escape_mrkdwn(digest.listed())}):"
    )
    rows = [f"• {literal(action, 200)} × {count}" for action, count in digest.top()]
    listing = intro + "\n" + "\n".join(rows)
    why = (
        "the most important alerts of this batch were posted on their own; these are counted here"
        if digest.kind == "budget"
        else "held back by the dedup window, which closed without another alert for them"
    )
    context = f"deniedwatch · {why}"
    if slack_channel:
        context += f" · {escape_mrkdwn(cut(clean(slack_channel), 80))}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(listing, SECTION_TEXT_MAX)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    return {"text": escape_mrkdwn(cut(headline, FALLBACK_TEXT_MAX)), "blocks": blocks}


def limit_problems(payload: Mapping[str, Any]) -> list[str]:
    """Block Kit limits this payload breaks (empty when fine); used by tests and checks."""
    from deniedwatch.alerts.text import width

    problems = []
    blocks = payload.get("blocks", [])
    if len(blocks) > BLOCKS_MAX:
        problems.append(f"{len(blocks)} blocks")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header" and (
            block["text"]["type"] != "plain_text" or width(block["text"]["text"]) > HEADER_MAX
        ):
            problems.append(f"block {i}: header")
        if kind == "section":
            if "text" in block and width(block["text"]["text"]) > SECTION_TEXT_MAX:
                problems.append(f"block {i}: section text")
            fields = block.get("fields", [])
            if len(fields) > FIELDS_MAX:
                problems.append(f"block {i}: {len(fields)} fields")
            for field in fields:
                if width(field["text"]) > FIELD_TEXT_MAX:
                    problems.append(f"block {i}: field text")
        if kind == "context" and len(block.get("elements", [])) > CONTEXT_ELEMENTS_MAX:
            problems.append(f"block {i}: context elements")
    if width(payload.get("text", "")) > FALLBACK_TEXT_MAX:
        problems.append("fallback text")
    return problems


# --- delivery ---------------------------------------------------------------

RETRY_AFTER_CAP = 30.0  # seconds; a longer Retry-After is waited only this long
MAX_RETRIES = 3
BACKOFF = (1.0, 2.0, 4.0)
POST_INTERVAL = 1.0  # Slack: about one message a second per webhook

Sleep = Callable[[float], None]


class _WaitingHandler(RetryHandler):
    """A slack_sdk RetryHandler that waits through an injectable sleep."""

    def __init__(self, sleep: Sleep, max_retry_count: int = MAX_RETRIES) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    def delay(self, state: RetryState, response: HttpResponse | None) -> float:
        return BACKOFF[min(state.current_attempt, len(BACKOFF) - 1)]

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


class ConnectionErrorHandler(_WaitingHandler):
    """Refused, reset, timed out or cut-off connections (no HTTP answer at all)."""

    ERRORS = (URLError, ConnectionError, TimeoutError, HTTPException)

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[override]
        return response is None and isinstance(error, self.ERRORS)


class ServerErrorHandler(_WaitingHandler):
    """Every 5xx (slack_sdk's own handler retries only 500 and 503)."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[override]
        return response is not None and 500 <= response.status_code <= 599


class RateLimitHandler(_WaitingHandler):
    """429: wait what Retry-After says, in seconds or as an HTTP date, capped."""

    def __init__(
        self,
        sleep: Sleep,
        max_retry_count: int = MAX_RETRIES,
        *,
        now: Callable[[], float] = time.time,
        cap: float = RETRY_AFTER_CAP,
    ) -> None:
        super().__init__(sleep, max_retry_count)
        self.now = now
        self.cap = cap

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[override]
        return response is not None and response.status_code == 429

    def delay(self, state: RetryState, response: HttpResponse | None) -> float:
        value = _header(response, "retry-after") if response else None
        seconds = retry_after_seconds(value, self.now())
        if seconds is None:
            return super().delay(state, response)
        return min(max(seconds, 0.0), self.cap)


def _header(response: HttpResponse, name: str) -> str | None:
    for key, values in response.headers.items():
        if key.lower() == name:
            value = values[0] if isinstance(values, list) and values else values
            return value if isinstance(value, str) else None
    return None


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


def retry_handlers(sleep: Sleep, now: Callable[[], float] = time.time) -> list[RetryHandler]:
    return [
        ConnectionErrorHandler(sleep),
        RateLimitHandler(sleep, now=now),
        ServerErrorHandler(sleep),
    ]


# slack_sdk logs request URLs at INFO/DEBUG; ours stays at WARNING and is redacted.
_sdk_logger = logging.getLogger("deniedwatch.slack_sdk")
_sdk_logger.setLevel(logging.WARNING)


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


_sdk_logger.addFilter(_Redact())


class SlackChannel:
    """Posts alerts to one incoming webhook; raises DeliveryFailed, never leaks the URL."""

    name = "slack"

    def __init__(
        self,
        url: Callable[[], str],
        *,
        slack_channel: str | None = None,
        window_minutes: int | None = None,
        timeout: int = 10,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        on_rejected: Callable[[], None] | None = None,
    ) -> None:
        self._url = url
        self.slack_channel = slack_channel
        self.window_minutes = window_minutes
        self.timeout = timeout
        self.sleep = sleep
        self.now = now
        self.pacer = Pacer(clock=clock, sleep=sleep)
        self.on_rejected = on_rejected
        self._client: WebhookClient | None = None

    def _webhook(self) -> WebhookClient:
        if self._client is None:
            try:
                url = self._url()
            except Exception as exc:
                raise DeliveryFailed(redact(f"no Slack webhook URL: {exc}")) from None
            self._client = WebhookClient(
                url,
                timeout=self.timeout,
                logger=_sdk_logger,
                retry_handlers=retry_handlers(self.sleep, self.now),
            )
        return self._client

    def send(self, alert: Alert) -> None:
        self.post(
            render(alert, slack_channel=self.slack_channel, window_minutes=self.window_minutes)
        )

    def send_digest(self, digest: Digest) -> None:
        self.post(render_digest(digest, slack_channel=self.slack_channel))

    def post(self, payload: dict[str, Any]) -> None:
        client = self._webhook()
        self.pacer.wait()
        try:
            response = client.send_dict(payload)
        except Exception as exc:
            raise DeliveryFailed(
                redact(f"Slack unreachable: {type(exc).__name__}: {exc}")
            ) from None
        if response.status_code == 200:
            return
        if response.status_code in (403, 404, 410) and self.on_rejected:
            self.on_rejected()  # the webhook was revoked: read the secret again next time
            self._client = None
        body = redact(clean(str(response.body or "")))[:200]
        raise DeliveryFailed(f"Slack answered HTTP {response.status_code}: {body}")
