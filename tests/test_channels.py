"""Slack app, Teams and PagerDuty channels against their loopback stand-ins.

Waits go through a fake clock: the tests check which waits were asked for
(Retry-After honoured, backoff on 5xx), never how long anything took.
"""

from __future__ import annotations

import json
import re

import pytest

from deniedwatch import secrets
from deniedwatch.alerts.channels.base import Context, DeliveryFailed, ThreadRef
from deniedwatch.alerts.channels.pagerduty import PagerDutyChannel, dedup_key
from deniedwatch.alerts.channels.slack_app import SlackAppChannel
from deniedwatch.alerts.channels.teams import TeamsChannel
from deniedwatch.alerts.retry import MAX_RETRIES
from deniedwatch.alerts.wording import Story
from live_support import FakeTime, alert_of, status
from standins import (
    BOT_TOKEN,
    PD_KEY,
    TEAMS_QUERY,
    PagerDutyStandIn,
    SlackApiStandIn,
    TeamsStandIn,
)


def ctx(secret: str, fake: FakeTime, forgot: list | None = None, level: str = "high") -> Context:
    return Context(
        secret=lambda: secret,
        forget_secret=(lambda: forgot.append(1)) if forgot is not None else (lambda: None),
        sleep=fake.sleep,
        clock=fake.monotonic,
        now=fake.time,
        timeout=2,
        window_minutes=60,
        severity=lambda _f: level,
    )


def alert(user: str = "mallory", count: int = 1):
    return alert_of(count, user=user)


# --- Slack app ---------------------------------------------------------------


def test_slack_app_posts_then_threads_repeats_with_the_count_and_never_edits(httpserver, fake):
    api = SlackApiStandIn(httpserver)
    ch = SlackAppChannel("b-app", "C0B", api.api_url, ctx(BOT_TOKEN, fake))
    ref = ch.send(alert())
    assert ref == ThreadRef("C0B", next(iter(api.messages)))
    parent = json.dumps(api.messages[ref.ts])
    story = Story(5, "2026-11-20T09:01:00Z", "2026-11-20T09:05:31Z", "https://x.example/first")
    ch.reply(alert(count=4), ref, story)
    (reply,) = api.replies[ref.ts]
    assert reply["thread_ts"] == ref.ts and "reply_broadcast" not in reply
    assert reply["text"].startswith("4 more denied calls")
    # the reply tells the group's story: every denial so far, since the first alert
    assert "*5 denied calls* in all" in str(reply["blocks"])
    assert "09:01:00 → 09:05:31 UTC" in str(reply["blocks"])
    assert json.dumps(api.messages[ref.ts]) == parent  # the parent people read is unchanged
    assert [m for m, _ in api.calls].count("chat.update") == 0
    assert api.tokens == {f"Bearer {BOT_TOKEN}"}


def test_slack_app_honours_retry_after(httpserver, fake):
    api = SlackApiStandIn(httpserver, [status(429, "ratelimited", {"Retry-After": "7"})])
    SlackAppChannel("b-app", "C0B", api.api_url, ctx(BOT_TOKEN, fake)).send(alert())
    assert fake.sleeps == [7.0] and len(api.messages) == 1


def test_slack_app_revoked_token_fails_and_forgets_the_secret(httpserver, fake):
    api = SlackApiStandIn(httpserver)
    forgot: list = []
    ch = SlackAppChannel("b-app", "C0B", api.api_url, ctx("xoxb-revoked", fake, forgot))
    with pytest.raises(DeliveryFailed, match="invalid_auth") as failure:
        ch.send(alert())
    assert forgot == [1] and "xoxb-revoked" not in str(failure.value)


# --- Teams -------------------------------------------------------------------


def test_teams_posts_an_adaptive_card(httpserver, fake):
    teams = TeamsStandIn(httpserver)
    TeamsChannel("t", ctx(teams.url, fake)).send(alert())
    (card,) = teams.cards()
    assert card["type"] == "AdaptiveCard" and card["body"][0]["type"] == "RichTextBlock"
    runs = [i["text"] for b in card["body"] if b["type"] == "RichTextBlock" for i in b["inlines"]]
    assert (
        "🚫 111122223333 eu-west-1 · mallory denied s3:GetObject on prod-exports/a.csv "
        "· no allow in identity policy"
    ) in runs
    assert any(
        a["url"].startswith("https://eu-west-1.console.aws.amazon.com") for a in card["actions"]
    )


