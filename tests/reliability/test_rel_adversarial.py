"""Alerts an attacker cannot steer: each way someone inside (or next to) an account could
silence, hide or steer an alert, reproduced as a new user would, through the real handler
(moto DynamoDB dedup table; loopback stand-ins for a Slack webhook, Slack's Web API and
PagerDuty), the real `deniedwatch scan`, or settings loaded as the CLI loads them.

Each test names the guarantee it proves (docs/alert-policy.md lists them) and, where the
first fix held, the cheapest input we found that would break it, tested too.
Simulated: moto does not run Lambda, so the handler is called in-process as the runtime
calls it; the stand-ins answer as the services' documented APIs do.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from figures import record

from deniedwatch import lambda_handler
from deniedwatch.alerts.deliver import DeliveryError
from deniedwatch.alerts.group import GroupKey
from deniedwatch.metrics import Metrics
from deniedwatch.sources.invocation import decode_invocation
from live_support import (
    ACCOUNT,
    FakeTime,
    SlackStandIn,
    alert_count,
    create_dedup_table,
    denial,
    invoke_async,
    mrkdwn_texts,
    session_denial,
    sqs_batch,
    start,
    status,
    subscription_payload,
)
from standins import BOT_TOKEN, PD_KEY, PagerDutyStandIn, SlackApiStandIn

SUITE = "Adversarial alerts"
FOREIGN = "999988887777"


def is_digest(body: dict[str, Any]) -> bool:
    """A digest's first line starts with its icon (🧾 budget, ⏳ window summary)."""
    return body["text"].startswith(("🧾", "⏳"))


def header(body: dict[str, Any]) -> str:
    return body["blocks"][0]["text"]["text"]


def digest_count(body: dict[str, Any]) -> int:
    m = re.search(r": (\d+) more ", body["text"])
    assert m, body["text"]
    return int(m.group(1))


def counted(posts: list[dict[str, Any]]) -> int:
    """Every denial a batch's messages speak for: alerts' counts plus digests'."""
    return sum(digest_count(p) if is_digest(p) else alert_count(p) for p in posts)


def text_of(body: dict[str, Any]) -> str:
    return "\n".join(mrkdwn_texts(body))


def foreign(session: str, role_id: str = "AROAFOREIGNROLE00001", account: str = FOREIGN, **kw):
    """A caller from another account: CloudTrail gives no ARN, only ``AROA…:session``."""
    r = denial(**kw)
    r["userIdentity"] = {
        "type": "AWSAccount",
        "principalId": f"{role_id}:{session}",
        "accountId": account,
    }
    return r


def federated(name: str, **kw):
    """A federated user: the name is whatever the caller passed GetFederationToken."""
    r = denial(**kw)
    r["userIdentity"] = {
        "type": "FederatedUser",
        "principalId": f"{ACCOUNT}:{name}",
        "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/{name}",
        "accountId": ACCOUNT,
    }
    return r


def s3(bucket: str, event_name: str = "GetObject", **kw):
    return denial(event_name=event_name, resources=[{"ARN": f"arn:aws:s3:::{bucket}"}], **kw)


# --- 1. foreign role sessions cannot bury a known principal's serious denial ------------


def _sessions_of_one_role() -> tuple[list, list]:
    return [], [foreign(f"s-{i}") for i in range(40)]


def _roles_of_one_account() -> tuple[list, list]:
    return [], [foreign("x", role_id=f"AROAFOREIGNROLE{i:05d}") for i in range(40)]


def _federated_names() -> tuple[list, list]:
    return [], [federated(f"name-{i}") for i in range(40)]


