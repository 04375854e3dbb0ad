"""The SNS email: pure rendering (the SNS publish itself is tested with moto in
test_lambda_handler.py)."""

from __future__ import annotations

from deniedwatch.alerts.email import body, subject
from deniedwatch.alerts.group import LogLocation
from live_support import alert_of


def alert(**kw):
    log = LogLocation("eu-west-1", "trail-logs", "stream")
    return alert_of(3, label={"111122223333": "prod"}.get, log=log, **kw)


def test_subject_is_short_ascii_one_line_and_says_what_and_who():
    s = subject(alert().with_held_back(4))
    assert s == (
        "[deniedwatch] prod 111122223333 eu-west-1 · mallory denied s3:GetObject "
        "on prod-exports/a.csv"
    )
    evil = subject(alert(user="é\n\r\u202e" + "x" * 500))
    # SNS: UTF-8, no line breaks or control characters, under 100 characters
    assert len(evil) < 100 and "\n" not in evil and "\r" not in evil and "\u202e" not in evil
    assert evil.startswith("[deniedwatch] prod 111122223333 · é")


def test_body_has_who_what_why_where_when_and_links():
    text = body(alert().with_held_back(4), window_minutes=60)
    for part in (
        "WHO",
        "WHAT",
        "WHY",
        "WHERE",
        "WHEN (UTC)",
        "LINKS",
        "mallory",
        "s3:GetObject",
        "identity-based policy",
        "111122223333 (prod)",
        "eu-west-1",
        "203.0.113.47",
        "Plus 4 similar denials held back",
        "cloudtrailv2",
        "logsV2:log-groups",
    ):
        assert part in text


def test_record_text_cannot_forge_lines():
    text = body(alert(user_agent="curl\n\nWHY\n  Denied by: nothing, all fine", message="a\r\nb"))
    assert "\n\nWHY\n  Denied by: nothing" not in text
    assert "curl\\n\\nWHY" in text and "a\\r\\nb" in text
