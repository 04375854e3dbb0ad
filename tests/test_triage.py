"""Triage from the alert (docs/triage.md): the buttons, the function URL that takes their
clicks, and the mutes, through the real handler.

The dedup table (mutes, seen signatures) is on a moto server; Slack's Web API, the click's
response_url and the bot are a loopback stand-in (tests/standins.py). Simulated: Slack
itself, so each click is the block_actions payload Slack documents, form-encoded and
signed here with the algorithm Slack documents (HMAC-SHA256 of ``v0:ts:body``), written
independently of slack_sdk's verifier that the endpoint uses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from deniedwatch import lambda_handler
from deniedwatch.alerts.group import group_records
from deniedwatch.finding import Finding
from deniedwatch.metrics import Metrics
from deniedwatch.triage import buttons
from deniedwatch.triage.mutes import Mute, Subject, covers, subject_of, subject_problem
from deniedwatch.triage.request import MAX_BODY, Refused, verify
from live_support import (
    ACCOUNT,
    FakeTime,
    create_dedup_table,
    denial,
    emf,
    function_url_event,
    session_denial,
    subscription_payload,
)
from standins import BOT_TOKEN, PD_KEY, PagerDutyStandIn, SlackApiStandIn

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the signing secret of Slack's own example
ALLOWED = "U0ALLOWED1"
DAY = 86400


# -- the signature: Slack's documented example -----------------------------------------
# https://docs.slack.dev/authentication/verifying-requests-from-slack (the same values
# slack_sdk's own tests use)
EXAMPLE_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
    b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
    b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d"
    b"10d2c447fce8b6703c"
)
EXAMPLE_HEADERS = {
    "x-slack-request-timestamp": "1531420618",
    "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
}


def test_slacks_documented_example_verifies() -> None:
    verify(EXAMPLE_BODY, EXAMPLE_HEADERS, SECRET, lambda: 1531420618.0)
    verify(EXAMPLE_BODY, EXAMPLE_HEADERS, SECRET, lambda: 1531420618.0 + 299)


@pytest.mark.parametrize(
    ("body", "headers", "now", "reason"),
    [
        (EXAMPLE_BODY + b"&x=1", EXAMPLE_HEADERS, 1531420618.0, "bad signature"),
        (EXAMPLE_BODY, EXAMPLE_HEADERS, 1531420618.0 + 301, "timestamp more than 5 minutes off"),
        (EXAMPLE_BODY, EXAMPLE_HEADERS, 1531420618.0 - 301, "timestamp more than 5 minutes off"),
        (
            EXAMPLE_BODY,
            {**EXAMPLE_HEADERS, "x-slack-request-timestamp": "1531420619"},
            1531420618.0,
            "bad signature",
        ),
        (EXAMPLE_BODY, {"x-slack-signature": "v0=00"}, 1531420618.0, "no Slack signature headers"),
        (
            EXAMPLE_BODY,
            {**EXAMPLE_HEADERS, "x-slack-request-timestamp": "soon"},
            1531420618.0,
            "timestamp is not a number",
        ),
    ],
)
def test_a_changed_body_a_wrong_or_stale_timestamp_is_refused(body, headers, now, reason) -> None:
    with pytest.raises(Refused) as refused:
        verify(body, headers, SECRET, lambda: now)
    assert refused.value.status == 401 and refused.value.reason == reason


# -- who may be muted (pure) --------------------------------------------------------------
def root_denial() -> dict[str, Any]:
    record = denial()
    record["userIdentity"] = {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
    }
    return record


def foreign_denial() -> dict[str, Any]:
    """A caller from another account: type AWSAccount, principalId AROA…:session, no ARN."""
    record = denial()
    record["userIdentity"] = {
        "type": "AWSAccount",
        "principalId": "AROAEXAMPLEOTHER:attacker",
        "accountId": "999988887777",
    }
    return record


def foreign_role_denial() -> dict[str, Any]:
    """An assumed role of another account calling into this one."""
    return {
        **session_denial("Probe", "s1"),
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::999988887777:assumed-role/Probe/s1",
            "accountId": "999988887777",
        },
    }


@pytest.mark.parametrize(
    "record",
    [
        root_denial(),
        foreign_denial(),
        foreign_role_denial(),
        denial(source="iam.amazonaws.com", event_name="PutRolePolicy"),
        denial(source="cloudtrail.amazonaws.com", event_name="StopLogging"),
        denial(source="secretsmanager.amazonaws.com", event_name="GetSecretValue"),
    ],
    ids=["root", "aws-account", "foreign-role", "iam-write", "stop-logging", "secret-read"],
)
def test_no_mute_for_root_a_foreign_caller_or_a_high_impact_action(record) -> None:
    f = Finding.from_record(record)
    assert subject_of(f) is None
    alert = group_records([record])[0]
    ids = [e["action_id"] for e in buttons.alert_actions(alert, buttons.Choices())["elements"]]
    assert not any(i.startswith(buttons.MUTE) for i in ids)  # the buttons are not shown
    assert any(i.startswith(buttons.NOT_EXPECTED) for i in ids)


@pytest.mark.parametrize(
    "subject",
    [
        Subject(ACCOUNT, "Root", f"arn:aws:iam::{ACCOUNT}:root", "s3:GetObject"),
        Subject(ACCOUNT, "AWSAccount", "AROAEXAMPLEOTHER:attacker", "s3:GetObject"),
        Subject(ACCOUNT, "IAMUser", "arn:aws:iam::999988887777:user/eve", "s3:GetObject"),
        Subject(ACCOUNT, "IAMUser", f"arn:aws:iam::{ACCOUNT}:user/bob", "iam:CreateAccessKey"),
        Subject(ACCOUNT, "IAMUser", f"arn:aws:iam::{ACCOUNT}:user/*", "s3:GetObject"),
    ],
    ids=["root", "aws-account", "other-account-arn", "high-impact", "glob"],
)
def test_a_forged_button_value_cannot_name_what_is_never_muted(subject) -> None:
    assert subject_problem(subject) is not None


def test_a_stored_mute_still_never_covers_root_high_impact_or_foreign_records() -> None:
    """Even a mute written to the table by hand hides none of the never-muted kinds."""
    now = 1e9

    def mute_for(record: dict[str, Any], action: str | None) -> Mute:
        f = Finding.from_record(record)
        principal = f.principal_arn or f.principal_id or ""
        subject = Subject(ACCOUNT, f.principal_type or "", principal, action)
        return Mute(subject, now + DAY, "U1", now, "C/1", "hand-written")

    root = root_denial()
    assert not covers(mute_for(root, None), root, "s3:GetObject", now)
    iam = denial(source="iam.amazonaws.com", event_name="PutRolePolicy")
    assert not covers(mute_for(iam, None), iam, "iam:PutRolePolicy", now)
    foreign = foreign_role_denial()
    assert not covers(mute_for(foreign, None), foreign, "s3:GetObject", now)


def test_a_role_mute_covers_its_sessions_not_another_role_and_ends() -> None:
    now = 1e9
    f = Finding.from_record(session_denial("nightly-export", "run-1"))
    subject = subject_of(f)
    assert subject is not None
    assert subject.principal == f"arn:aws:sts::{ACCOUNT}:assumed-role/nightly-export"
    mute = Mute(subject, now + DAY, "U1", now, "C/1", "expected: mute 1 day")
    action = subject.action
    assert covers(mute, session_denial("nightly-export", "run-2"), action, now)
    assert not covers(mute, session_denial("nightly-export-2", "run-2"), action, now)
    assert not covers(mute, session_denial("nightly-export", "run-2"), "s3:PutObject", now)
    assert not covers(mute, session_denial("nightly-export", "run-2"), action, now + DAY)


def test_a_digest_mutes_the_principals_repeats_but_never_its_high_impact_calls() -> None:
    now = 1e9
    from deniedwatch.alerts.budget import Digest

    alerts = group_records([denial(user="ci"), denial(user="ci", event_name="X")])
    block = buttons.digest_actions(Digest("x", tuple(alerts)))
    assert block is not None
    (button,) = block["elements"]
    assert button["text"]["text"] == "Mute this principal's repeats for 1 day"
    parsed = buttons.parse_mute(button["value"])
    assert parsed is not None
    subject, days = parsed
    assert days == 1 and subject.action is None
    mute = Mute(subject, now + DAY, "U1", now, "C/1", "digest")
    assert covers(mute, denial(user="ci", event_name="ListBuckets"), "s3:ListAllMyBuckets", now)
    iam = denial(user="ci", source="iam.amazonaws.com", event_name="AttachUserPolicy")
    assert not covers(mute, iam, "iam:AttachUserPolicy", now)
    assert not covers(mute, denial(user="someone-else"), "s3:GetObject", now)


# -- the endpoint, through the real handler ------------------------------------------------
class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


SETTINGS = """
[[destinations]]
name = "alerts"
type = "slack-app"
channel = "C0B"
api_url = "{api}"
url_env = "DW_BOT_TOKEN"

