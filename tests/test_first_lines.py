"""What a person reads first: each destination's first line / subject / title / summary.

For a single denial, a grouped alert, a digest, a window summary, a threaded parent and
a data event, every destination (Slack webhook text and header, the Slack app's updated
parent, the Teams title, the PagerDuty summary, the email subject) must start with the
account and keep the person, the action, the resource's short name and the reason whole
(issue 23). The texts are the renderers' real output; nothing here is rebuilt by hand.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.channels import pagerduty, teams
from deniedwatch.alerts.dedup import MemoryStore
from deniedwatch.alerts.email import body, digest_body, digest_subject, subject
from deniedwatch.alerts.group import LogLocation, group_findings
from deniedwatch.alerts.slack import render, render_digest, render_repeat
from deniedwatch.alerts.window import Delivery, HeldGroup
from deniedwatch.finding import Finding
from live_support import ACCOUNT, session_denial

ROLE = "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6789"
PERSON = "alice.longname@example-corp.com"
OBJECT = "arn:aws:s3:::prod-customer-exports/exports/2026/11/20/tenant-0042/batch/part-0049.csv"
SCP = "arn:aws:organizations::999988887777:policy/o-abc123/service_control_policy/p-deny"
MESSAGE = (
    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{PERSON} is not authorized to perform: "
    f's3:GetObject on resource: "{OBJECT}" with an explicit deny in a service control '
    f"policy: {SCP}"
)
LABEL = "prod"
REGION = "eu-west-1"
WHERE = f"{LABEL} {ACCOUNT} {REGION}"


def _record(time: str = "2026-11-20T09:05:31Z", **extra: Any) -> dict[str, Any]:
    extra.setdefault("message", MESSAGE)
    record = session_denial(ROLE, PERSON, time=time, **extra)
    record["resources"] = [{"ARN": OBJECT, "type": "AWS::S3::Object"}]
    return record


def _alerts(records: list[dict[str, Any]], log: LogLocation | None = None) -> list[Any]:
    findings = [Finding.from_record(r) for r in records]
    return group_findings(findings, label=lambda a: LABEL if a == ACCOUNT else None, log=log)


def single() -> Any:
    (alert,) = _alerts([_record()])
    return alert


def grouped() -> Any:
    times = [f"2026-11-20T09:{m:02d}:31Z" for m in range(5, 50)]
    (alert,) = _alerts([_record(time=t) for t in times])
    return alert


def data_event() -> Any:
    log = LogLocation(REGION, "aws-cloudtrail-logs-111122223333", "111122223333_CloudTrail")
    (alert,) = _alerts([_record(eventCategory="Data", managementEvent=False)], log=log)
    return alert


def budget_digest() -> Digest:
    actions = ["GetObject", "PutObject", "DeleteObject"]
    records = [_record(event_name=a, message=None) for a in actions for _ in range(3)]
    return Digest("caller", tuple(_alerts(records)), "budget")


def window_summary() -> Digest:
    """A real store: an alert, 45 held repeats, the window closes, the flush's digest."""
    store = MemoryStore(window_seconds=3600)
    first = single()
    store.admit(first, batch="b1", now=0.0)
    store.delivered(first, Delivery("b1", ("slack",), complete=True, now=0.0))
    times = [f"2026-11-20T09:{m:02d}:31Z" for m in range(6, 51)]
    (repeats,) = _alerts([_record(time=t) for t in times])
    assert not store.admit(repeats, batch="b2", now=60.0).post
    groups: list[HeldGroup] = store.held_groups(closed_by=4000.0)
    return Digest("caller", tuple(g.as_alert() for g in groups), "window")


def threaded_reply() -> dict[str, Any]:
    """The Slack app's reply after 137 repeats, with the store's story (the parent is
    never edited, issue 20: it keeps the first alert's line, time and event link)."""
    store = MemoryStore(window_seconds=3600)
    first = single()
    store.admit(first, batch="b1", now=0.0)
    store.delivered(first, Delivery("b1", ("app",), complete=True, now=0.0))
    times = [f"2026-11-20T{9 + m // 60:02d}:{m % 60:02d}:11Z" for m in range(6, 63)]
    repeats = single()
    (repeats,) = _alerts([_record(time=t) for t in times])
    repeats = replace(repeats, count=137)
    decision = store.admit(repeats, batch="b2", now=60.0)
    from deniedwatch.alerts.deliver import story_of

    return render_repeat(repeats, story_of(decision))


