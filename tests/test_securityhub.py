"""The ``securityhub`` destination: ASFF findings that botocore's parameter validation,
AWS's documented limits and moto's Security Hub accept; one finding per group and window
(a repeat updates it); failed imports (``FailedCount``) fail this destination alone and
are imported on the retry; routing can send high severity to Security Hub only.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.session import get_session
from botocore.validate import validate_parameters
from werkzeug import Request, Response

from deniedwatch.alerts.channels import securityhub as hub
from deniedwatch.alerts.channels.base import Context
from deniedwatch.alerts.dedup import MemoryStore
from deniedwatch.alerts.deliver import deliver
from deniedwatch.alerts.group import Alert, group_findings
from deniedwatch.config import parse_settings
from deniedwatch.finding import Finding
from live_support import alert_of, denial

ACCOUNT = "123456789012"  # moto's account
REGION = "us-east-1"
PRODUCT = hub.product_arn(REGION, ACCOUNT)
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC).timestamp()
REQUIRED = (  # https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
)
HOSTILE = {
    "user": "m\u202eallory\n\t" + "x" * 5000,
    "user_agent": "\x1b[2J" + "ua " * 2000,
    "message": "User: a is not authorized to perform: s3:GetObject on resource: "
    '"arn:aws:s3:::b/' + "k" * 3000 + '"\n' + "\u200b" * 10,
}


def input_shape() -> Any:
    model = get_session().get_service_model("securityhub")
    return model.operation_model("BatchImportFindings").input_shape


def aws_accepts(findings: list[dict[str, Any]]) -> list[str]:
    """What AWS documents and botocore checks: botocore's own parameter validation, then
    the documented limits botocore leaves to the server."""
    problems: list[str] = []
    try:
        validate_parameters({"Findings": findings}, input_shape())
    except Exception as exc:  # botocore's ParamValidationError lists every problem
        problems.append(str(exc))
    if not 1 <= len(findings) <= hub.BATCH_MAX:
        problems.append(f"{len(findings)} findings in one call")
    nonblank = re.compile(r".*\S.*")
    for f in findings:
        problems += [f"missing {k}" for k in REQUIRED if k not in f]
        size = len(json.dumps(f).encode())
        if size > hub.FINDING_MAX_BYTES:
            problems.append(f"{size} bytes")
        if len(f["AwsAccountId"]) != 12:
            problems.append("AwsAccountId")
        if len(f["Title"]) > 256 or len(f["Description"]) > 1024:
            problems.append("Title/Description length")
        if len(f["ProductFields"]) > 50 or len(f["Resources"]) > 32:
            problems.append("ProductFields/Resources count")
        for k, v in f["ProductFields"].items():
            if len(k) > 128 or len(v) > 2048 or not nonblank.fullmatch(v):
                problems.append(f"ProductFields {k}")
        problems += [
            f"not one non-blank line: {s[:40]!r}" for s in _strings(f) if not nonblank.fullmatch(s)
        ]
        if f["Severity"]["Label"] not in ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"):
            problems.append("Severity")
    return problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def render(alert: Alert, severity: str = "high", now: float = T0) -> dict[str, Any]:
    return hub.render(
        alert,
        product=PRODUCT,
        severity=severity,
        window_minutes=60,
        now=datetime.fromtimestamp(now, UTC),
    )


# --- the document (pure) -------------------------------------------------------------


def test_a_finding_has_what_asff_requires_and_botocore_accepts_it() -> None:
    a = alert_of(3, user="alice", time="2026-11-20T09:05:31Z")
    f = render(a)
    assert aws_accepts([f]) == []
    assert f["AwsAccountId"] == ACCOUNT and f["ProductArn"] == PRODUCT
    assert f["Severity"]["Label"] == "HIGH"
    assert f["ProductFields"]["deniedwatch/Count"] == "3"
    assert f["SourceUrl"].startswith("https://eu-west-1.console.aws.amazon.com/cloudtrailv2/")
    kinds = {(r["Type"], r["ResourceRole"]) for r in f["Resources"]}
    assert ("AwsIamUser", "Actor") in kinds and ("AwsAccount", "Target") in kinds
    assert f["Id"] == f"deniedwatch/{a.key.digest()}/2026-11-20T09:00Z"


def test_the_product_arn_takes_the_regions_partition() -> None:
    assert hub.product_arn("cn-north-1", "111122223333") == (
        "arn:aws-cn:securityhub:cn-north-1:111122223333:product/111122223333/default"
    )
    assert hub.product_arn("us-gov-west-1", "1" * 12).startswith("arn:aws-us-gov:securityhub:")


def test_attacker_text_cannot_break_the_document() -> None:
    """Names, agents and messages are the caller's: huge, multi-line, invisible, escape
    sequences. Every document still passes botocore and the documented limits."""
    a = alert_of(
        1, user=HOSTILE["user"], user_agent=HOSTILE["user_agent"], message=HOSTILE["message"]
    )
    blank = alert_of(1, user=" ", user_agent="\n", message=" ", region="\t")
    findings = [render(a), render(blank)]
    assert aws_accepts(findings) == []
    assert "\x1b" not in json.dumps(findings) and "\n" not in findings[0]["Description"]


def test_the_id_is_one_per_group_and_window() -> None:
    early = alert_of(1, user="bob", time="2026-11-20T09:05:00Z")
    later = alert_of(4, user="bob", time="2026-11-20T09:55:00Z")
    next_window = alert_of(1, user="bob", time="2026-11-20T10:01:00Z")
    other = alert_of(1, user="carol", time="2026-11-20T09:05:00Z")
    ids = [render(x)["Id"] for x in (early, later, next_window, other)]
    assert ids[0] == ids[1] and len(set(ids)) == 3


# --- against moto's Security Hub -------------------------------------------------------


def channel(fake: Any, severity: str = "high", product: str | None = PRODUCT) -> Any:
    ctx = Context(
        secret=lambda: "",
        window_minutes=60,
        sleep=fake.sleep,
        now=lambda: fake.now,
        severity=lambda _f: severity,
    )
    return hub.SecurityHubChannel("hub", ctx, product)


def stored() -> list[dict[str, Any]]:
    """Every finding moto holds (its GetFindings ignores filters: we filter here)."""
    client = boto3.client("securityhub")
    out: list[dict[str, Any]] = []
    for page in client.get_paginator("get_findings").paginate():
        out += page["Findings"]
    return out


def get(finding_id: str) -> dict[str, Any]:
    found = [f for f in stored() if f["Id"] == finding_id]
    assert len(found) == 1, found
    return found[0]


def test_moto_imports_it_and_a_repeat_in_the_window_updates_the_same_finding(
    aws_env: str, fake: Any, unique_name: Any
) -> None:
    user = unique_name("hub-user")
    fake.now = T0
    ch = channel(fake)
    ch.send(alert_of(2, user=user, time="2026-11-20T09:05:31Z"))
    (first_id,) = ch.imported
    assert get(first_id)["ProductFields"]["deniedwatch/Count"] == "2"
    fake.now = T0 + 600
    ch.send(alert_of(5, user=user, time="2026-11-20T09:40:00Z"))  # news in the window
    assert ch.imported == [first_id, first_id]
    stored = get(first_id)
    assert stored["ProductFields"]["deniedwatch/Count"] == "7"
    assert stored["LastObservedAt"].startswith("2026-11-20T09:40:00")
    assert stored["FirstObservedAt"].startswith("2026-11-20T09:05:31")
    assert stored["UpdatedAt"].startswith("2026-11-20T09:40")


def test_the_product_arn_defaults_to_the_accounts_own(aws_env: str, fake: Any) -> None:
    fake.now = T0
    ch = channel(fake, product=None)
    ch.send(alert_of(1, user="default-product", time="2026-11-20T09:05:31Z"))
    assert ch.product == PRODUCT
    assert get(ch.imported[0])["ProductArn"] == PRODUCT


def test_a_budget_digest_imports_each_alert_in_batches_of_100(
    aws_env: str, fake: Any, unique_name: Any
) -> None:
    from deniedwatch.alerts.budget import Digest

    prefix = unique_name("many")
    alerts = [alert_of(1, user=f"{prefix}-{i}") for i in range(150)]
    fake.now = T0
    ch = channel(fake)
    calls: list[int] = []
    real = ch.client.batch_import_findings
    ch._client.batch_import_findings = lambda **kw: calls.append(len(kw["Findings"])) or real(**kw)
    ch.send_digest(Digest(caller="x", alerts=tuple(alerts)))
    assert calls == [100, 50] and len(set(ch.imported)) == 150


# --- FailedCount: a loopback stand-in answering like Security Hub ----------------------


class HubStandIn:
    """BatchImportFindings on loopback: rejects the first ``fail`` calls' findings with
    HTTP 200 and FailedCount, as Security Hub does, then accepts."""

    def __init__(self, httpserver: Any, fail: int) -> None:
        self.fail = fail
        self.calls: list[list[dict[str, Any]]] = []
        httpserver.expect_request("/findings/import", method="POST").respond_with_handler(
            self.handle
        )
        self.url = httpserver.url_for("/").rstrip("/")

    def handle(self, request: Request) -> Response:
        findings = json.loads(request.data)["Findings"]
        self.calls.append(findings)
        if len(self.calls) <= self.fail:
            body = {
                "FailedCount": len(findings),
                "SuccessCount": 0,
                "FailedFindings": [
                    {"Id": f["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "throttled"}
                    for f in findings
                ],
            }
        else:
            body = {"FailedCount": 0, "SuccessCount": len(findings), "FailedFindings": []}
        return Response(json.dumps(body), content_type="application/json")


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def send_digest(self, digest: Any) -> None:
        self.alerts.extend(digest.alerts)


def test_failed_findings_fail_the_destination_alone_and_the_retry_imports_them(
    aws_env: str, httpserver: Any, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in = HubStandIn(httpserver, fail=1)
    fake.now = T0
    ch = channel(fake)
    ch._client = boto3.client("securityhub", region_name=REGION, endpoint_url=stand_in.url)
    chat = Recorder("chat")
    store = MemoryStore(window_seconds=3600)
    a = alert_of(1, user="failed-import")
    report = deliver([a], channels=[ch, chat], store=store, batch="b1", now=T0)
    assert [name for name, _ in report.failures] == ["hub"]
    assert "did not import 1 of 1 findings (InvalidInput: throttled)" in report.failures[0][1]
    assert len(chat.alerts) == 1 and ch.imported == []
    again = deliver([a], channels=[ch, chat], store=store, batch="b1", now=T0 + 60)
    assert again.failures == [] and len(chat.alerts) == 1  # chat is not sent twice
    assert ch.imported == [stand_in.calls[0][0]["Id"]] == [stand_in.calls[1][0]["Id"]]
    assert aws_accepts(stand_in.calls[1]) == []


# --- settings and routing ----------------------------------------------------------------

SETTINGS = """
[[destinations]]
name = "chat"
type = "slack"
url_env = "CHAT_URL"

