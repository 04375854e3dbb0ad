"""Helpers for the live-path tests: real-shaped CloudTrail records and subscription
payloads, a scripted Slack stand-in on pytest-httpserver, a fake clock for waits.

Not a conftest: the test modules import what they use.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

WEBHOOK_PATH = "/services/T0000TEST/B0000TEST/aSecretWebhookToken0123"
ACCOUNT = "111122223333"

_ids = itertools.count(1)


def denial(
    *,
    user: str = "mallory",
    event_name: str = "GetObject",
    source: str = "s3.amazonaws.com",
    code: str = "AccessDenied",
    account: str = ACCOUNT,
    region: str = "eu-west-1",
    time: str = "2026-11-20T09:05:31Z",
    user_agent: str = "aws-cli/2.17.20 md/awscrt#0.20.11 os/linux#6.1",
    message: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A realistic denied CloudTrail record of an IAM user."""
    arn = f"arn:aws:iam::{account}:user/{user}"
    action = f"{source.split('.')[0]}:{event_name}"
    record = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEUSERID0001",
            "arn": arn,
            "accountId": account,
            "accessKeyId": "AKIAEXAMPLEKEY000001",
            "userName": user,
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.47",
        "userAgent": user_agent,
        "errorCode": code,
        "errorMessage": message
        or f"User: {arn} is not authorized to perform: {action} because no identity-based "
        "policy allows the "
        + action
        + " action",
        "requestParameters": {"bucketName": "prod-exports", "key": "a.csv"},
        "responseElements": None,
        "requestID": "8Q2W5E7R9T1Y3U5I",
        "eventID": str(uuid.uuid4()),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    record.update(extra)
    return record


def session_denial(role: str, session: str, **fields: Any) -> dict[str, Any]:
    """A denied record of an assumed-role session (the caller picks the session name)."""
    record = denial(**fields)
    record["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLEID:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
    }
    return record