[[destinations]]
name = "oncall"
type = "pagerduty"
events_url = "{pd}"
url_env = "DW_PD_KEY"

[[routes]]
name = "escalations"
accounts = ["000000000000"]
destinations = ["oncall"]

[triage]
allowed_users = ["{allowed}"]
allowed_usergroup = "S0SECOPS"
escalate_route = "escalations"
"""


@pytest.fixture
def world(aws_env, unique_name, env, tmp_path, httpserver) -> Any:
    slack = SlackApiStandIn(httpserver)
    slack.usergroups["S0SECOPS"] = ["U0GROUPIE"]
    pd = PagerDutyStandIn(httpserver)
    config = tmp_path / "deniedwatch.toml"
    config.write_text(SETTINGS.format(api=slack.api_url, allowed=ALLOWED, pd=pd.url))
    env.setenv("DW_PD_KEY", PD_KEY)
    env.setenv("DENIEDWATCH_CONFIG", str(config))
    env.setenv("DW_BOT_TOKEN", BOT_TOKEN)
    env.setenv("DENIEDWATCH_SLACK_SIGNING_SECRET", SECRET)
    env.setenv("DENIEDWATCH_DEDUP_TABLE", create_dedup_table(unique_name("triage")))
    fake, clock = FakeTime(), Clock(1_795_770_331.0)
    rt = lambda_handler.build_runtime(
        sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2, wall_clock=clock
    )
    env.setattr(lambda_handler, "_runtime", rt)
    return type("World", (), {"slack": slack, "pd": pd, "clock": clock, "rt": rt})


def signed(body: str, timestamp: float, secret: str = SECRET) -> dict[str, str]:
    """Slack's headers for ``body``: v0= hex HMAC-SHA256 of ``v0:<ts>:<body>``."""
    ts = str(int(timestamp))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": f"v0={digest}",
    }


