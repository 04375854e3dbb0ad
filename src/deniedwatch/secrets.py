"""Destination secrets (webhook URLs, bot tokens, routing keys): where they come from.

In the function: one Secrets Manager secret holding a JSON object ``name ->
secret``, named by env ``DENIEDWATCH_SECRETS_ARN`` (cached for ``CACHE_SECONDS``,
so a secret rotated with ``deniedwatch set-secret`` reaches warm containers
within minutes; a rejected secret is read again at once).
Without it (local runs, tests, ``scan --notify``): each destination's secret is
the env var its ``url_env`` names. Today's single-webhook setups keep working:
``DENIEDWATCH_SLACK_SECRET_ARN`` (a secret holding the URL, or JSON
``{"webhook_url": ...}``) or ``SLACK_WEBHOOK_URL`` feed the default ``slack``
destination.

A secret never appears in a log line, an error or an output; ``redact`` scrubs
every secret read (and anything shaped like a webhook path or a Slack token)
from text before it is shown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from deniedwatch.urls import https_or_loopback

ENV_SECRETS_ARN = "DENIEDWATCH_SECRETS_ARN"
ENV_SECRET_ARN = "DENIEDWATCH_SLACK_SECRET_ARN"  # today's single-webhook secret
ENV_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
LEGACY_DESTINATION = "slack"  # the destination today's env vars feed
# The Slack app's signing secret (triage buttons, docs/triage.md): this key of the stack's
# secret, or this env var in local runs and tests.
SIGNING_SECRET_KEY = "slack_signing_secret"
ENV_SIGNING_SECRET = "DENIEDWATCH_SLACK_SIGNING_SECRET"

REDACTED = "<redacted secret>"
# A slash as it appears raw, percent-encoded (a proxy log, a query string) or
# JSON-escaped (an error body).
_SLASH = r"(?:/|%2[fF]|\\/)"
_SECRET_SHAPES = re.compile(
    rf"(?:https?(?::|%3[aA]){_SLASH}{_SLASH}[^\s'\"<>]*?)?{_SLASH}services{_SLASH}[^\s'\"<>]+"
    r"|xox[abposr]-[A-Za-z0-9-]+"  # Slack tokens
    r"|(?:[?&]|%3[fF]|%26)sig(?:=|%3[dD])[^\s'\"<>&]+"  # signed webhook URLs (Teams Workflows)
)
TOKEN_MIN = 12  # a last path segment or sig this long is a secret on its own (Slack's: 24)
# A value shorter than this is not scrubbed: scrubbing "1" or "" (an empty entry of the
# destinations' secret) would erase every account id, count and time from the alert
# itself, and a secret that short protects nothing (PagerDuty routing keys are 32
# characters, Slack signing secrets 32, webhook URLs far longer).
SECRET_MIN = 8

CACHE_SECONDS = 300

_known: set[str] = set()


class SecretCache:
    """SecretStrings by ARN for ``ttl`` seconds, so a rotated secret is read again within
    that long. The clock is given to the constructor (as slack_sdk's SignatureVerifier
    takes its own), so a test builds a cache with its clock instead of patching one."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, ttl: float = CACHE_SECONDS
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, str]] = {}  # ARN -> (read at, SecretString)

    def get(self, arn: str, fetch: Callable[[], str]) -> str:
        """The cached text while it is fresh, else ``fetch()`` (and remember it)."""
        with self._lock:
            hit = self._items.get(arn)
            if hit is not None and self._clock() - hit[0] < self._ttl:
                return hit[1]
            text = fetch()
            self._items[arn] = (self._clock(), text)
            return text

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = SecretCache()  # the process's cache: the Lambda container's, or the CLI's


class SecretError(RuntimeError):
    """A secret cannot be read or has the wrong shape (the message holds no secret)."""


def remember(secret: str) -> str:
    """Note a secret so ``redact`` scrubs it in every form: whole, a URL's path, and its
    token (the last path segment, or a ``sig``) alone, which percent-encoding, JSON
    escaping or a proxy's log line leave as it is. Values under ``SECRET_MIN`` characters
    are not remembered (see there)."""
    if len(secret.strip()) < SECRET_MIN:
        return secret
    _known.add(secret)
    path = re.sub(r"^https?://[^/]+", "", secret)
    if path != secret and len(path) > 8:
        _known.add(path)
        token = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        sig = re.search(r"[?&]sig=([^&#]+)", path)
        for value in (token, *((sig.group(1), unquote(sig.group(1))) if sig else ())):
            if len(value) >= TOKEN_MIN:
                _known.add(value)
    return secret


def redact(text: str) -> str:
    # Shapes first: a known secret that is part of an unknown webhook's text (one process
    # remembers many) would otherwise cut it so that its token no longer looks like one.
    text = _SECRET_SHAPES.sub(REDACTED, text)
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _SECRET_SHAPES.sub(REDACTED, text)


