"""Opt-in decoding of EC2's encoded authorization messages.

The pure core (parse_decoded, apply) is tested on the decoded document AWS documents
(https://docs.aws.amazon.com/IAM/latest/UserGuide/sts_example_sts_DecodeAuthorizationMessage_section.html).
The edge is tested against a local STS stand-in on 127.0.0.1 (pytest-httpserver)
that answers DecodeAuthorizationMessage in STS's query-protocol XML, because moto does
not implement that call. Simulated: the stand-in does not check the request signature
and "decodes" by looking the message up in a table this test fills.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import pytest
from werkzeug import Request, Response

from deniedwatch import decode, lambda_handler
from deniedwatch.alerts.group import group_findings
from deniedwatch.decode import Decoded, Decoder, apply, parse_decoded
from deniedwatch.finding import Finding
from live_support import SlackStandIn, denial, log_events, subscription_payload

# The DecodedMessage of AWS's documented example, verbatim in shape.
DOC_EXAMPLE = {
    "allowed": False,
    "explicitDeny": True,
    "matchedStatements": {
        "items": [
            {
                "statementId": "VisualEditor0",
                "effect": "DENY",
                "principals": {"items": [{"value": "AROA123456789EXAMPLE"}]},
                "principalGroups": {"items": []},
                "actions": {"items": [{"value": "ec2:RunInstances"}]},
                "resources": {"items": [{"value": "*"}]},
                "conditions": {"items": []},
            }
        ]
    },
    "failures": {"items": []},
    "context": {
        "principal": {
            "id": "AROA123456789EXAMPLE:Ana",
            "arn": "arn:aws:sts::111122223333:assumed-role/Developer/Ana",
        },
        "action": "RunInstances",
        "resource": "arn:aws:ec2:us-east-1:111122223333:instance/*",
        "conditions": {"items": [{"key": "ec2:MetadataHttpPutResponseHopLimit", "values": {}}]},
    },
}
IMPLICIT = {
    "allowed": False,
    "explicitDeny": False,
    "matchedStatements": {"items": []},
    "failures": {"items": []},
    "context": {"action": "ec2:TerminateInstances", "resource": "arn:aws:ec2:::instance/i-1"},
}


def ec2_denial(encoded: str, **extra: Any) -> dict[str, Any]:
    return denial(
        source="ec2.amazonaws.com",
        event_name="RunInstances",
        code="Client.UnauthorizedOperation",
        message="You are not authorized to perform this operation. Encoded authorization "
        f"failure message: {encoded}",
        requestParameters={"instancesSet": {"items": [{"imageId": "ami-0abc"}]}},
        **extra,
    )


def blob(n: int) -> str:
    return f"EXAMPLEWodyRNrtlQARDip-eTA6i6DrlUhHhPQrLWB_{n:06d}"


# ---- pure core -----------------------------------------------------------------------------


def test_parse_the_documented_decoded_message() -> None:
    assert parse_decoded(json.dumps(DOC_EXAMPLE)) == Decoded(
        explicit=True,
        statement="VisualEditor0 (DENY ec2:RunInstances on *)",
        action="RunInstances",
        resource="arn:aws:ec2:us-east-1:111122223333:instance/*",
    )


def test_parse_an_implicit_deny() -> None:
    decoded = parse_decoded(json.dumps(IMPLICIT))
    assert decoded == Decoded(False, None, "ec2:TerminateInstances", "arn:aws:ec2:::instance/i-1")
    assert decoded.sentence().startswith("Decoded: no statement allows it")


def test_quoted_booleans_are_read() -> None:
    decoded = parse_decoded(json.dumps({**IMPLICIT, "explicitDeny": "true"}))
    assert decoded is not None and decoded.explicit is True


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '"x"', "{}", '{"allowed": false}', json.dumps({"context": 5})[:-1]],
)
def test_unreadable_documents_give_nothing(text: str) -> None:
    assert parse_decoded(text) is None


def test_odd_values_inside_are_ignored_not_fatal() -> None:
    doc = {
        "explicitDeny": 1,
        "matchedStatements": {"items": [5, {"statementId": 7, "effect": None}]},
        "context": {"action": ["x"], "resource": "r" * 10_000},
    }
    decoded = parse_decoded(json.dumps(doc))
    assert decoded is not None
    assert decoded.explicit is None and decoded.action is None
    assert decoded.statement == "(no Sid) (? ? on ?)"
    assert decoded.resource is not None and len(decoded.resource) == decode.TEXT_MAX


def test_apply_keeps_the_record_resource_and_sets_the_hint() -> None:
    f = Finding.from_record(ec2_denial(blob(1)))
    assert f.resource == "ami-0abc" and f.denial_explicit is None
    decoded = parse_decoded(json.dumps(DOC_EXAMPLE))
    assert decoded is not None
    g = apply(f, decoded)
    assert g.denial_explicit is True and g.resource == "ami-0abc"
    assert g.hint == (
        "Decoded: explicit deny; matched statement VisualEditor0 (DENY ec2:RunInstances on *); "
        "action RunInstances; resource arn:aws:ec2:us-east-1:111122223333:instance/*"
    )
    assert f.hint is not None and "decode-authorization-message" in f.hint  # f unchanged


# ---- the edge, against a local STS stand-in ---------------------------------------------


class StsStandIn:
    """DecodeAuthorizationMessage in STS's query protocol (XML), on pytest-httpserver."""

    PATH = "/sts/"

    def __init__(self, httpserver: Any) -> None:
        self.decoded: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, list[str]]] = []
        self.status = 200
        self.delay = 0.0
        httpserver.expect_request(self.PATH, method="POST").respond_with_handler(self._answer)
        self.url = httpserver.url_for(self.PATH)

    def _answer(self, request: Request) -> Response:
        form = parse_qs(request.get_data(as_text=True))
        self.requests.append(form)
        if self.delay:
            time.sleep(self.delay)
        if self.status != 200 or form.get("Action") != ["DecodeAuthorizationMessage"]:
            error = (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                "<Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message>"
                "</Error><RequestId>r-1</RequestId></ErrorResponse>"
            )
            return Response(error, status=self.status if self.status != 200 else 400)
        message = form["EncodedMessage"][0]
        doc = self.decoded.get(message)
        if doc is None:
            error = (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                "<Type>Sender</Type><Code>InvalidAuthorizationMessageException</Code>"
                "<Message>bad</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
            )
            return Response(error, status=400)
        body = (
            '<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<DecodeAuthorizationMessageResult><DecodedMessage>"
            f"{escape(json.dumps(doc))}"
            "</DecodedMessage></DecodeAuthorizationMessageResult>"
            "<ResponseMetadata><RequestId>r-0</RequestId></ResponseMetadata>"
            "</DecodeAuthorizationMessageResponse>"
        )
        return Response(body, content_type="text/xml")