def _seen_foreign_high_impact() -> tuple[list, list]:
    """The cheapest break of the first fix (quota for *new* foreign callers, novelty after
    impact): 4 other accounts x 10 roles, each seen earlier in the window (so not new),
    each making 2 denied IAM writes (high impact, a larger count than bob's one)."""
    roles = [
        (f"9999888877{a:02d}", f"AROAFOREIGNROLE{a}{i:04d}") for a in range(4) for i in range(10)
    ]
    warm = [foreign("w", role_id=r, account=acct) for acct, r in roles]
    attack = [
        foreign("w", role_id=r, account=acct, source="iam.amazonaws.com", event_name="CreateUser")
        for acct, r in roles
        for _ in range(2)
    ]
    return warm, attack


@pytest.mark.parametrize(
    "flood",
    [_sessions_of_one_role, _roles_of_one_account, _federated_names, _seen_foreign_high_impact],
    ids=["40-sessions-one-role", "40-roles-one-account", "40-federated-names", "seen-high-impact"],
)
def test_new_or_foreign_callers_cannot_bury_a_known_principals_serious_denial(
    flood, lambda_env, fake, httpserver, dedup_table
) -> None:
    """Guarantee: a high-impact denial by a principal already seen in the window gets its
    own post whatever other callers do; callers count by role id (session and federated
    names cut), and all callers of one other account share one caller's quota."""
    slack = SlackStandIn(httpserver)
    lambda_env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(lambda_env, fake)
    warm, attack = flood()
    lambda_handler.handler(subscription_payload([denial(user="bob"), *warm]), None)
    before = len(slack.ok_posts())
    bob = s3("prod-payroll", event_name="PutBucketPolicy", user="bob", time="2026-11-20T09:07:00Z")
    batch = [*attack, bob]
    lambda_handler.handler(subscription_payload(batch), None)
    posts = slack.ok_posts()[before:]
    alerts = [p for p in posts if not is_digest(p)]
    assert any("· bob denied s3:PutBucketPolicy" in header(p) for p in alerts), [
        header(p) for p in posts
    ]
    assert len(alerts) <= 20
    outsiders = [p for p in alerts if "· bob denied" not in header(p)]
    accounts = {a for p in outsiders for a in re.findall(r"9999888877\d\d", text_of(p))} or {""}
    assert len(outsiders) <= 5 * len(accounts)
    assert counted(posts) == len(batch)  # nothing dropped: the rest is in digests
    record(
        SUITE,
        f"foreign/new callers vs a known principal ({flood.__name__.strip('_')})",
        tried=f"{len(attack)} denials by other callers + bob's s3:PutBucketPolicy",
        times=1,
        held=f"bob's alert posted; {len(outsiders)} outsider posts; all {len(batch)} counted",
    )


# --- settings for the multi-destination cases ------------------------------------------


def settings_text(api_url: str, pd_url: str) -> str:
    return f"""
[alerts]
dedup_window_minutes = 60

[[destinations]]
name = "sec"
type = "slack"
url_env = "SEC_SLACK_URL"

[[destinations]]
name = "app"
type = "slack-app"
channel = "C0B"
api_url = "{api_url}"
url_env = "APP_TOKEN"

[[destinations]]
name = "pd"
type = "pagerduty"
events_url = "{pd_url}"
url_env = "PD_ROUTING_KEY"

[[routes]]
name = "page"
severity = ["high", "medium"]
destinations = ["pd"]
continue = true

[[routes]]
name = "chat"
accounts = ["{ACCOUNT}"]
destinations = ["sec", "app"]
"""


@pytest.fixture
def world(aws_env, unique_name, lambda_env, tmp_path, httpserver):
    webhook = SlackStandIn(httpserver)
    app = SlackApiStandIn(httpserver)
    pd = PagerDutyStandIn(httpserver)
    config = tmp_path / "deniedwatch.toml"
    config.write_text(settings_text(app.api_url, pd.url))
    lambda_env.setenv("DENIEDWATCH_CONFIG", str(config))
    lambda_env.setenv("DENIEDWATCH_DEDUP_TABLE", create_dedup_table(unique_name("adv")))
    lambda_env.setenv("SEC_SLACK_URL", webhook.url)
    lambda_env.setenv("APP_TOKEN", BOT_TOKEN)
    lambda_env.setenv("PD_ROUTING_KEY", PD_KEY)
    lambda_env.setenv("AWS_REGION", "eu-west-1")
    fake = FakeTime()
    lambda_handler.reset()
    start(lambda_env, fake)
    yield webhook, app, pd
    lambda_handler.reset()