[[destinations]]
name = "hub"
type = "securityhub"

[[routes]]
name = "serious"
severity = ["high"]
destinations = ["hub"]

[[routes]]
destinations = ["chat"]
"""


def test_a_route_sends_high_severity_to_security_hub_only() -> None:
    from pathlib import Path

    from deniedwatch.pipeline import router

    s = parse_settings(SETTINGS, Path("deniedwatch.toml"))
    r = router(s, s.destinations)
    stop = Finding.from_record(denial(source="cloudtrail.amazonaws.com", event_name="StopLogging"))
    read = Finding.from_record(denial())
    assert r.destinations(stop) == ("hub",)
    assert r.destinations(read) == ("chat",)


def test_a_product_arn_that_is_not_one_is_refused() -> None:
    from pathlib import Path

    from deniedwatch.config import ConfigError

    text = (
        '[[destinations]]\nname = "hub"\ntype = "securityhub"\n'
        'product_arn = "arn:aws:sns:us-east-1:123456789012:t"\n'
    )
    with pytest.raises(ConfigError, match=r"product_arn: .* is not a Security Hub product ARN"):
        parse_settings(text, Path("deniedwatch.toml"))


def test_a_whole_scan_imports_once_and_a_rerun_updates_instead_of_duplicating(
    aws_env: str, fake: Any, unique_name: Any
) -> None:
    user = unique_name("rerun")
    findings = [
        Finding.from_record(denial(user=user, event_name=n, time=f"2026-11-20T09:0{i}:00Z"))
        for i, n in enumerate(("GetObject", "PutObject", "GetObject"))
    ]
    ids = []
    for run in range(2):
        fake.now = T0 + run * 86400  # the rerun is a day later
        ch = channel(fake)
        for a in group_findings(findings):
            ch.send(a)
        ids.append(sorted(ch.imported))
    assert ids[0] == ids[1] and len(ids[0]) == 2
    mine = [f for f in stored() if f["ProductFields"].get("deniedwatch/Principal") == user]
    assert len(mine) == 2


# --- the CLI: test-alert and scan --notify ----------------------------------------------


def test_test_alert_imports_one_sample_finding_and_prints_its_id(
    aws_env: str, cli: Any, tmp_path: Any
) -> None:
    settings = tmp_path / "s.toml"
    settings.write_text('[[destinations]]\nname = "hub"\ntype = "securityhub"\n')
    result = cli("test-alert", "--destination", "hub", "--config", settings)
    assert result.exit_code == 0, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if "imported finding" in x]
    finding_id = line.split("imported finding ", 1)[1]
    stored_one = get(finding_id)
    assert "deploy-pipeline/build-4711 denied s3:GetObject" in stored_one["Title"]
    assert stored_one["ProductArn"] == PRODUCT  # from sts:GetCallerIdentity and the region


def test_scan_notify_imports_history_once_and_a_rerun_updates(
    aws_env: str, cli: Any, tmp_path: Any
) -> None:
    from dwtest import EXAMPLES

    settings = tmp_path / "s.toml"
    settings.write_text('[[destinations]]\nname = "hub"\ntype = "securityhub"\n')
    before = {f["Id"] for f in stored()}
    first = cli("scan", EXAMPLES, "--config", settings, "--notify", "-o", tmp_path / "a.jsonl")
    assert first.exit_code == 0, first.stderr
    after_first = {f["Id"] for f in stored()} - before
    second = cli("scan", EXAMPLES, "--config", settings, "--notify", "-o", tmp_path / "b.jsonl")
    assert second.exit_code == 0, second.stderr
    after_second = {f["Id"] for f in stored()} - before
    assert len(after_first) > 5 and after_second == after_first


# --- through the real handler ------------------------------------------------------------


def test_the_function_sends_high_severity_to_security_hub_only_when_a_route_says_so(
    aws_env: str, lambda_env: Any, unique_name: Any, tmp_path: Any, httpserver: Any
) -> None:
    """The live path: the handler's pipeline, moto's DynamoDB and Security Hub, a Slack
    stand-in. A denied IAM write (high) goes to Security Hub only; a read (low) to chat."""
    from deniedwatch import lambda_handler
    from live_support import FakeTime, SlackStandIn, create_dedup_table, subscription_payload

    chat = SlackStandIn(httpserver)
    config = tmp_path / "deniedwatch.toml"
    config.write_text(SETTINGS)
    lambda_env.setenv("DENIEDWATCH_CONFIG", str(config))
    lambda_env.setenv("DENIEDWATCH_DEDUP_TABLE", create_dedup_table(unique_name("hubtbl")))
    lambda_env.setenv("CHAT_URL", chat.url)
    lambda_env.setenv(hub.ENV_PRODUCT_ARN, PRODUCT)  # as the template sets it
    fake = FakeTime()
    rt = lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2)
    lambda_env.setattr(lambda_handler, "_runtime", rt)
    writer, reader = unique_name("writer"), unique_name("reader")
    write = denial(user=writer, source="iam.amazonaws.com", event_name="PutRolePolicy")
    lambda_handler.handler(subscription_payload([write, denial(user=reader)]), None)
    mine = {
        f["ProductFields"].get("deniedwatch/Principal"): f
        for f in stored()
        if f["ProductFields"].get("deniedwatch/Principal") in (writer, reader)
    }
    assert list(mine) == [writer]
    assert mine[writer]["Severity"]["Label"] == "HIGH"
    assert mine[writer]["ProductArn"] == PRODUCT and mine[writer]["AwsAccountId"] == ACCOUNT
    (body,) = chat.bodies
    assert reader in json.dumps(body) and writer not in json.dumps(body)
