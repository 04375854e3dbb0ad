"""Block Kit rendering: pure, no server. Record text must stay plain text within limits."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit_limits import limit_problems
from deniedwatch.alerts.group import LogLocation, group_findings
from deniedwatch.alerts.retry import retry_after_seconds
from deniedwatch.alerts.slack import (
    FIELD_TEXT_MAX,
    HEADER_MAX,
    SECTION_TEXT_MAX,
    render,
)
from deniedwatch.alerts.text import clean, escape_mrkdwn, literal, width
from deniedwatch.finding import Finding
from live_support import denial, mrkdwn_texts

EVIL = (
    "<!channel> <!here> <!everyone> <@U0123ABCD> <#C0123|general> <!subteam^S0123|@sec> "
    "<http://evil.example|login> <https://evil.example> *bold* _it_ ~strike~ `code` ```block``` "
    "&amp; &lt; :skull: \n> forged quote\u202eevil"
)
# Our own links: the only `<...>` sequences allowed in mrkdwn.
OUR_LINK = re.compile(r"<https://[a-z0-9-]+\.console\.aws\.amazon\.com/[^<>|\s]*\|[^<>]*>")


def evil_alert(big: int = 1):
    record = denial(
        user="<!channel>" + "`*" * big,
        user_agent=EVIL * big,
        message=EVIL * big,
        requestParameters={"key": EVIL},
        eventID="5b0d6c3e-8f1a-4c2b-9d7e-3a6f1e2b4c80",
    )
    record["userIdentity"]["arn"] = "arn:aws:sts::111122223333:assumed-role/r/<!here>"
    record["userIdentity"]["type"] = "AssumedRole"
    return group_findings(
        [Finding.from_record(record)],
        label=lambda _: "<!subteam^S1> prod",
        log=LogLocation("eu-west-1", "<!channel>", "<@U123>|x"),
    )[0]


def assert_plain(payload: dict) -> None:
    """No mrkdwn text can ping or link: every `<` is escaped except our own links."""
    assert limit_problems(payload) == []
    for text in mrkdwn_texts(payload):
        stripped = OUR_LINK.sub("", text)
        assert "<" not in stripped and ">" not in stripped.replace("\n>", "\n"), text
    header = payload["blocks"][0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"


def test_sample_alert_has_who_what_why_where_when_and_links():
    payload = render(evil_alert().with_held_back(0), slack_channel="#sec", window_minutes=60)
    types = [b["type"] for b in payload["blocks"]]
    assert types == ["header", "section", "section", "section", "section", "section", "context"]
    labels = [f["text"].split("\n")[0] for f in payload["blocks"][2]["fields"]]
    assert labels == [
        "*Who*",
        "*Principal type*",
        "*Principal ARN*",
        "*What*",
        "*Error code*",
        "*Why*",
        "*Resource*",
        "*Where (account / region)*",
        "*Source IP*",
        "*User agent*",
    ]
    details = payload["blocks"][4]["text"]["text"]
    assert details.startswith("*Next step* `")  # the message names no policy
    links = payload["blocks"][5]["text"]["text"]
    assert "|Open the event in CloudTrail>" in links and "|Log stream>" in links


def test_injection_strings_render_as_plain_text():
    payload = render(evil_alert(), slack_channel="<!channel>", window_minutes=60)
    assert_plain(payload)
    raw = json.dumps(payload)
    mrkdwn = "\n".join(mrkdwn_texts(payload))
    for ping in ("<!channel>", "<!here>", "<@U0123ABCD>", "<!subteam^", "<http://evil"):
        assert ping not in mrkdwn
    # plain_text (the header) is never parsed by Slack: the name shows as typed
    assert " · r/<!here> denied " in payload["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt;" in raw and "&lt;http://evil.example|login&gt;" in raw
    assert "\u202e" not in raw and "\\u202e" in raw  # bidi override shown, not applied
    # the record's text sits inside code spans: no backtick of its own survives
    ua = payload["blocks"][2]["fields"][9]["text"].split("\n", 1)[1]
    assert ua.startswith("`") and ua.endswith("`") and "`" not in ua[1:-1]


def test_very_long_strings_are_cut_to_block_kit_limits():
    payload = render(evil_alert(big=400), slack_channel="x" * 5000, window_minutes=60)
    assert_plain(payload)
    assert width(payload["blocks"][0]["text"]["text"]) <= HEADER_MAX
    for f in payload["blocks"][2]["fields"]:
        assert width(f["text"]) <= FIELD_TEXT_MAX
    assert "…" in payload["blocks"][3]["text"]["text"]


def test_held_back_count_is_said():
    payload = render(evil_alert().with_held_back(41), window_minutes=60)
    assert "41 similar denials held back" in payload["blocks"][1]["text"]["text"]


def test_literal_never_breaks_an_escape_and_respects_the_limit():
    for limit in range(3, 40):
        out = literal("&<>" * 50, limit)
        assert width(out) <= limit
        assert re.fullmatch(r"`(&amp;|&lt;|&gt;)*…?`", out), out


def test_escape_and_clean():
    assert escape_mrkdwn("<a & b>") == "&lt;a &amp; b&gt;"
    assert clean("a\nb\r\x00\u2066") == "a\\nb\\r\\x00\\u2066"


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text(max_size=5000))
def test_any_text_renders_within_limits_and_plain(user, agent, message):
    record = denial(user=user or "u", user_agent=agent, message=message)
    payload = render(group_findings([Finding.from_record(record)])[0], window_minutes=60)
    assert_plain(payload)
    assert all(width(b["text"]["text"]) <= SECTION_TEXT_MAX for b in payload["blocks"][1:2])


def test_retry_after_seconds_and_http_dates():
    now = 1_795_770_331.0  # Thu, 26 Nov 2026 ...
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(" 1.5 ", now) == 1.5
    date = "Thu, 26 Nov 2026 06:25:51 GMT"
    from email.utils import parsedate_to_datetime

    expected = parsedate_to_datetime(date).timestamp() - now
    assert retry_after_seconds(date, now) == expected
    for junk in (None, "", "soon", "-3", "Thu, 99 Nov 2026 99:99:99 GMT"):
        assert retry_after_seconds(junk, now) is None
