"""The Slack webhook URL: from Secrets Manager (read once per container) or the environment.

The URL is a credential: anyone holding it can post to the channel. It never
appears in a log line, an error or an output; ``redact`` scrubs it (and anything
shaped like a webhook path) from text before it is shown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

ENV_SECRET_ARN = "DENIEDWATCH_SLACK_SECRET_ARN"
ENV_WEBHOOK_URL = "SLACK_WEBHOOK_URL"

REDACTED = "<redacted webhook>"
# A slash as it appears raw, percent-encoded (a proxy log, a query string) or
# JSON-escaped (an error body).
_SLASH = r"(?:/|%2[fF]|\\/)"
_WEBHOOK_SHAPE = re.compile(
    rf"(?:https?(?::|%3[aA]){_SLASH}{_SLASH}[^\s'\"<>]*?)?{_SLASH}services{_SLASH}[^\s'\"<>]+"
)
TOKEN_MIN = 12  # a last path segment this long is a secret on its own (Slack's: 24)

_lock = threading.Lock()
_cached: str | None = None
_known: set[str] = set()


class SecretError(RuntimeError):
    """The webhook secret cannot be read or is not a webhook URL (message holds no secret)."""


def remember(url: str) -> str:
    """Note a URL as secret so ``redact`` scrubs it in every form: whole, its path, and
    its token (the last path segment) alone, which percent-encoding, JSON escaping or
    a proxy's log line leave as it is."""
    _known.add(url)
    path = re.sub(r"^https?://[^/]+", "", url)
    if len(path) > 8:
        _known.add(path)
    token = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if len(token) >= TOKEN_MIN:
        _known.add(token)
    return url


def redact(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _WEBHOOK_SHAPE.sub(REDACTED, text)


def parse_secret(secret_string: str) -> str:
    """SecretString -> URL: the plain URL, or JSON ``{"webhook_url": "..."}``."""
    value = secret_string.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            raise SecretError("the secret is neither a URL nor JSON") from None
        value = data.get("webhook_url") if isinstance(data, dict) else None
        if not isinstance(value, str):
            raise SecretError('the secret JSON has no "webhook_url" string') from None
        value = value.strip()
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise SecretError("the secret is not an http(s) URL")
    return remember(value)


def webhook_url(client: Any = None) -> str | None:
    """The webhook URL, or None when neither env var is set. Cached per process."""
    global _cached
    with _lock:
        if _cached is not None:
            return _cached
        arn = os.environ.get(ENV_SECRET_ARN)
        if arn:
            _cached = _fetch(arn, client)
        elif url := os.environ.get(ENV_WEBHOOK_URL):
            _cached = parse_secret(url)
        return _cached


def _fetch(arn: str, client: Any) -> str:
    if client is None:
        import boto3  # lazily: only when the secret is read

        client = boto3.client("secretsmanager")
    try:
        with quiet_botocore():
            response = client.get_secret_value(SecretId=arn)
    except Exception as exc:
        error = (getattr(exc, "response", None) or {}).get("Error", {})
        code = error.get("Code") or type(exc).__name__
        raise SecretError(f"cannot read the Slack webhook secret {arn}: {code}") from None
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise SecretError(f"the Slack webhook secret {arn} has no SecretString")
    return parse_secret(text)


@contextlib.contextmanager
def quiet_botocore() -> Iterator[None]:
    """botocore logs request params and response bodies at DEBUG: keep the URL out of them."""
    logger = logging.getLogger("botocore")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def configured() -> bool:
    return bool(os.environ.get(ENV_SECRET_ARN) or os.environ.get(ENV_WEBHOOK_URL))


def forget() -> None:
    """Drop the cached URL (the webhook was revoked, or a test changes the env)."""
    global _cached
    with _lock:
        _cached = None