def check_url(value: str) -> str:
    """A webhook URL to send to, by the same rule as one to store (``url_problem``):
    https, or http to this machine; remembered as a secret."""
    value = value.strip()
    if problem := url_problem(value):
        raise SecretError(f"the secret {problem}")
    return remember(value)


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a webhook URL to store or send to, or None (``deploy``,
    ``set-secret``, the settings and the channels that send all ask this)."""
    if not https_or_loopback(value):
        return "must be an https URL (plain http only to this machine)"
    return None


def parse_secret(secret_string: str) -> str:
    """Today's Slack secret -> URL: the plain URL, or JSON ``{"webhook_url": "..."}``."""
    value = secret_string.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            raise SecretError("the secret is neither a URL nor JSON") from None
        value = data.get("webhook_url") if isinstance(data, dict) else None
        if not isinstance(value, str):
            raise SecretError('the secret JSON has no "webhook_url" string') from None
    return check_url(value)


def parse_secrets(secret_string: str, arn: str) -> dict[str, str]:
    """The destinations' secret: a JSON object of destination name -> secret string.

    A stack deployed before destinations existed holds the bare webhook URL (or
    ``{"webhook_url": ...}``): that is the ``slack`` destination's.
    """
    if not secret_string.lstrip().startswith("{") or '"webhook_url"' in secret_string:
        return {LEGACY_DESTINATION: parse_secret(secret_string)}
    try:
        data = json.loads(secret_string)
    except ValueError:
        raise SecretError(f"the secret {arn} is not a JSON object of name -> secret") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SecretError(f"the secret {arn} is not a JSON object of name -> secret")
    for value in data.values():
        remember(value)
    return data


def destination_secret(
    name: str,
    url_env: str | None,
    *,
    env: Mapping[str, str] | None = None,
    client: Any = None,
    cache: SecretCache | None = None,
) -> str:
    """The secret of destination ``name``; raises SecretError (naming no secret)."""
    env = os.environ if env is None else env
    if arn := env.get(ENV_SECRETS_ARN):
        found = parse_secrets(_read(arn, client, cache), arn).get(name)
        if isinstance(found, str) and found.strip():
            return remember(found.strip())
        if name != LEGACY_DESTINATION or not env.get(ENV_SECRET_ARN):
            raise SecretError(
                f"the secret {arn} has no entry for destination {name!r}: "
                f"run `deniedwatch set-secret {name}`"
            )
    if url_env and (value := env.get(url_env, "").strip()):
        return remember(value)
    if name == LEGACY_DESTINATION and (url := webhook_url(client, env=env, cache=cache)):
        return url
    where = f"env {url_env}" if url_env else f"{ENV_SECRETS_ARN}"
    raise SecretError(f"no secret for destination {name!r}: set {where}")


def slack_signing_secret(
    *, env: Mapping[str, str] | None = None, client: Any = None, cache: SecretCache | None = None
) -> str | None:
    """The Slack app's signing secret, or None when none is configured (no buttons, and
    the function URL answers nothing). Never raises: an unreadable secret is None."""
    env = os.environ if env is None else env
    if arn := env.get(ENV_SECRETS_ARN):
        try:
            text = _read(arn, client, cache)
            data = json.loads(text) if text.lstrip().startswith("{") else {}
        except (SecretError, ValueError):
            data = {}
        value = data.get(SIGNING_SECRET_KEY) if isinstance(data, dict) else None
        if isinstance(value, str) and value.strip():
            return remember(value.strip())
    if value := env.get(ENV_SIGNING_SECRET, "").strip():
        return remember(value)
    return None


def webhook_url(
    client: Any = None, *, env: Mapping[str, str] | None = None, cache: SecretCache | None = None
) -> str | None:
    """Today's Slack webhook URL, or None when neither env var is set. Cached per process."""
    env = os.environ if env is None else env
    if arn := env.get(ENV_SECRET_ARN):
        return parse_secret(_read(arn, client, cache))
    if url := env.get(ENV_WEBHOOK_URL):
        return parse_secret(url)
    return None


def _read(arn: str, client: Any, cache: SecretCache | None) -> str:
    """SecretString of ``arn``, from the cache while it is fresh."""
    return (cache or _CACHE).get(arn, lambda: _fetch(arn, client))


def merge_secrets(current: str | None, name: str, value: str) -> str:
    """The destinations' secret with ``name`` set to ``value`` (others kept), as JSON."""
    data = parse_secrets(current, "the stored secret") if current and current.strip() else {}
    data[name] = value
    return json.dumps(data, sort_keys=True)


def _fetch(arn: str, client: Any) -> str:
    """SecretString of ``arn``; the text is kept (parsed by the caller), never logged."""
    if client is None:
        import boto3  # lazily: only when a secret is read

        client = boto3.client("secretsmanager")
    try:
        with quiet_botocore():
            response = client.get_secret_value(SecretId=arn)
    except Exception as exc:
        error = (getattr(exc, "response", None) or {}).get("Error", {})
        code = error.get("Code") or type(exc).__name__
        raise SecretError(f"cannot read the secret {arn}: {code}") from None
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise SecretError(f"the secret {arn} has no SecretString")
    remember(text.strip())
    return text


@contextlib.contextmanager
def quiet_botocore() -> Iterator[None]:
    """botocore logs request params and response bodies at DEBUG: keep secrets out of them."""
    logger = logging.getLogger("botocore")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def configured() -> bool:
    """Today's env vars name a Slack webhook."""
    return bool(os.environ.get(ENV_SECRET_ARN) or os.environ.get(ENV_WEBHOOK_URL))


def forget() -> None:
    """Drop cached secrets (one was rejected and may have been rotated, or a test changes env)."""
    _CACHE.clear()