def top_level(app: SlackApiStandIn) -> list[str]:
    return [json.dumps(m) for m in app.messages.values()]


# --- 2. the novelty cap never makes a new resource silent ----------------------------------


def test_past_the_novelty_cap_a_new_resource_is_posted_and_named(world) -> None:
    """Guarantee: a new resource, source IP or principal id is never silent: past the
    window's 50 remembered values it still posts (within the budget) and says the cap is
    reached; a Slack-app parent is never edited; repeats are still held."""
    webhook, app, _ = world
    spray = [s3(f"decoy-{i:02d}") for i in range(60)]
    lambda_handler.handler(subscription_payload(spray), None)
    assert len(webhook.ok_posts()) == 1 and len(app.messages) == 1

    lambda_handler.handler(subscription_payload([s3("decoy-05"), s3("prod-payroll")]), None)
    news = webhook.ok_posts()[-1]
    assert len(webhook.ok_posts()) == 2
    assert "prod-payroll" in text_of(news) and "novelty cap reached" in text_of(news)
    assert len(app.messages) == 2 and "prod-payroll" in top_level(app)[-1]

    lambda_handler.handler(subscription_payload([s3("decoy-05")] * 3), None)  # a repeat
    assert len(webhook.ok_posts()) == 2  # held for the webhook (a log line, the summary)
    (thread,) = [r for rs in app.replies.values() for r in rs]
    assert "reply_broadcast" not in thread  # no news in it
    assert not [m for m, _ in app.calls if m == "chat.update"]  # no parent is ever edited
    record(
        SUITE,
        "novelty cap",
        tried="60 resources, then 1 new past the cap (webhook + Slack app), then a repeat",
        times=3,
        held="the new resource posted and named everywhere; 0 parent edits; repeat held",
    )


def test_a_new_resource_while_the_windows_claim_is_undelivered_is_not_held(world) -> None:
    """Cheapest break of the first fix: news that arrives while the window's first alert
    is still being delivered (here: the webhook failed it, AWS will retry). It goes out
    beside the claim; the claim's retry still finds its place."""
    webhook, app, _ = world
    webhook.script = [status(500)] * 4  # the first post and its retries
    first = subscription_payload([s3("decoy-a")])
    with pytest.raises(DeliveryError):
        lambda_handler.handler(first, None)
    lambda_handler.handler(subscription_payload([s3("prod-payroll")]), None)
    assert "prod-payroll" in text_of(webhook.ok_posts()[-1])
    assert any("prod-payroll" in m for m in top_level(app))
    lambda_handler.handler(first, None)  # AWS's retry of the failed batch
    assert "decoy-a" in text_of(webhook.ok_posts()[-1])
    record(
        SUITE,
        "news beside an undelivered claim",
        tried="first alert failing on the webhook, then a new resource, then the retry",
        times=3,
        held="the new resource posted to both destinations; the retry delivered the first",
    )


# --- 3. the attacker cannot pick the resource the alert shows, nor lower its severity ------


def resource_field(body: dict[str, Any]) -> str:
    (fields,) = [b["fields"] for b in body["blocks"] if "fields" in b]
    (cell,) = [f["text"] for f in fields if f["text"].startswith("*Resource*")]
    return cell


