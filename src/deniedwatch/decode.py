"""Opt-in: decode EC2's encoded authorization failure messages with
sts:DecodeAuthorizationMessage, so the alert says which statement denied what.

Pure core: ``parse_decoded`` turns the decoded JSON document into a ``Decoded``
and ``apply`` folds it into a Finding (``dataclasses.replace``: Finding.from_record
stays a pure function of the record). The edge, ``Decoder``, calls STS (boto3,
imported lazily) with a short timeout, at most ``budget`` calls per invocation,
never past the invocation's time box, and caches answers by message hash for the
container's life. A failed or skipped decode leaves the Finding as it was: decoding
never fails an alert.

The decoded document's shape is AWS's documented example
(https://docs.aws.amazon.com/IAM/latest/UserGuide/sts_example_sts_DecodeAuthorizationMessage_section.html,
https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html):
``{"allowed": false, "explicitDeny": true, "matchedStatements": {"items": [{"statementId":
…, "effect": "DENY", "actions": {"items": [{"value": "ec2:RunInstances"}]}, "resources":
{"items": [{"value": "*"}]}, …}]}, "context": {"principal": {…}, "action": "RunInstances",
"resource": "arn:aws:ec2:…:instance/*", "conditions": {…}}}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from deniedwatch.alerts.budget import rank_key
from deniedwatch.alerts.group import Alert
from deniedwatch.explain import explain
from deniedwatch.finding import Finding

log = logging.getLogger(__name__)

BUDGET = 5  # STS calls per invocation
CALL_TIMEOUT = 2.0  # seconds: connect and read, one attempt
RESERVE = 10.0  # seconds of the invocation kept for delivery
CACHE_SIZE = 256
TEXT_MAX = 300  # characters of a decoded value shown


@dataclass(frozen=True, slots=True)
class Decoded:
    """What the decoded message says, in the Finding's terms."""

    explicit: bool | None
    statement: str | None  # "VisualEditor0 (DENY ec2:RunInstances on *)"
    action: str | None
    resource: str | None

    def sentence(self) -> str:
        how = {True: "explicit deny", False: "no statement allows it"}.get(self.explicit, "denied")
        parts = [f"Decoded: {how}"]
        if self.statement:
            parts.append(f"matched statement {self.statement}")
        if self.action:
            parts.append(f"action {self.action}")
        if self.resource:
            parts.append(f"resource {self.resource}")
        return "; ".join(parts)


def _items(value: Any) -> list[Any]:
    items = value.get("items") if isinstance(value, dict) else None
    return items if isinstance(items, list) else []


def _values(value: Any) -> list[str]:
    out = []
    for item in _items(value):
        v = item.get("value") if isinstance(item, dict) else None
        if isinstance(v, str) and v:
            out.append(v[:TEXT_MAX])
    return out


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):  # some documented examples quote them
        return value == "true"
    return None