def click_body(world: Any, ts: str, button: dict[str, Any], user: str = ALLOWED) -> str:
    """The block_actions payload Slack sends for a click on ``button`` of message ``ts``.
    https://docs.slack.dev/reference/interaction-payloads/block_actions-payload"""
    message = world.slack.messages[ts]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0"},
        "api_app_id": "A0DENIED",
        "team": {"id": "T0", "domain": "example"},
        "container": {"type": "message", "message_ts": ts, "channel_id": "C0B"},
        "channel": {"id": "C0B", "name": "security-alerts"},
        "message": {**message, "ts": ts, "type": "message"},
        "response_url": world.slack.response_url,
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "block_id": buttons.BLOCK_ID,
                "action_id": button["action_id"],
                "value": button["value"],
                "text": button["text"],
                "action_ts": "1795770400.000001",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def post(world: Any, body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    headers = headers or signed(body, world.clock())
    return lambda_handler.handler(function_url_event(body, headers=headers), None)


def alert_once(world: Any, record: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """One batch with ``record``: the alert's ts and its buttons."""
    before = set(world.slack.messages)
    lambda_handler.handler(subscription_payload([record]), None)
    (ts,) = set(world.slack.messages) - before
    blocks = world.slack.messages[ts]["blocks"]
    actions = [b for b in blocks if b["type"] == "actions"]
    return ts, actions[0]["elements"] if actions else []


def button(elements: list[dict[str, Any]], text: str) -> dict[str, Any]:
    (found,) = [e for e in elements if e["text"]["text"] == text]
    return found


def test_click_mute_next_batch_silent_expiry_alert_again(world, capsys) -> None:
    """The whole flow: alert with buttons -> click "Expected: mute 7 days" -> the next
    batch (after the dedup window, so only the mute can keep it quiet) posts nothing ->
    after the mute's end the same denial alerts again."""
    record = lambda: denial(user="nightly-job")  # noqa: E731
    ts, elements = alert_once(world, record())
    texts = [e["text"]["text"] for e in elements]
    assert texts == [
        "Expected: mute 7 days",
        "Mute 1 day",
        "Mute 30 days",
        "Escalate",
        "Not expected",
    ]

    response = post(world, click_body(world, ts, button(elements, "Expected: mute 7 days")))
    assert response["statusCode"] == 200
    (audit,) = world.slack.thread(ts)
    assert audit.startswith(f"🔇 <@{ALLOWED}> muted `arn:aws:iam::{ACCOUNT}:user/nightly-job`")
    assert "deniedwatch mutes revoke" in audit
    (mute,) = world.rt.mutes.active(world.clock())
    assert mute.set_by == ALLOWED and mute.reason == "expected: mute 7 days"
    assert mute.alert == f"C0B/{ts}" and mute.expires_at == world.clock() + 7 * DAY
    capsys.readouterr()

    posts = len(world.slack.messages)
    world.clock.now += 2 * 3600  # past the 60-minute dedup window
    lambda_handler.handler(subscription_payload([record(), denial(user="someone-else")]), None)
    out = capsys.readouterr().out
    assert len(world.slack.messages) == posts + 1  # someone-else only
    assert emf(out)["MutedEvents"] == 1
    (muted,) = [json.loads(x) for x in out.splitlines() if '"kind": "muted"' in x]
    assert muted == {"level": "info", "kind": "muted", "mute": mute.id, "denials": 1}

    world.clock.now += 7 * DAY
    ts_again, _ = alert_once(world, record())
    assert "nightly-job" in json.dumps(world.slack.messages[ts_again]["blocks"])


def test_a_user_not_allowed_sees_an_ephemeral_no_and_the_thread_an_audit_line(
    world, capsys
) -> None:
    ts, elements = alert_once(world, denial(user="ci"))
    body = click_body(world, ts, button(elements, "Mute 30 days"), user="U0STRANGER")
    capsys.readouterr()
    assert post(world, body)["statusCode"] == 200
    assert world.rt.mutes.active(world.clock()) == []
    (ephemeral,) = world.slack.responses
    assert ephemeral["response_type"] == "ephemeral" and ephemeral["replace_original"] is False
    assert "not allowed" in ephemeral["text"]
    (audit,) = world.slack.thread(ts)
    assert audit == "🚫 <@U0STRANGER> tried *mute*: not allowed"
    out = capsys.readouterr().out
    assert emf(out)["TriageRefused"] == 1 and '"triage-not-allowed"' in out


def test_escalate_sends_the_alert_to_the_escalation_routes_destinations(world) -> None:
    ts, elements = alert_once(world, denial(user="ci", event_name="GetObject"))
    assert world.pd.events == []  # the route matches nothing on its own
    assert post(world, click_body(world, ts, button(elements, "Escalate")))["statusCode"] == 200
    (event,) = world.pd.events
    summary = event["payload"]["summary"]  # the wording is alerts/wording.py's
    assert "s3:GetObject" in summary and "ci" in summary
    assert world.slack.thread(ts) == [f"📣 <@{ALLOWED}> escalated this to oncall"]


def test_a_member_of_the_allowed_user_group_may_act(world) -> None:
    ts, elements = alert_once(world, denial(user="ci"))
    body = click_body(world, ts, button(elements, "Not expected"), user="U0GROUPIE")
    assert post(world, body)["statusCode"] == 200
    assert world.slack.thread(ts) == ["❗ <@U0GROUPIE> says this was *not expected*"]
    assert ("usergroups.users.list", {"usergroup": "S0SECOPS"}) in world.slack.calls


def test_a_replayed_click_is_refused_and_does_nothing_twice(world, capsys) -> None:
    ts, elements = alert_once(world, denial(user="ci"))
    body = click_body(world, ts, button(elements, "Not expected"))
    headers = signed(body, world.clock())
    assert post(world, body, headers)["statusCode"] == 200
    world.clock.now += 60  # within the 5 minutes: the signature alone would pass
    assert post(world, body, headers)["statusCode"] == 401
    assert len(world.slack.thread(ts)) == 1
    assert "replayed request" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ("wrong-secret", 401, "bad signature"),
        ("stale", 401, "timestamp more than 5 minutes off"),
        ("future", 401, "timestamp more than 5 minutes off"),
        ("unsigned", 401, "no Slack signature headers"),
        ("too-large", 413, "body over the cap"),
        ("get", 405, "not a POST"),
    ],
)
def test_requests_that_are_not_a_fresh_signed_click_are_refused(
    world, capsys, change, status, reason
) -> None:
    ts, elements = alert_once(world, denial(user="ci"))
    body = click_body(world, ts, button(elements, "Mute 1 day"))
    headers = signed(body, world.clock())
    method = "POST"
    if change == "wrong-secret":
        headers = signed(body, world.clock(), secret="not-the-apps-secret")
    elif change == "stale":
        headers = signed(body, world.clock() - 301)
    elif change == "future":
        headers = signed(body, world.clock() + 301)
    elif change == "unsigned":
        headers = {"content-type": "application/x-www-form-urlencoded"}
    elif change == "too-large":
        body += "&pad=" + "x" * MAX_BODY
        headers = signed(body, world.clock())
    elif change == "get":
        method = "GET"
    capsys.readouterr()
    event = function_url_event(body, headers=headers, method=method)
    response = lambda_handler.handler(event, None)
    assert response["statusCode"] == status
    assert world.rt.mutes.active(world.clock()) == [] and world.slack.thread(ts) == []
    out = capsys.readouterr().out
    (line,) = [json.loads(x) for x in out.splitlines() if '"triage-refused"' in x]
    assert line["reason"] == reason and line["source_ip"] == "203.0.113.9"
    assert emf(out)["TriageRefused"] == 1