def test_decoys_before_and_after_cannot_hide_the_new_resource(world) -> None:
    """Guarantee: a news alert shows a member with the new value and names the new values
    first, whatever comes before and after it in the batch."""
    webhook, _, _ = world
    lambda_handler.handler(subscription_payload([s3("decoy-a"), s3("decoy-b")]), None)
    batch = [
        s3("decoy-a", time="2026-11-20T09:00:00Z"),
        s3("prod-payroll", time="2026-11-20T09:00:30Z"),
        s3("decoy-b", time="2026-11-20T09:01:00Z"),
    ]
    lambda_handler.handler(subscription_payload(batch), None)
    news = webhook.ok_posts()[-1]
    assert "prod-payroll" in resource_field(news)
    summary = news["blocks"][1]["text"]["text"]
    assert summary.index("New resource") < summary.index("prod-payroll")
    record(
        SUITE,
        "shown resource",
        tried="a new resource between two known decoys (earliest and latest)",
        times=1,
        held="the alert's Resource field and news line name the new resource",
    )


SCP_DENY = (
    "User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: "
    "s3:GetObject on resource: arn:aws:s3:::prod-payroll/x with an explicit deny in a "
    "service control policy"
)


def test_routing_and_severity_read_the_most_severe_member(world) -> None:
    """Guarantee: a group's severity and routing are its most severe member's: a read
    denied by an explicit SCP deny (medium: paged) between two plain reads (low)."""
    _, _, pd = world
    batch = [
        s3("decoy-a", time="2026-11-20T09:00:00Z"),
        s3("prod-payroll", time="2026-11-20T09:00:30Z", message=SCP_DENY),
        s3("decoy-b", time="2026-11-20T09:01:00Z"),
    ]
    lambda_handler.handler(subscription_payload(batch), None)
    (event,) = pd.events
    assert event["payload"]["severity"] == "error"  # medium
    record(
        SUITE,
        "most severe member",
        tried="an explicit-deny read between two implicit ones (sample: the latest)",
        times=1,
        held="paged at medium",
    )


# --- 9. PagerDuty: a new window or news is a new incident -----------------------------


def test_pagerduty_news_and_new_windows_page_again(world) -> None:
    """Guarantee: a PagerDuty incident covers one group in one dedup window at one
    severity; news (a new resource) gets its own, naming it; a retry keeps its key."""
    _, _, pd = world
    policy = "PutBucketPolicy"
    lambda_handler.handler(subscription_payload([s3("logs", event_name=policy)]), None)
    refused: list[str] = []  # the dedup_key of each try PagerDuty answered 500

    def fail(request: Any) -> Any:
        refused.append(json.loads(request.get_data())["dedup_key"])
        return status(500)(request)

    pd.script = [fail] * 4
    news = subscription_payload([s3("prod-payroll", event_name=policy)])
    with pytest.raises(DeliveryError):
        lambda_handler.handler(news, None)
    lambda_handler.handler(news, None)  # AWS's retry
    rt = lambda_handler.runtime()
    later = subscription_payload([s3("logs", event_name=policy)])
    lambda_handler.process(
        decode_invocation(later), rt, Metrics(write=lambda _: None), now=time.time() + 3700
    )
    first, payroll, next_window = pd.events
    keys = [e["dedup_key"] for e in pd.events]
    assert len(set(keys)) == 3
    assert refused and set(refused) == {payroll["dedup_key"]}  # the retry kept its key
    assert "prod-payroll" in json.dumps(payroll["payload"]["custom_details"])
    assert next_window["payload"]["severity"] == first["payload"]["severity"] == "critical"
    record(
        SUITE,
        "PagerDuty dedup key",
        tried="group alert, news (failed once, retried), the same group next window",
        times=4,
        held="3 incidents, news named, the retry kept its key",
    )


# --- 5. suppression and severity rules pinned only to what cannot be borrowed ----------


BORROWED = [
    ('user_agent = "Terraform/*"\nsame_account = true', "user_agent"),
    ('principal_arn = "arn:aws:sts::*:assumed-role/terraform-*"', "principal_arn"),
    ('user_agent = "*"\ncaller_account_id = "111122223333"', "user_agent"),
    ('user_agent = "*"\nsource_ip = "10.0.0.0/8"', "user_agent"),
]