def _alert_lines(alert: Any) -> dict[str, str]:
    slack = render(alert, window_minutes=60)
    card = teams.render(alert, window_minutes=60)["attachments"][0]["content"]
    pd = pagerduty.render(alert, routing_key="k" * 32, severity="high")
    return {
        "slack text": slack["text"],
        "slack header": slack["blocks"][0]["text"]["text"],
        "teams title": card["body"][0]["inlines"][0]["text"],
        "pagerduty summary": pd["payload"]["summary"],
        "email subject": subject(alert),
    }


def _digest_lines(digest: Digest) -> dict[str, str]:
    slack = render_digest(digest)
    card = teams.render_digest(digest)["attachments"][0]["content"]
    pd = pagerduty.render_digest(digest, routing_key="k" * 32, severity="high")
    return {
        "slack text": slack["text"],
        "slack header": slack["blocks"][0]["text"]["text"],
        "teams title": card["body"][0]["inlines"][0]["text"],
        "pagerduty summary": pd["payload"]["summary"],
        "email subject": digest_subject(digest),
    }


def _after_marker(text: str) -> str:
    for prefix in ("🚫 ", "🧾 ", "⏳ ", "[deniedwatch] "):
        text = text.removeprefix(prefix)
    return text


@pytest.mark.parametrize("make", [single, grouped, data_event], ids=lambda f: f.__name__)
def test_alert_first_lines_lead_with_where_then_who_what_on_what_and_why(make: Any) -> None:
    for where, text in _alert_lines(make()).items():
        shown = _after_marker(text)
        if where == "email subject":  # 99 characters: account, person, action (the rest goes)
            assert shown.startswith(f"{LABEL} {ACCOUNT} · {PERSON} denied s3:GetObject")
            continue
        assert shown.startswith(WHERE + " · "), (where, text)
        # the person before the permission set, the action, the object's name, the reason
        assert f"{PERSON} (AdministratorAccess) denied s3:GetObject on " in shown, (where, text)
        assert "part-0049.csv" in shown, (where, text)  # the ARN is cut in the middle
        assert "explicit deny in SCP" in shown, (where, text)
        assert "…" not in shown.split(" on ")[0], (where, text)  # nothing identifying cut


def test_email_subject_fits_sns_and_keeps_account_person_action() -> None:
    for alert in (single(), grouped(), data_event()):
        s = subject(alert)
        assert len(s) < 100 and "\n" not in s  # SNS: UTF-8, no line breaks, < 100 characters
        assert s.startswith(f"[deniedwatch] {LABEL} {ACCOUNT} · {PERSON} denied s3:GetObject")


def test_non_ascii_subjects_stay_utf8() -> None:
    (alert,) = _alerts([_record()])
    alert = replace(alert, sample=replace(alert.sample, principal_name="renée"))
    assert "renée" in subject(alert) and "?" not in subject(alert)


def test_pagerduty_summary_has_no_count_and_details_carry_it() -> None:
    for alert in (single(), grouped()):
        pd = pagerduty.render(alert, routing_key="k" * 32, severity="high")["payload"]
        assert "once" not in pd["summary"] and "times" not in pd["summary"]
        assert "45" not in pd["summary"] and "denied calls" not in pd["summary"]
        assert pd["custom_details"]["Count"] == alert.count


def test_grouped_alert_count_follows_the_identifying_part_in_slack() -> None:
    text = _alert_lines(grouped())["slack text"]
    assert text.endswith("· 45 denied calls")


def test_email_shows_arns_and_addresses_exactly() -> None:
    text = body(single(), window_minutes=60)
    assert OBJECT in text and SCP in text and PERSON in text
    assert "[.]" not in text.split("LINKS")[0].replace("hxxp", "")


def test_email_still_defangs_urls_and_hosts_from_record_text() -> None:
    (alert,) = _alerts([_record(userAgent="see https://evil.example/x or signin.evil.example")])
    text = body(alert)
    assert "hxxps://evil[.]example/x" in text and "signin[.]evil[.]example" in text


