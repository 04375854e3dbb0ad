"""Routing end to end: the real Lambda handler, settings with [[destinations]] and
[[routes]], and loopback stand-ins for every service it talks to.

Account A goes to a Slack webhook, account B to a Slack app (threads) and a Teams
Workflows webhook, and high severity also to PagerDuty. The dedup table is a moto
server. Simulated: moto does not run Lambda, so the handler is called in-process as
the runtime would call it; the stand-ins answer like the services' documented APIs.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from deniedwatch import lambda_handler
from deniedwatch.alerts.deliver import DeliveryError
from deniedwatch.metrics import Metrics
from deniedwatch.sources.invocation import decode_invocation
from live_support import (
    FakeTime,
    SlackStandIn,
    create_dedup_table,
    denial,
    status,
    subscription_payload,
)
from standins import BOT_TOKEN, PD_KEY, PagerDutyStandIn, SlackApiStandIn, TeamsStandIn

A = "111111111111"
B = "222222222222"


def settings_text(slack_api: str, pd_url: str) -> str:
    return f"""
[accounts]
"{A}" = "account-a"
"{B}" = "account-b"

[alerts]
dedup_window_minutes = 60

[[destinations]]
name = "a-slack"
type = "slack"
url_env = "A_SLACK_URL"

[[destinations]]
name = "b-app"
type = "slack-app"
channel = "C0B"
api_url = "{slack_api}"
url_env = "B_SLACK_TOKEN"

[[destinations]]
name = "b-teams"
type = "teams"
url_env = "B_TEAMS_URL"

[[destinations]]
name = "oncall"
type = "pagerduty"
events_url = "{pd_url}"
url_env = "ONCALL_PD_KEY"

[[routes]]
name = "page-high"
severity = ["high"]
destinations = ["oncall"]
continue = true

[[routes]]
name = "a"
accounts = ["{A}"]
destinations = ["a-slack"]