@pytest.fixture
def sts(aws_env, httpserver, monkeypatch) -> StsStandIn:
    stand_in = StsStandIn(httpserver)
    # boto3 honours a service-specific endpoint: the Decoder's own lazily built client
    # (the code path the Lambda runs) talks to the stand-in.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", stand_in.url)
    return stand_in


def findings(*encoded: str) -> list[Finding]:
    return [Finding.from_record(ec2_denial(e)) for e in encoded]


def test_decoder_fills_in_the_reason_from_sts(sts: StsStandIn) -> None:
    sts.decoded[blob(1)] = DOC_EXAMPLE
    (f,) = Decoder().enrich(findings(blob(1)))
    assert f.denial_explicit is True
    assert f.hint is not None and f.hint.startswith("Decoded: explicit deny; matched statement")
    assert sts.requests[0]["EncodedMessage"] == [blob(1)]
    assert sts.requests[0]["Version"] == ["2011-06-15"]


def test_answers_are_cached_by_message(sts: StsStandIn) -> None:
    sts.decoded[blob(1)] = DOC_EXAMPLE
    decoder = Decoder()
    decoder.enrich(findings(blob(1)))
    again = decoder.enrich(findings(blob(1), blob(1)))
    assert len(sts.requests) == 1
    assert all(f.denial_explicit is True for f in again)


def test_calls_per_invocation_are_budgeted(sts: StsStandIn) -> None:
    for n in range(7):
        sts.decoded[blob(n)] = IMPLICIT
    out = Decoder(budget=5).enrich(findings(*(blob(n) for n in range(7))))
    assert len(sts.requests) == 5
    decoded = [f for f in out if f.hint and f.hint.startswith("Decoded:")]
    assert len(decoded) == 5
    # the rest keep the CLI command to decode by hand
    assert all("decode-authorization-message" in (f.hint or "") for f in out[5:])


def test_no_call_when_the_invocation_is_nearly_out_of_time(sts: StsStandIn) -> None:
    sts.decoded[blob(1)] = DOC_EXAMPLE
    (f,) = Decoder(reserve=10).enrich(findings(blob(1)), time_left=lambda: 9.0)
    assert sts.requests == [] and f.hint is not None and "aws sts" in f.hint