@pytest.mark.parametrize("make", [budget_digest, window_summary], ids=lambda f: f.__name__)
def test_digest_first_lines_lead_with_account_and_person(make: Any) -> None:
    digest = make()
    for where, text in _digest_lines(digest).items():
        shown = _after_marker(text)
        assert shown.startswith(f"{LABEL} {ACCOUNT}"), (where, text)
        assert f" · {PERSON}" in shown and " more " in shown, (where, text)
        if where != "email subject":  # 99 characters: the time range may go
            assert "UTC" in shown, (where, text)  # a time range
        if where not in ("email subject", "slack header"):  # 150: the region goes first
            assert shown.startswith(f"{LABEL} {ACCOUNT} {REGION} · {PERSON}"), (where, text)
        assert "held denied calls" not in shown and "never announced" not in shown


def test_window_summary_says_how_many_of_what_when_and_after_what() -> None:
    assert wording.digest_headline(window_summary()) == (
        f"{WHERE} · {PERSON} (AdministratorAccess): 45 more s3:GetObject denials "
        "09:06–09:50 UTC after the last alert"
    )


def test_budget_digest_counts_actions_and_services() -> None:
    line = wording.digest_headline(budget_digest())
    assert ": 9 more denials of 3 actions in 1 service 09:05 UTC" in line


@pytest.mark.parametrize("make", [budget_digest, window_summary], ids=lambda f: f.__name__)
def test_digests_link_to_event_history_of_the_user(make: Any) -> None:
    digest = make()
    (link,) = wording.digest_links(digest)
    assert link.url.startswith(f"https://{REGION}.console.aws.amazon.com/cloudtrailv2/home")
    assert link.url.endswith("#/events?Username=alice.longname@example-corp.com")
    assert any(link.url in t for t in _texts(render_digest(digest)))
    assert link.url in digest_body(digest)


def _texts(payload: dict[str, Any]) -> list[str]:
    return [str(b) for b in payload["blocks"]]


def test_threaded_parent_keeps_its_line_and_the_replies_tell_the_whole_story() -> None:
    parent = render(single(), window_minutes=60)  # posted once, never edited
    assert _after_marker(parent["text"]).startswith(WHERE + " · " + PERSON)
    assert "Open the event in CloudTrail" in json.dumps(parent)
    reply = threaded_reply()
    line = reply["blocks"][0]["text"]["text"]
    assert "*137 more denied calls*" in line
    assert "*138 denied calls* in all, `09:05:31 → 10:02:11 UTC`" in line
    assert reply["text"].startswith("137 more denied calls")


def test_data_event_first_link_finds_the_event_in_the_log_group() -> None:
    alert = data_event()
    first, *rest = wording.links(alert)
    assert first.label == "Find the event in the trail's log group"
    assert "logs-insights" in first.url and "aws-cloudtrail-logs-111122223333" in first.url
    assert alert.sample.event_id.replace("-", "*2d") in first.url or (
        alert.sample.event_id in first.url
    )
    assert rest[0].label == "Open the event in CloudTrail" and rest[0].note


def test_management_event_keeps_event_history_first() -> None:
    assert wording.links(single())[0].label == "Open the event in CloudTrail"


def test_forged_event_id_makes_no_insights_link() -> None:
    log = LogLocation(REGION, "group", "stream")
    (alert,) = _alerts([_record(eventCategory="Data", eventID='x" | delete')], log=log)
    assert wording.links(alert)[0].label == "Open the event in CloudTrail"


def test_teams_cuts_long_arns_in_the_middle() -> None:
    long = "arn:aws:s3:::bucket/" + "/".join(f"dir{i:03d}" for i in range(120)) + "/file.csv"
    record = _record(message=None)
    record["resources"] = [{"ARN": long}]
    (alert,) = _alerts([record])
    card = str(teams.render(alert))
    assert "/file.csv" in card and "arn:aws:s3:::bucket/" in card


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1), st.text(), st.integers(20, 400))
def test_any_first_line_fits_its_limit_and_keeps_the_account(user: str, resource: str, limit: int):
    record = _record(message=None)
    record["userIdentity"] = {"type": "IAMUser", "userName": user, "accountId": ACCOUNT}
    record["resources"] = [{"ARN": resource}] if resource else []
    (alert,) = _alerts([record])
    line = wording.headline(alert, limit, wording.count_tail(7))
    assert wording.width(line) <= limit
    assert line.startswith(f"{LABEL} {ACCOUNT}")