def test_an_allowed_user_with_a_forged_value_still_cannot_mute_root(world) -> None:
    """Slack signs what its client sends; a value is whatever our bot put there, but the
    endpoint re-checks it anyway (a bug, or a future path that forgets the check)."""
    ts, elements = alert_once(world, denial(user="ci"))
    forged = dict(button(elements, "Mute 1 day"))
    root = Subject(ACCOUNT, "Root", f"arn:aws:iam::{ACCOUNT}:root", "s3:GetObject")
    forged["value"] = buttons.mute_value(root, 1)
    assert post(world, click_body(world, ts, forged))["statusCode"] == 200
    assert world.rt.mutes.active(world.clock()) == []
    assert world.slack.thread(ts) == [
        f"🚫 <@{ALLOWED}> tried to mute this: the root user is never muted"
    ]


def test_an_alerts_click_payload_fits_well_under_the_cap(world) -> None:
    """The cap must not refuse real clicks: Slack sends the whole message back."""
    long = "A" * 4000
    record = denial(user="ci", user_agent=long, message=long)
    ts, elements = alert_once(world, record)
    body = click_body(world, ts, button(elements, "Expected: mute 7 days"))
    assert len(body) < MAX_BODY / 2
    assert post(world, body)["statusCode"] == 200


def test_no_buttons_and_no_endpoint_without_a_signing_secret(world, env) -> None:
    env.delenv("DENIEDWATCH_SLACK_SIGNING_SECRET")
    _ts, elements = alert_once(world, denial(user="ci"))
    assert elements == []
    assert post(world, "payload=%7B%7D")["statusCode"] == 404