def log_events(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """logEvents entries; dict messages become JSON text, anything else is kept as is."""
    return [
        {
            "id": f"3{next(_ids):055d}",
            "timestamp": 1795770331000,
            "message": json.dumps(m) if isinstance(m, dict) else m,
        }
        for m in messages
    ]


def envelope(body: Any) -> dict[str, Any]:
    """{"awslogs": {"data": base64(gzip(json))}} exactly as Lambda receives it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def subscription_payload(
    messages: Iterable[Any],
    *,
    message_type: str = "DATA_MESSAGE",
    log_group: str = "aws-cloudtrail-logs-111122223333",
    log_stream: str = "111122223333_CloudTrail_eu-west-1",
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return envelope(
        {
            "messageType": message_type,
            "owner": ACCOUNT,
            "logGroup": log_group,
            "logStream": log_stream,
            "subscriptionFilters": ["deniedwatch-denials"],
            "logEvents": events if events is not None else log_events(messages),
        }
    )


def control_payload() -> dict[str, Any]:
    return envelope(
        {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [
                {
                    "id": "",
                    "timestamp": 1795770331000,
                    "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda.",
                }
            ],
        }
    )


@dataclass
class FakeTime:
    """A clock that only moves when something sleeps; records every wait asked for."""

    now: float = 1_795_770_331.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0)

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


@dataclass
class LambdaContext:
    """The part of Lambda's context object deniedwatch reads, on a fake clock: the
    invocation times out ``timeout`` seconds after it was made."""

    clock: FakeTime
    timeout: float = 60.0
    deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = self.clock.now + self.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.deadline - self.clock.now) * 1000), 0)


def invoke_async(
    handler: Callable[[Any, Any], Any], event: Any, clock: FakeTime, *, timeout: float = 60.0
) -> list[Any]:
    """An asynchronous invocation with AWS's retry semantics (simulated): a failed or
    timed-out try is retried twice, one and then two minutes later; after the third
    failure the event goes to the on-failure destination. Returns each try's result
    or exception; a try that ran past ``timeout`` on the clock is a TimeoutError."""
    outcomes: list[Any] = []
    for attempt in range(3):
        if attempt:
            clock.sleep(60.0 * attempt)
        context = LambdaContext(clock, timeout)
        try:
            result = handler(event, context)
        except Exception as exc:
            outcomes.append(exc)
            continue
        if clock.now > context.deadline:
            outcomes.append(TimeoutError(f"ran {clock.now - context.deadline:.1f} s too long"))
            continue
        outcomes.append(result)
        break
    return outcomes


Answer = Callable[[Request], Response]


def ok(_: Request) -> Response:
    return Response("ok", status=200, content_type="text/plain")


def status(code: int, body: str = "error", headers: dict[str, str] | None = None) -> Answer:
    def answer(_: Request) -> Response:
        return Response(body, status=code, headers=headers or {}, content_type="text/plain")

    return answer


class SlackStandIn:
    """A real HTTP server path answering from a script, then with 200; keeps every body."""

    def __init__(
        self,
        httpserver: Any,
        script: Sequence[Answer] = (),
        *,
        latency: Callable[[], None] | None = None,
    ) -> None:
        self.server = httpserver
        self.script = list(script)
        self.latency = latency  # e.g. a FakeTime's sleep: each answer takes that long
        self.bodies: list[dict[str, Any]] = []
        httpserver.expect_request(WEBHOOK_PATH, method="POST").respond_with_handler(self._answer)

    @property
    def url(self) -> str:
        return self.server.url_for(WEBHOOK_PATH)

    def _answer(self, request: Request) -> Response:
        if self.latency:
            self.latency()
        self.bodies.append(json.loads(request.get_data()))
        answer = self.script.pop(0) if self.script else ok
        return answer(request)

    def ok_posts(self) -> list[dict[str, Any]]:
        """Bodies the stand-in answered 200 to."""
        return [
            body
            for (req, resp) in self.server.log
            if req.path == WEBHOOK_PATH and resp.status_code == 200
            for body in [json.loads(req.get_data())]
        ]


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every mrkdwn string in a webhook payload (the fallback text is mrkdwn too)."""
    texts = [payload.get("text", "")]
    for block in payload.get("blocks", []):
        objs = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        texts += [o["text"] for o in objs if isinstance(o, dict) and o.get("type") == "mrkdwn"]
    return texts


def alert_count(payload: dict[str, Any]) -> int:
    """The batch count a posted alert states in its fallback text: nothing for one,
    "· N denied calls" at the end for a group."""
    import re

    m = re.search(r" · (\d+) denied calls$", payload["text"])
    return int(m.group(1)) if m else 1


def create_dedup_table(name: str) -> str:
    """The dedup table as the stack makes it (key ``pk`` S, TTL ``expires_at``, the sparse
    index of held groups), on the moto server the environment points at. moto stores the
    TTL setting but never expires items."""
    import boto3

    from deniedwatch.alerts.dedup import HELD_INDEX

    client = boto3.client("dynamodb")
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "pending", "AttributeType": "S"},
            {"AttributeName": "closes_at", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": HELD_INDEX,
                "KeySchema": [
                    {"AttributeName": "pending", "KeyType": "HASH"},
                    {"AttributeName": "closes_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    return name


def held_of(store: Any, key: Any = None) -> int:
    """Denials a dedup store holds unannounced (of one group, or of all), as the
    scheduled flush and `deniedwatch status` find them."""
    return sum(g.held for g in store.held_groups() if key is None or g.key == key)


# -- the fast path: EventBridge envelopes, alone or in an SQS batch ----------------------
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:deniedwatch-DenialEventsQueue"


def eventbridge_event(record: dict[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """The EventBridge envelope CloudTrail puts on the default bus for ``record``."""
    service = str(record.get("eventSource", "s3.amazonaws.com")).split(".")[0]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": source or f"aws.{service}",
        "account": ACCOUNT,
        "time": record.get("eventTime", "2026-11-20T09:05:31Z"),
        "region": record.get("awsRegion", "eu-west-1"),
        "resources": [],
        "detail": record,
    }


def sqs_message(body: Any, message_id: str | None = None) -> dict[str, Any]:
    """One record of an SQS event as Lambda's event source mapping delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795770331000",
            "SenderId": "AIDAEVENTBRIDGE",
            "ApproximateFirstReceiveTimestamp": "1795770331100",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "eu-west-1",
    }


def sqs_batch(records: Iterable[Any]) -> dict[str, Any]:
    """An SQS batch whose messages are EventBridge envelopes of ``records`` (dicts), or
    the given raw bodies (str) as they are."""
    return {
        "Records": [sqs_message(r if isinstance(r, str) else eventbridge_event(r)) for r in records]
    }


# -- the handler in-process ----------------------------------------------------------------
# What the stack sets on the function: the `lambda_env` fixture (conftest.py) clears them.
LAMBDA_ENV_VARS = (
    "DENIEDWATCH_SLACK_SECRET_ARN",
    "SLACK_WEBHOOK_URL",
    "DENIEDWATCH_SNS_TOPIC_ARN",
    "DENIEDWATCH_DEDUP_TABLE",
    "DENIEDWATCH_CONFIG",
    "DENIEDWATCH_LIVE_SOURCE",
    "DENIEDWATCH_SECRETS_ARN",
    "DENIEDWATCH_SLACK_API_URL",
    "DENIEDWATCH_SECURITYHUB_PRODUCT_ARN",
    "DENIEDWATCH_SLACK_SIGNING_SECRET",
    "DENIEDWATCH_TRIAGE_ALLOWED_USERS",
)


def start(env: Any, fake: FakeTime) -> Any:
    """Build the container state as the first invocation would, with the fake clock."""
    from deniedwatch import lambda_handler

    rt = lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2)
    env.setattr(lambda_handler, "_runtime", rt)
    return rt


def emf(out: str) -> dict[str, Any]:
    """The invocation's EMF totals line (the per-destination lines carry a "destination")."""
    lines = [json.loads(x) for x in out.splitlines() if '"_aws"' in x]
    (line,) = [x for x in lines if "destination" not in x]
    return line


def record(identity: Any = None, **fields: Any) -> dict[str, Any]:
    """A minimal S3 AccessDenied record: ``identity`` as its userIdentity, ``fields`` on top."""
    base: dict[str, Any] = {
        "eventVersion": "1.10",
        "eventID": "0b1c2d3e-1111-2222-3333-444444444444",
        "eventTime": "2026-11-20T09:01:10Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.17.0",
        "errorCode": "AccessDenied",
        "errorMessage": "Access Denied",
        "recipientAccountId": ACCOUNT,
    }
    if identity is not None:
        base["userIdentity"] = identity
    base.update(fields)
    return base


def alert_of(
    count: int = 1,
    *,
    label: Callable[[str | None], str | None] = lambda _: None,
    log: Any = None,
    **fields: Any,
) -> Any:
    """The one Alert of ``count`` identical denials, each ``denial(**fields)``."""
    from deniedwatch.alerts.group import group_findings
    from deniedwatch.finding import Finding

    (alert,) = group_findings([Finding.from_record(denial(**fields))] * count, label=label, log=log)
    return alert


def function_url_event(
    body: str = "payload=%7B%7D",
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Lambda function URL request, payload format 2.0, as AWS documents it.
    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads"""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers
        if headers is not None
        else {"content-type": "application/x-www-form-urlencoded", "X-Slack-Signature": "v0=1"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnop",
            "domainName": "abcdefghijklmnop.lambda-url.eu-west-1.on.aws",
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            },
            "requestId": "5f9c4c1e-0000-4000-8000-000000000001",
            "routeKey": "$default",
            "stage": "$default",
            "time": "06/Dec/2026:02:00:00 +0000",
            "timeEpoch": 1796522400000,
        },
        "body": body,
        "isBase64Encoded": False,
    }