def test_a_failing_sts_never_fails_the_alert_and_is_retried_later(
    sts: StsStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    sts.status = 403
    decoder = Decoder()
    out = decoder.enrich(findings(blob(1), blob(2)))
    assert [f.hint for f in out] == [f.hint for f in findings(blob(1), blob(2))]
    assert len(sts.requests) == 1  # after a failure, no more calls this invocation
    assert "AccessDenied" in caplog.text
    sts.status = 200
    sts.decoded[blob(1)] = DOC_EXAMPLE
    (f,) = decoder.enrich(findings(blob(1)))  # a failure is not cached
    assert f.denial_explicit is True


def test_a_message_sts_cannot_decode_is_cached_as_nothing(sts: StsStandIn) -> None:
    decoder = Decoder()
    decoder.enrich(findings(blob(9)))  # the stand-in answers InvalidAuthorizationMessage
    assert len(sts.requests) == 1


def test_a_slow_sts_is_cut_off(sts: StsStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "CALL_TIMEOUT", 0.3)
    sts.decoded[blob(1)] = DOC_EXAMPLE
    sts.delay = 1.0
    started = time.monotonic()
    (f,) = Decoder().enrich(findings(blob(1), blob(2))[:1])
    assert time.monotonic() - started < 0.95
    assert f.denial_explicit is None
    time.sleep(sts.delay + 0.3)  # let the single-threaded stand-in finish before counting
    assert len(sts.requests) == 1  # one attempt, no retry


def test_findings_without_an_encoded_message_are_left_alone(sts: StsStandIn) -> None:
    f = Finding.from_record(denial())
    assert Decoder().enrich([f]) == [f] and sts.requests == []


def test_alerts_decode_only_their_shown_sample(sts: StsStandIn) -> None:
    for n in range(3):
        sts.decoded[blob(n)] = DOC_EXAMPLE
    alerts = group_findings(findings(blob(0), blob(1), blob(2)))  # one group
    (alert,) = Decoder().enrich_alerts(alerts)
    assert len(sts.requests) == 1 and alert.sample.denial_explicit is True


def test_the_lambda_decodes_when_the_setting_is_on(
    sts: StsStandIn, httpserver, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    sts.decoded[blob(1)] = DOC_EXAMPLE
    slack = SlackStandIn(httpserver)
    settings = tmp_path / "deniedwatch.toml"
    settings.write_text("[explain]\ndecode_authorization_messages = true\n")
    for name in ("DENIEDWATCH_SLACK_SECRET_ARN", "DENIEDWATCH_SNS_TOPIC_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DENIEDWATCH_DEDUP_TABLE", raising=False)
    monkeypatch.setenv("DENIEDWATCH_CONFIG", str(settings))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    lambda_handler.reset()
    try:
        payload = subscription_payload([], events=log_events([ec2_denial(blob(1))]))
        result = lambda_handler.handler(payload, None)
    finally:
        lambda_handler.reset()
    assert result["sent"] == 1
    text = json.dumps(slack.bodies[0])
    assert "Decoded: explicit deny" in text and "VisualEditor0" in text


def test_the_lambda_does_not_decode_by_default(sts: StsStandIn, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("DENIEDWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    lambda_handler.reset()
    try:
        rt = lambda_handler.build_runtime()
    finally:
        lambda_handler.reset()
    assert rt.decoder is None


def test_the_budget_goes_to_the_most_important_alert_first(sts: StsStandIn) -> None:
    """A burst of reads must not spend the decode budget before a root's denial."""
    for n in range(3):
        sts.decoded[blob(n)] = DOC_EXAMPLE
    reads = [
        Finding.from_record(ec2_denial(blob(n), user=f"u{n}", time=f"2026-11-20T09:0{n}:00Z"))
        for n in range(2)
    ]
    root = Finding.from_record(
        ec2_denial(
            blob(2),
            time="2026-11-20T09:09:00Z",
            userIdentity={"type": "Root", "arn": "arn:aws:iam::111122223333:root"},
        )
    )
    alerts = group_findings([*reads, root])
    assert alerts[-1].sample.principal_type == "Root"  # grouped earliest first
    out = Decoder(budget=1).enrich_alerts(alerts)
    assert [a.sample.denial_explicit for a in out] == [None, None, True]
    assert [a.key for a in out] == [a.key for a in alerts]