def test_metrics_names_cover_triage() -> None:
    m = Metrics(write=lambda _: None)
    for name in ("MutedEvents", "MutesSet", "TriageRefused"):
        m.add(name)


# -- `deniedwatch mutes list|revoke`, `status` ---------------------------------------------
def test_mutes_list_and_revoke_through_the_cli(aws_env, cli, unique_name, env) -> None:
    """A stack whose DedupTable is a real (moto) table; the CLI finds it from the stack."""
    import boto3

    from deniedwatch.alerts.dedup import DynamoStore
    from deniedwatch.triage.store import DynamoMutes

    env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    stack = unique_name("mutes")
    template = {
        "Resources": {
            "DedupTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "pending", "AttributeType": "S"},
                        {"AttributeName": "closes_at", "AttributeType": "N"},
                    ],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "held",
                            "KeySchema": [
                                {"AttributeName": "pending", "KeyType": "HASH"},
                                {"AttributeName": "closes_at", "KeyType": "RANGE"},
                            ],
                            "Projection": {
                                "ProjectionType": "INCLUDE",
                                "NonKeyAttributes": ["state"],
                            },
                        }
                    ],
                },
            }
        }
    }
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    table = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="DedupTable")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    mutes = DynamoMutes(
        DynamoStore(table, client=boto3.client("dynamodb", region_name="eu-west-1"))
    )
    import time

    now = time.time()
    subject = subject_of(Finding.from_record(denial(user="nightly-job")))
    assert subject is not None
    mutes.put(Mute(subject, now + 7 * DAY, ALLOWED, now, "C0B/1.2", "expected: mute 7 days"))
    args = ("--stack-name", stack, "--region", "eu-west-1")

    listed = cli("mutes", "list", *args)
    assert listed.exit_code == 0, listed.stderr
    assert subject.key() in listed.stdout and "nightly-job" in listed.stdout
    assert ALLOWED in listed.stdout and "expected: mute 7 days" in listed.stdout

    assert cli("mutes", "revoke", subject.key(), *args).exit_code == 0
    assert mutes.active(now) == []
    again = cli("mutes", "revoke", subject.key(), *args)
    assert again.exit_code != 0 and "no mute" in again.stderr
    assert "no active mutes" in cli("mutes", "list", *args).stderr


def test_deploy_refuses_slack_interactivity_where_lambda_has_no_function_urls() -> None:
    from deniedwatch.deploy import plan

    base = plan.DeployPlan("dw", "il-central-1", "code-bucket", "{ $.errorCode = x }")
    assert plan.check_plan(base) == base
    with pytest.raises(plan.PlanError, match="no function URLs in il-central-1"):
        plan.check_plan(plan.DeployPlan(**{**base.__dict__, "slack_interactivity": True}))