def test_teams_retries_429_and_5xx_then_fails_without_the_signature(httpserver, fake):
    teams = TeamsStandIn(httpserver, [status(429, "slow down", {"Retry-After": "4"})])
    TeamsChannel("t", ctx(teams.url, fake)).send(alert())
    assert fake.sleeps == [4.0] and len(teams.bodies) == 1

    httpserver.clear()
    down = TeamsStandIn(httpserver, [status(502, f"bad gateway {TEAMS_QUERY}")] * 9)
    with pytest.raises(DeliveryFailed, match="HTTP 502") as failure:
        TeamsChannel("t", ctx(down.url, fake)).send(alert())
    assert down.requests == 1 + MAX_RETRIES
    assert "aTeamsSignatureSecret" not in str(failure.value)


def test_teams_404_is_not_retried_and_forgets_the_url(httpserver, fake):
    teams = TeamsStandIn(httpserver, [status(404, "flow not found")])
    forgot: list = []
    with pytest.raises(DeliveryFailed, match="HTTP 404"):
        TeamsChannel("t", ctx(teams.url, fake, forgot)).send(alert())
    assert teams.requests == 1 and forgot == [1]


# --- PagerDuty ---------------------------------------------------------------


def test_pagerduty_triggers_with_a_stable_dedup_key_and_mapped_severity(httpserver, fake):
    pd = PagerDutyStandIn(httpserver)
    PagerDutyChannel("pd", pd.url, ctx(PD_KEY, fake, level="high")).send(alert(count=2))
    PagerDutyChannel("pd", pd.url, ctx(PD_KEY, fake, level="low")).send(alert(count=9))
    PagerDutyChannel("pd", pd.url, ctx(PD_KEY, fake)).send(alert(user="eve"))
    first, again, other = pd.events
    assert first["dedup_key"] == dedup_key(alert(), severity="high")
    assert again["dedup_key"] == dedup_key(alert(), severity="low") != first["dedup_key"]
    assert other["dedup_key"] != first["dedup_key"]
    assert (first["payload"]["severity"], again["payload"]["severity"]) == ("critical", "warning")
    assert first["event_action"] == "trigger" and first["payload"]["group"] == "111122223333"
    assert first["payload"]["custom_details"]["Who"] == "mallory"
    assert first["links"][0]["href"].startswith("https://eu-west-1.console.aws.amazon.com")


def test_pagerduty_retries_only_what_is_worth_retrying(httpserver, fake):
    pd = PagerDutyStandIn(httpserver, [status(429, "throttled"), status(500)])
    PagerDutyChannel("pd", pd.url, ctx(PD_KEY, fake)).send(alert())
    # 429 without Retry-After: PagerDuty asks for 30 s between tries; 5xx: backoff
    assert len(pd.events) == 1 and fake.sleeps == [30.0, 2.0]

    httpserver.clear()
    wrong = PagerDutyStandIn(httpserver)
    secrets.remember("WRONGKEYWRONGKEYWRONGKEYWRONGKEY")
    with pytest.raises(DeliveryFailed, match="HTTP 400") as failure:
        PagerDutyChannel("pd", wrong.url, ctx("WRONGKEYWRONGKEYWRONGKEYWRONGKEY", fake)).send(
            alert()
        )
    assert wrong.requests == 1 and "WRONGKEY" not in str(failure.value)


def test_teams_and_pagerduty_carry_the_explanation_and_the_console_note() -> None:
    """The rows and link notes of the shared wording reach every renderer, not only Slack."""
    from deniedwatch.alerts import wording
    from deniedwatch.alerts.channels.pagerduty import render as pd_render
    from deniedwatch.alerts.channels.teams import render as teams_render

    a = alert_of(
        eventCategory="Data",
        message="User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: "
        "s3:GetObject on resource: arn:aws:s3:::prod-exports/a.csv with an explicit deny in a "
        "service control policy: arn:aws:organizations::999988887777:policy/o-abc/"
        "service_control_policy/p-deny1234",
    )
    explained = {label: v for label, v in wording.explanation(a.sample) if v}
    (note,) = [x.note for x in wording.links(a) if x.note]
    assert explained and note
    card = teams_render(a)["attachments"][0]["content"]
    text = json.dumps(card, ensure_ascii=False)
    runs = re.findall(r'"type": "TextRun", "text": "([^"]*)"', text)
    labels = re.findall(r'"type": "TextBlock", "text": "([^"]*)"', text)
    for label, value in explained.items():
        assert label in labels and any(value in r for r in runs)
    assert any(note in r for r in runs)
    details = pd_render(a, routing_key="k" * 32, severity="medium")["payload"]["custom_details"]
    for label, value in explained.items():
        assert details[label] == value
    assert note in details.values()