[[routes]]
name = "b"
accounts = ["{B}"]
destinations = ["b-app", "b-teams"]
"""


def read(user: str, account: str) -> dict:
    """A read-only denial of a principal of the same account: low severity."""
    return denial(user=user, account=account)


def iam_write(user: str, account: str, event_name: str = "PutRolePolicy") -> dict:
    """A denied IAM write: high severity (pages)."""
    return denial(user=user, account=account, source="iam.amazonaws.com", event_name=event_name)


@pytest.fixture
def world(aws_env, unique_name, monkeypatch, tmp_path, httpserver):
    for name in (
        "DENIEDWATCH_SLACK_SECRET_ARN",
        "SLACK_WEBHOOK_URL",
        "DENIEDWATCH_SNS_TOPIC_ARN",
        "DENIEDWATCH_SECRETS_ARN",
        "DENIEDWATCH_SLACK_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    webhook = SlackStandIn(httpserver)
    app = SlackApiStandIn(httpserver)
    teams = TeamsStandIn(httpserver)
    pd = PagerDutyStandIn(httpserver)
    config = tmp_path / "deniedwatch.toml"
    config.write_text(settings_text(app.api_url, pd.url))
    monkeypatch.setenv("DENIEDWATCH_CONFIG", str(config))
    monkeypatch.setenv("DENIEDWATCH_DEDUP_TABLE", create_dedup_table(unique_name("route")))
    monkeypatch.setenv("A_SLACK_URL", webhook.url)
    monkeypatch.setenv("B_SLACK_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("B_TEAMS_URL", teams.url)
    monkeypatch.setenv("ONCALL_PD_KEY", PD_KEY)
    fake = FakeTime()
    lambda_handler.reset()
    rt = lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2)
    monkeypatch.setattr(lambda_handler, "_runtime", rt)
    yield webhook, app, teams, pd
    lambda_handler.reset()


def said(line: str) -> str:
    """'account-a 111111111111 · mallory iam:PutRolePolicy' of a first line (issue 23's
    shape: account, region, then who denied what)."""
    m = re.match(r"\S+ (\S+) (\d{12}) \S+ · (\S+) denied (\S+)", line)
    assert m, line
    return f"{m[1]} {m[2]} · {m[3]} {m[4]}"


def headers(bodies) -> list[str]:
    return sorted(said(b["blocks"][0]["text"]["text"]) for b in bodies)


def card_titles(teams: TeamsStandIn) -> list[str]:
    return sorted(said(c["body"][0]["inlines"][0]["text"]) for c in teams.cards())


def test_each_destination_gets_exactly_what_its_routes_select(world, capsys):
    webhook, app, teams, pd = world
    lambda_handler.handler(
        subscription_payload(
            [
                read("alice", A),
                read("alice", A),
                iam_write("mallory", A),
                read("bob", B),
                iam_write("eve", B),
            ]
        ),
        None,
    )
    assert headers(webhook.bodies) == [
        f"account-a {A} · alice s3:GetObject",
        f"account-a {A} · mallory iam:PutRolePolicy",
    ]
    assert headers(app.parents()) == [
        f"account-b {B} · bob s3:GetObject",
        f"account-b {B} · eve iam:PutRolePolicy",
    ]
    assert card_titles(teams) == [
        f"account-b {B} · bob s3:GetObject",
        f"account-b {B} · eve iam:PutRolePolicy",
    ]
    paged = sorted(e["payload"]["summary"] for e in pd.events)
    assert len(paged) == 2
    assert paged[0].startswith(f"account-a {A} eu-west-1 · mallory denied iam:PutRolePolicy")
    assert paged[1].startswith(f"account-b {B} eu-west-1 · eve denied iam:PutRolePolicy")
    assert {e["payload"]["severity"] for e in pd.events} == {"critical"}
    # Metrics carry a destination dimension.
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    delivered = {m["destination"]: m["AlertsDelivered"] for m in emf if "destination" in m}
    assert delivered == {"a-slack": 2, "b-app": 2, "b-teams": 2, "oncall": 2}


def test_repeats_go_into_the_slack_thread_and_pagerduty_is_not_paged_twice(world):
    webhook, app, teams, pd = world
    lambda_handler.handler(subscription_payload([read("bob", B), iam_write("eve", B)]), None)
    (bob_ts,) = [ts for ts, m in app.messages.items() if "bob" in m["text"]]
    # Within the window: repeats are held for the webhook, Teams and PagerDuty ...
    lambda_handler.handler(subscription_payload([read("bob", B)] * 3), None)
    lambda_handler.handler(subscription_payload([read("bob", B), iam_write("eve", B)]), None)
    assert len(teams.bodies) == 2 and len(pd.events) == 1 and webhook.bodies == []
    # ... and go into the Slack app's thread as they arrive, each with the running count;
    # the parent people read is never edited (issue 20, item 2).
    parent = json.dumps(app.messages[bob_ts])
    replies = app.replies[bob_ts]
    assert [r["text"] for r in replies] == [
        "3 more denied calls: 2026-11-20T09:05:31Z",
        "1 more denied call: 2026-11-20T09:05:31Z",
    ]
    assert all(r["channel"] == "C0B" for r in replies)
    assert "*5 denied calls* in all" in json.dumps(replies[-1]["blocks"])
    assert json.dumps(app.messages[bob_ts]) == parent
    assert not [body for method, body in app.calls if method == "chat.update"]

    # After the window a new alert for eve's group goes out: a new window is a new
    # PagerDuty incident (an acknowledged old one must not swallow it: issue 20, item 9).
    rt = lambda_handler.runtime()
    later = subscription_payload([iam_write("eve", B)])
    lambda_handler.process(
        decode_invocation(later), rt, Metrics(write=lambda _: None), now=time.time() + 3700
    )
    incidents = pd.incidents()
    assert len(incidents) == 2 and [len(e) for e in incidents.values()] == [1, 1]
    assert all("· eve denied" in e["payload"]["summary"] for e in pd.events)


def test_a_failing_destination_does_not_stop_the_others_and_is_retried_alone(world):
    webhook, app, teams, pd = world
    teams.script = [status(500)] * 4  # the first post and its three retries
    payload = subscription_payload([read("carol", B), read("dan", B)])
    with pytest.raises(DeliveryError, match="b-teams"):
        lambda_handler.handler(payload, None)
    assert headers(app.parents()) == [
        f"account-b {B} · carol s3:GetObject",
        f"account-b {B} · dan s3:GetObject",
    ]
    assert teams.bodies == [] and teams.requests == 4  # dan was skipped: Teams is down

    lambda_handler.handler(payload, None)  # AWS retries the batch; Teams is back
    assert card_titles(teams) == [
        f"account-b {B} · carol s3:GetObject",
        f"account-b {B} · dan s3:GetObject",
    ]
    assert len(app.parents()) == 2  # the Slack app was not posted to again
    assert [m for m, _ in app.calls].count("chat.postMessage") == 2
    assert webhook.bodies == [] and pd.events == []


def test_over_the_budget_each_destination_gets_the_digest_of_its_own_alerts(
    world, monkeypatch, tmp_path
):
    """A flood from one key in account B: the budget's posts and the digest go only to
    B's destinations; the digest of the high-impact leftovers also pages."""
    webhook, app, teams, pd = world
    config = tmp_path / "deniedwatch.toml"
    config.write_text(
        config.read_text().replace(
            "dedup_window_minutes = 60",
            "dedup_window_minutes = 60\nmax_posts_per_batch = 4\nmax_posts_per_principal = 4",
        )
    )
    lambda_handler.reset()
    fake = FakeTime()
    monkeypatch.setattr(
        lambda_handler,
        "_runtime",
        lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2),
    )
    reads = [denial(user="mallory", account=B, event_name=f"GetThing{i}") for i in range(8)]
    # distinct actions: the message names each (the message's action is the Finding's)
    writes = [iam_write("mallory", B, f"PutRolePolicy{i}") for i in range(6)]
    result = lambda_handler.handler(subscription_payload(reads + writes), None)
    assert result["sent"] == 4 and result["digests"] == 1
    assert webhook.bodies == []
    app_posts = [body for method, body in app.calls if method == "chat.postMessage"]
    assert len(app_posts) == 5 and len(teams.bodies) == 5  # 4 alerts + 1 digest each
    digest = app_posts[-1]["blocks"][0]["text"]["text"]
    assert digest.startswith(f"🧾 account-b {B} eu-west-1 · mallory: 10 more denials of 10 actions")
    paged = [e for e in pd.events if e["payload"]["class"] != "digest"]
    digests = [e for e in pd.events if e["payload"]["class"] == "digest"]
    assert len(paged) == 4  # the four posts are the high-impact writes (posted first)
    (pd_digest,) = digests
    # Only the two high-impact leftovers are routed to PagerDuty: its digest counts them.
    assert pd_digest["payload"]["summary"].startswith(
        f"account-b {B} eu-west-1 · mallory: 2 more denials of 2 actions"
    )
    assert pd_digest["payload"]["severity"] == "critical"


def test_in_the_function_every_secret_comes_from_the_one_secret(
    world, monkeypatch, unique_name, capsys
):
    """DENIEDWATCH_SECRETS_ARN (moto) holds every destination's secret; url_env is unset."""
    import boto3

    from deniedwatch import secrets

    webhook, app, teams, pd = world
    arn = boto3.client("secretsmanager").create_secret(
        Name=unique_name("dests"),
        SecretString=json.dumps(
            {"a-slack": webhook.url, "b-app": BOT_TOKEN, "b-teams": teams.url, "oncall": PD_KEY}
        ),
    )["ARN"]
    for name in ("A_SLACK_URL", "B_SLACK_TOKEN", "B_TEAMS_URL", "ONCALL_PD_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv(secrets.ENV_SECRETS_ARN, arn)
    secrets.forget()
    lambda_handler.handler(
        subscription_payload([read("alice", A), iam_write("eve", B), read("bob", B)]), None
    )
    assert len(webhook.bodies) == 1 and len(app.parents()) == 2
    assert len(teams.bodies) == 2 and len(pd.events) == 1
    out = capsys.readouterr().out
    for secret in (BOT_TOKEN, PD_KEY, "aTeamsSignatureSecret", "aSecretWebhookToken"):
        assert secret not in out
