"""One click as Slack sends it: the signature check and the payload. Pure but for the clock.

Slack signs every request with the app's signing secret: header ``X-Slack-Signature`` is
``v0=`` + hex HMAC-SHA256 of ``v0:<X-Slack-Request-Timestamp>:<raw body>``; a request
whose timestamp is more than five minutes from now is refused (a replay otherwise works
forever). https://docs.slack.dev/authentication/verifying-requests-from-slack
The check is slack_sdk's ``SignatureVerifier`` (constant-time compare, the clock passed in),
not a copy of it. The body of an interaction is form-encoded, one field ``payload``
holding JSON: ``type`` ``block_actions``, ``user``, ``team``, ``channel``, ``container``,
``message``, ``response_url`` and ``actions``.
https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from deniedwatch.sources.invocation import HttpRequest

MAX_BODY = 64 * 1024  # bytes; an alert's click payload measures under 16 KiB (tests)
WINDOW_SECONDS = 5 * 60  # Slack's documented tolerance for the request timestamp
TIMESTAMP = "x-slack-request-timestamp"
SIGNATURE = "x-slack-signature"


class Refused(Exception):
    """A request that is not answered with an action: ``status`` and the log's reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Clock:
    """slack_sdk's Clock protocol over our wall clock (tests pass a fixed one)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def body_bytes(request: HttpRequest) -> bytes:
    """The raw body, capped: the cap is checked on the text as delivered, before decoding."""
    limit = MAX_BODY * 4 // 3 + 4 if request.base64 else MAX_BODY * 4  # UTF-8: <= 4 bytes/char
    if len(request.body) > limit:
        raise Refused(413, "body over the cap")
    try:
        raw = (
            base64.b64decode(request.body, validate=True)
            if request.base64
            else (request.body.encode("utf-8"))
        )
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise Refused(400, "body is not base64 / UTF-8") from None
    if len(raw) > MAX_BODY:
        raise Refused(413, "body over the cap")
    return raw


def verify(body: bytes, headers: Mapping[str, str], secret: str, now: Callable[[], float]) -> None:
    """Raises Refused(401) unless Slack signed this body within the time window."""
    from slack_sdk.signature import SignatureVerifier  # lazily: only the endpoint needs it

    timestamp, signature = headers.get(TIMESTAMP), headers.get(SIGNATURE)
    if not timestamp or not signature:
        raise Refused(401, "no Slack signature headers")
    try:
        skew = abs(now() - int(timestamp))
    except ValueError:
        raise Refused(401, "timestamp is not a number") from None
    if skew > WINDOW_SECONDS:
        raise Refused(401, "timestamp more than 5 minutes off")
    verifier = SignatureVerifier(secret, clock=_Clock(now))  # type: ignore[arg-type]
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise Refused(401, "bad signature")


@dataclass(frozen=True)
class Click:
    """One button click, read from a signed block_actions payload."""

    user_id: str
    user_name: str
    team_id: str | None
    channel_id: str
    message_ts: str  # the alert's message: its thread gets the audit line
    thread_ts: str | None  # when the alert itself is a reply
    action_id: str
    value: str
    response_url: str | None


def parse_click(body: bytes) -> Click:
    """The signed body -> Click; raises Refused(400) when it is not one button click."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=4)
        (text,) = form["payload"]
        payload = json.loads(text)
    except (ValueError, KeyError, UnicodeDecodeError):
        raise Refused(400, "not an interaction payload") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise Refused(400, "not a block_actions payload")
    actions = payload.get("actions")
    user = _map(payload.get("user"))
    channel = _map(payload.get("channel"))
    container = _map(payload.get("container"))
    message = _map(payload.get("message"))
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise Refused(400, "not one action")
    action = actions[0]
    user_id, channel_id = _str(user.get("id")), _str(channel.get("id"))
    ts = _str(container.get("message_ts")) or _str(message.get("ts"))
    action_id = _str(action.get("action_id"))
    if not (user_id and channel_id and ts and action_id):
        raise Refused(400, "the payload lacks user, channel, message or action")
    return Click(
        user_id=user_id,
        user_name=_str(user.get("username")) or _str(user.get("name")) or user_id,
        team_id=_str(_map(payload.get("team")).get("id")),
        channel_id=channel_id,
        message_ts=ts,
        thread_ts=_str(message.get("thread_ts")),
        action_id=action_id,
        value=_str(action.get("value")) or "",
        response_url=_str(payload.get("response_url")),
    )


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