def parse_decoded(text: str) -> Decoded | None:
    """The DecodedMessage JSON -> Decoded; None if it is not the documented shape."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(doc, dict) or ("context" not in doc and "explicitDeny" not in doc):
        return None
    statement = None
    for item in _items(doc.get("matchedStatements")):
        if not isinstance(item, dict):
            continue
        sid = item.get("statementId")
        name = sid[:TEXT_MAX] if isinstance(sid, str) and sid else "(no Sid)"
        effect = item.get("effect") if isinstance(item.get("effect"), str) else "?"
        actions = ", ".join(_values(item.get("actions"))) or "?"
        resources = ", ".join(_values(item.get("resources"))) or "?"
        statement = f"{name} ({effect} {actions} on {resources})"
        break
    context = doc.get("context") if isinstance(doc.get("context"), dict) else {}
    action = context.get("action")
    resource = context.get("resource")
    return Decoded(
        explicit=_bool(doc.get("explicitDeny")),
        statement=statement,
        action=action[:TEXT_MAX] if isinstance(action, str) and action else None,
        resource=resource[:TEXT_MAX] if isinstance(resource, str) and resource else None,
    )


def apply(f: Finding, decoded: Decoded) -> Finding:
    """The Finding with the decoded reason: explicit/implicit, the resource, the hint."""
    return replace(
        f,
        denial_explicit=decoded.explicit if decoded.explicit is not None else f.denial_explicit,
        resource=f.resource or decoded.resource,
        hint=decoded.sentence(),
    )


class _CallFailed(Exception):
    """The STS call failed; not cached, and no more calls this invocation."""


def message_key(encoded: str) -> str:
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()


class Decoder:
    """Decodes encoded messages through STS, cached, budgeted and time-boxed."""

    def __init__(
        self,
        client: Any = None,
        *,
        budget: int = BUDGET,
        reserve: float = RESERVE,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._client = client
        self.budget = budget
        self.reserve = reserve
        self.cache: OrderedDict[str, Decoded | None] = OrderedDict()
        self.cache_size = cache_size
        self.calls = 0  # STS calls made (all invocations); for tests and metrics

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: only when decoding is on and a message needs it
            from botocore.config import Config

            config = Config(
                connect_timeout=CALL_TIMEOUT,
                read_timeout=CALL_TIMEOUT,
                retries={"total_max_attempts": 1, "mode": "standard"},  # no retry
            )
            self._client = boto3.client("sts", config=config)
        return self._client

    def enrich(
        self, findings: Iterable[Finding], time_left: Callable[[], float] | None = None
    ) -> list[Finding]:
        """Each finding, decoded where it carries an encoded message and budget/time allow.

        Give it what will be shown (an alert's sample), not every denial of a batch:
        each denial has its own encoded message, so the cache does not merge them.
        """
        calls = 0
        out = []
        for f in findings:
            encoded = explain(f.error_message).encoded
            if not encoded:
                out.append(f)
                continue
            key = message_key(encoded)
            decoded: Decoded | None = None
            if key in self.cache:
                self.cache.move_to_end(key)
                decoded = self.cache[key]
            elif calls < self.budget and (time_left is None or time_left() >= self.reserve):
                calls += 1
                try:
                    decoded = self._decode(encoded)
                except _CallFailed:
                    calls = self.budget  # STS is failing or slow: stop for this invocation
                else:
                    self._remember(key, decoded)
            # else over budget or time: the hint keeps the CLI command
            out.append(apply(f, decoded) if decoded else f)
        return out

    def enrich_alerts(
        self, alerts: list[Alert], time_left: Callable[[], float] | None = None
    ) -> list[Alert]:
        """The alerts with their shown sample decoded; the budget goes to the most
        important alerts first (the order delivery sends them in), the list keeps its order."""
        order = sorted(range(len(alerts)), key=lambda i: rank_key(alerts[i], ()))
        samples = self.enrich([alerts[i].sample for i in order], time_left)
        out = list(alerts)
        for i, sample in zip(order, samples, strict=True):
            if sample is not alerts[i].sample:
                out[i] = replace(alerts[i], sample=sample)
        return out

    def _decode(self, encoded: str) -> Decoded | None:
        """One STS call; raises _CallFailed (logged) when it errs or times out."""
        self.calls += 1
        started = time.monotonic()
        try:
            answer = self.client.decode_authorization_message(EncodedMessage=encoded)
        except Exception as exc:  # never fail an alert over a decode
            error = (getattr(exc, "response", None) or {}).get("Error", {})
            log.warning(
                "decode-authorization-message failed: %s (%.1f s)",
                error.get("Code") or type(exc).__name__,
                time.monotonic() - started,
            )
            raise _CallFailed from None
        text = answer.get("DecodedMessage") if isinstance(answer, dict) else None
        return parse_decoded(text) if isinstance(text, str) else None

    def _remember(self, key: str, decoded: Decoded | None) -> None:
        self.cache[key] = decoded
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