@pytest.mark.parametrize(("keys", "named"), BORROWED, ids=["ua+own", "arn*", "ua+acct", "ua+cidr"])
@pytest.mark.parametrize("table", ["suppress", "severity"])
def test_rules_any_caller_could_borrow_are_warned_with_file_and_line(
    cli, tmp_path: Path, keys: str, named: str, table: str
) -> None:
    from dwtest import EXAMPLES

    path = tmp_path / "s.toml"
    level = 'level = "low"\n' if table == "severity" else ""
    path.write_text(f'# rules\n[[{table}.rule]]\nname = "r"\n{keys}\n{level}')
    result = cli("scan", EXAMPLES, "--config", path, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert f"{path}:2: {table}.rule[0] (r) is not pinned: it matches on {named}" in line


def test_the_routing_docs_severity_example_is_pinned() -> None:
    from deniedwatch.config import parse_settings
    from dwtest import REPO

    text = (REPO / "docs" / "routing.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block
    example = block.group(1)
    assert "[[severity.rule]]" in example
    settings = parse_settings(example, Path("routing.md"))
    assert settings.warnings == ()
    tomllib.loads(example)


# --- 6. --suggest-suppressions never suggests hiding the attack -----------------------


def _trail(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    folder = tmp_path / "trail"
    folder.mkdir()
    name = f"{ACCOUNT}_CloudTrail_eu-west-1_20261108T0000Z_x.json.gz"
    (folder / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return folder


def _role_call(day: int, role: str, source: str, name: str, **kw) -> dict[str, Any]:
    r = denial(source=source, event_name=name, time=f"2026-11-0{day}T10:00:00Z", **kw)
    r["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": f"AROAROLE:{role}-{day}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s{day}",
        "accountId": ACCOUNT,
    }
    return r


def test_suggestions_never_hide_high_impact_root_or_rest_on_the_user_agent(
    cli, tmp_path: Path
) -> None:
    """Guarantee: no suggested rule covers a high-impact action or root, and none rests
    on the user agent. Cheapest break of a read-only rule: secretsmanager:GetSecretValue
    is a read (Get…) repeated daily, and high impact."""
    records = []
    for day in (1, 2, 3):
        records.append(
            _role_call(
                day, "ops", "cloudtrail.amazonaws.com", "StopLogging", user_agent="AWS Internal"
            )
        )
        records.append(_role_call(day, "app", "secretsmanager.amazonaws.com", "GetSecretValue"))
        root = denial(event_name="ListBuckets", time=f"2026-11-0{day}T11:00:00Z")
        root["userIdentity"] = {
            "type": "Root",
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "accountId": ACCOUNT,
        }
        records.append(root)
        records.append(_role_call(day, "ci", "s3.amazonaws.com", "ListBuckets"))  # routine
    out = tmp_path / "suggested.toml"
    result = cli("scan", _trail(tmp_path, records), "--suggest-suppressions", "-o", out)
    assert result.exit_code == 0, result.stderr
    rules = tomllib.loads(out.read_text())["suppress"]["rule"]
    assert [r["event_name"] for r in rules] == ["ListBuckets"]
    assert rules[0]["principal_arn"].endswith(":assumed-role/ci/*")
    assert all("user_agent" not in r for r in rules)
    record(
        SUITE,
        "suggest-suppressions",
        tried="StopLogging 'AWS Internal', GetSecretValue daily, root daily, a routine read",
        times=1,
        held="1 rule (the routine read); none for high impact, root or by user agent",
    )


# --- 4. forged fast-path events cannot cancel real ones -------------------------------


def _both(lambda_env, fake, httpserver) -> SlackStandIn:
    slack = SlackStandIn(httpserver)
    lambda_env.setenv("SLACK_WEBHOOK_URL", slack.url)
    lambda_env.setenv("DENIEDWATCH_LIVE_SOURCE", "both")
    start(lambda_env, fake)
    return slack


def _forged_copy(real: dict[str, Any]) -> dict[str, Any]:
    """What a principal with sqs:SendMessage puts on the queue: the real denial's eventID
    on a harmless-looking record."""
    forged = denial(user="ci-bot", event_name="GetObject")
    forged["eventID"] = real["eventID"]
    return forged


@pytest.mark.parametrize("forged_first", [True, False], ids=["forged-first", "real-first"])
def test_a_forged_fast_path_event_cannot_cancel_the_real_one(
    forged_first, lambda_env, fake, httpserver, dedup_table, capsys
) -> None:
    """Guarantee: an eventID claimed with another record is alerted as tampering and
    neither copy is dropped (claims are by eventID and record hash)."""
    slack = _both(lambda_env, fake, httpserver)
    real = s3("prod-payroll", event_name="PutBucketPolicy", user="mallory")
    forged = _forged_copy(real)
    steps = [sqs_batch([forged]), subscription_payload([real])]
    for event in steps if forged_first else steps[::-1]:
        lambda_handler.handler(event, None)
    headers = [header(p) for p in slack.ok_posts()]
    assert any(" · mallory denied s3:PutBucketPolicy " in h for h in headers), headers
    assert any(" · ci-bot denied s3:GetObject " in h for h in headers), headers
    assert any("denied sqs:SendMessage · ForgedEvent" in h for h in headers), headers
    out = capsys.readouterr().out
    assert '"kind": "event-tampering"' in out and real["eventID"] in out
    record(
        SUITE,
        f"forged fast-path event ({'forged' if forged_first else 'real'} first)",
        tried="a queue message reusing a real denial's eventID on another record",
        times=2,
        held="both copies alerted, plus a ForgedEvent alert; 0 dropped",
    )


def test_the_same_record_on_both_paths_is_still_alerted_once(
    lambda_env, fake, httpserver, dedup_table
) -> None:
    """The hash does not break `both`: CloudTrail's record via EventBridge and via
    CloudWatch Logs hashes alike (the envelope's detail is the record)."""
    slack = _both(lambda_env, fake, httpserver)
    real = s3("prod-payroll", event_name="PutBucketPolicy", user="mallory")
    lambda_handler.handler(sqs_batch([real]), None)
    lambda_handler.handler(subscription_payload([real]), None)
    assert len(slack.ok_posts()) == 1


# The queue policy, evaluated as AWS documents it: an explicit Deny in any policy wins;
# otherwise an Allow in the identity policy or the queue policy allows (same account).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
# A negated condition operator (ArnNotEquals) is true when the key is absent:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
# What EventBridge needs from an SQS target's policy (events.amazonaws.com, aws:SourceArn):
# https://docs.aws.amazon.com/eventbridge/latest/userguide/resource-based-policies-eventbridge.html
RULE = {"Fn::GetAtt": ["DenialEventsRule", "Arn"]}
QUEUE = {"Fn::GetAtt": ["DenialEventsQueue", "Arn"]}
DLQ = {"Fn::GetAtt": ["DenialEventsDeadLetterQueue", "Arn"]}
DEV = {"AWS": f"arn:aws:iam::{ACCOUNT}:user/dev"}
EVENTS = {"Service": "events.amazonaws.com"}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _applies(s: dict[str, Any], action: str, resource: Any, who: Any, source: Any) -> bool:
    if not any(fnmatch.fnmatchcase(action, a) for a in _listed(s["Action"])):
        return False
    if resource not in _listed(s["Resource"]):
        return False
    if s["Principal"] != "*" and s["Principal"] != who:
        return False
    for operator, keys in s.get("Condition", {}).items():
        for key, expected in keys.items():
            value = {"aws:SourceArn": source, "aws:SecureTransport": "true"}.get(key)
            if operator == "Bool" and value != expected:
                return False
            if operator == "ArnEquals" and value not in _listed(expected):
                return False
            if operator == "ArnNotEquals" and value in _listed(expected):
                return False
    return True


def _decide(statements, action, resource, who, source=None, identity_allows=False) -> str:
    applying = [s for s in statements if _applies(s, action, resource, who, source)]
    if any(s["Effect"] == "Deny" for s in applying):
        return "deny"
    if identity_allows or any(s["Effect"] == "Allow" for s in applying):
        return "allow"
    return "implicit deny"


def test_only_the_rule_can_send_to_the_queue_and_redrive_and_the_function_still_work() -> None:
    """Guarantee: no principal of the account can put a message on the fast-path queue,
    whatever its own IAM policy says; EventBridge's rule can, SQS's redrive to the DLQ and
    the function's reads are untouched."""
    from cfnlint.decode import decode_str

    from deniedwatch.deploy import plan

    template, problems = decode_str(plan.template_text())
    assert not problems
    statements = template["Resources"]["DenialEventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    send = "sqs:SendMessage"
    assert _decide(statements, send, QUEUE, DEV, identity_allows=True) == "deny"
    assert _decide(statements, send, QUEUE, EVENTS, source="arn:aws:events:x:1:rule/y") == "deny"
    assert _decide(statements, send, QUEUE, EVENTS, source=RULE) == "allow"
    assert _decide(statements, send, DLQ, EVENTS, source=RULE) == "allow"  # the target's DLQ
    role = {"AWS": {"Fn::GetAtt": ["FunctionRole", "Arn"]}}
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert _decide(statements, action, QUEUE, role, identity_allows=True) == "allow"
    # SQS's own redrive moves messages into the DLQ: no Deny of SendMessage covers it
    # beyond the TLS one (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html)
    denies = [
        s for s in statements if s["Effect"] == "Deny" and "Bool" not in s.get("Condition", {})
    ]
    assert all(DLQ not in _listed(s["Resource"]) for s in denies)
    record(
        SUITE,
        "queue policy",
        tried="SendMessage by a principal with an IAM allow, by another rule, by the rule; "
        "the function's reads; redrive",
        times=7,
        held="only the rule sends; reads and redrive untouched",
    )


# --- earlier rounds (issue 20 gathers them here): floods, sessions, held novelty ------

SERVICES = ("s3", "ec2", "lambda", "dynamodb", "sqs", "sns", "rds", "ecs", "eks", "ssm", "logs")
SERVICES += ("glue",)
NOUNS = "Buckets Instances Functions Tables Queues Topics Clusters Services Parameters Groups"
NOUNS = [*NOUNS.split(), "Jobs", "Images", "Volumes", "Snapshots", "Keys", "Roles", "Users"]
NOUNS += ["Policies", "Aliases", "Layers", "Streams", "Rules", "Targets", "Tags", "Versions"]


def enumeration(user: str = "mallory", calls: int = 300) -> list[dict]:
    """What enumerate-iam / pacu do with a stolen key: one call to each of ``calls``
    different read APIs across 12 services, each denied."""
    verbs = ("List", "Get", "Describe")
    return [
        denial(
            user=user,
            source=f"{SERVICES[i % 12]}.amazonaws.com",
            event_name=f"{verbs[i % 3]}{NOUNS[i // 12]}",
            time=f"2026-11-20T09:05:{i % 60:02d}Z",
        )
        for i in range(calls)
    ]


def test_flood_cannot_bury_the_second_principal(lambda_env, fake, httpserver, dedup_table):
    """300 denials of different actions from one stolen key, plus one s3:PutBucketPolicy
    denial by a second principal a minute later, in one payload. Slack answers each post
    in 9 s (simulated on the fake clock the 60 s timeout follows): the first try posts
    the second principal's alert first, 5 of mallory's, and runs out of time for the
    digest; AWS's retry sends only the digest. Every denial is counted exactly once."""
    slack = SlackStandIn(httpserver, latency=lambda: fake.sleep(9.0))
    lambda_env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(lambda_env, fake)
    eve = denial(user="eve", event_name="PutBucketPolicy", time="2026-11-20T09:06:59Z")
    payload = subscription_payload([*enumeration(), eve])

    outcomes = invoke_async(lambda_handler.handler, payload, fake)
    assert isinstance(outcomes[0], DeliveryError) and "out of time" in str(outcomes[0])
    assert outcomes[1]["status"] == "ok" and len(outcomes) == 2  # no timeout, no DLQ

    posts = slack.ok_posts()
    first_try, retry = posts[:6], posts[6:]
    assert len(first_try) <= 20  # max_posts_per_batch
    assert " · eve denied s3:PutBucketPolicy " in header(first_try[0])
    assert all(" · mallory denied " in header(p) for p in first_try[1:])
    (digest,) = retry
    assert "· mallory: 295 more denials of 295 actions" in digest["text"]
    assert "top 10 listed, all counted" in "\n".join(mrkdwn_texts(digest))
    assert sum(alert_count(p) for p in first_try) + digest_count(digest) == 301

    assert invoke_async(lambda_handler.handler, payload, fake)[0]["status"] == "ok"
    assert len(slack.ok_posts()) == 7  # a third delivery of the payload posts nothing


def test_200_assumed_role_sessions_get_one_digest_per_batch(
    lambda_env, fake, httpserver, dedup_table
):
    """200 session names of one role over 10 payloads: each invocation posts 5 alerts
    (the per-principal cap: the role is the principal) and counts 15 in one digest."""
    slack = SlackStandIn(httpserver)
    lambda_env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(lambda_env, fake)
    per_batch = []
    for batch in range(10):
        records = [
            session_denial(
                "ci-runner", f"botocore-session-{batch * 20 + i}", event_name="ListBuckets"
            )
            for i in range(20)
        ]
        before = len(slack.ok_posts())
        result = lambda_handler.handler(subscription_payload(records), None)
        per_batch.append((result["sent"], result["digests"]))
        batch_posts = slack.ok_posts()[before:]
        assert digest_count(batch_posts[-1]) == 15
        assert batch_posts[-1]["text"].startswith(
            "🧾 111122223333 eu-west-1 · ci-runner (15 sessions): 15 more s3:ListBuckets denials"
        )
    assert per_batch == [(5, 1)] * 10
    assert len(slack.ok_posts()) == 60  # was 200


def s3_get(key: str, **fields) -> dict:
    return denial(resources=[{"ARN": f"arn:aws:s3:::{key}"}], **fields)


def test_held_in_silence_a_new_resource_in_the_window_is_posted(
    lambda_env, fake, httpserver, dedup_table, capsys
):
    """After one denial on public-assets/logo.png is posted, 500 s3:GetObject denials on
    prod-customer-exports/* by the same principal within the window are news (a bucket
    the group had not touched): posted in the same invocation. Their repeats are held,
    and each held group is one log line naming the group, resource and count."""
    slack = SlackStandIn(httpserver)
    lambda_env.setenv("SLACK_WEBHOOK_URL", slack.url)
    start(lambda_env, fake)
    lambda_handler.handler(subscription_payload([s3_get("public-assets/logo.png")]), None)
    exports = [s3_get(f"prod-customer-exports/2026/11/part-{i:03d}.csv") for i in range(500)]
    result = lambda_handler.handler(subscription_payload(exports), None)
    assert result["sent"] == 1
    post = slack.ok_posts()[-1]
    text = "\n".join(mrkdwn_texts(post))
    assert "prod-customer-exports/2026/11/part-" in text and "and 499 other resources" in text
    assert "New resource in the dedup window" in text and alert_count(post) == 500
    capsys.readouterr()

    lambda_handler.handler(subscription_payload(exports[:40]), None)  # the same again
    assert len(slack.ok_posts()) == 2
    (held,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"held"' in x]
    assert held["kind"] == "held" and held["decision"] == "window" and held["count"] == 40
    assert held["resource"].startswith("arn:aws:s3:::prod-customer-exports/")
    assert held["resources"] == 40 and held["group"] == held_key("mallory").digest()
    assert held["held"] == 40


def held_key(user: str) -> GroupKey:
    return GroupKey(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/{user}", "s3:GetObject", "AccessDenied")
