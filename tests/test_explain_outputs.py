"""Every output shows the explanation's fields: denial_policy_arn, vpc_endpoint_id, hint
(and the Event-history note): jsonl, json, csv, the table, Slack and email."""

from __future__ import annotations

import csv
import io
import json

from blockkit_limits import limit_problems
from deniedwatch import report, termview
from deniedwatch.alerts.email import body
from deniedwatch.alerts.group import group_findings
from deniedwatch.alerts.slack import render
from deniedwatch.finding import Finding, with_history_note
from live_support import denial, mrkdwn_texts

SCP = "arn:aws:organizations::111122223333:policy/o-a1b2c3d4e5/service_control_policy/p-ab12"
VPCE = "vpce-0a1b2c3d4e5f67890"
MESSAGE = (
    "User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: kms:Decrypt "
    f"with an explicit deny in a service control policy: {SCP} (via {VPCE})"
)
NEW_FIELDS = ("denial_policy_arn", "vpc_endpoint_id", "hint")


def finding() -> Finding:
    rec = denial(
        source="kms.amazonaws.com",
        event_name="Decrypt",
        message=MESSAGE,
        eventCategory="NetworkActivity",
        vpcEndpointId=VPCE,
    )
    f = Finding.from_record(rec)
    assert (f.denial_policy_arn, f.vpc_endpoint_id) == (SCP, VPCE) and f.hint
    return f


def test_jsonl_json_and_csv_carry_the_fields() -> None:
    f = finding()
    out = io.StringIO()
    report.write_jsonl([f], out)
    line = json.loads(out.getvalue())
    out = io.StringIO()
    report.write_json([f], out)
    (whole,) = json.loads(out.getvalue())
    out = io.StringIO()
    report.write_csv([f], out)
    (row,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    for name in (*NEW_FIELDS, "console_note"):
        assert line[name] == whole[name] == row[name] == getattr(f, name)


def test_table_shows_policy_arn_endpoint_hint_and_note() -> None:
    f = finding()
    wide = termview.render([f], {}, 250, group=False)  # one row per finding
    assert f"endpoint: {VPCE}" in wide and "policy: arn:aws:organizations::" in wide
    text = termview.render([f], {}, 60, group=False)  # one block per finding
    compact = "".join(text.split())  # a block's folding only adds line breaks and indents
    # the hint once, in the legend under the blocks, its action said generally
    hint = termview.legend_hint(f) or ""
    assert "the action" in hint and "[1]" in text
    for part in (SCP, VPCE, hint, "not in Event history", "explicit deny in"):
        assert "".join(part.split()) in compact, part


def test_old_events_say_event_history_no_longer_has_them() -> None:
    from datetime import UTC, datetime

    f = Finding.from_record(denial(message="Access Denied", time="2026-01-01T00:00:00Z"))
    assert f.console_note is None
    now = datetime(2026, 11, 29, tzinfo=UTC).timestamp()
    old = with_history_note(f, now)
    assert old.console_note is not None and "older than 90 days" in old.console_note
    assert with_history_note(f, datetime(2026, 1, 2, tzinfo=UTC).timestamp()) is f


def test_slack_shows_policy_arn_endpoint_hint_and_note() -> None:
    (alert,) = group_findings([finding()])
    payload = render(alert)
    assert limit_problems(payload) == []
    text = "\n".join(mrkdwn_texts(payload))
    assert f"*Denying policy* `{SCP}`" in text
    assert f"*VPC endpoint* `{VPCE}`" in text
    assert "*Next step* `Open the service control policy (SCP)" in text
    assert "not in Event history (a network activity event)" in text


def test_email_shows_policy_arn_endpoint_hint_and_note() -> None:
    (alert,) = group_findings([finding()])
    text = body(alert)
    assert f"Denying policy:   {SCP}" in text
    assert f"VPC endpoint:     {VPCE}" in text
    assert "Next step:        Open the service control policy (SCP)" in text
    assert "Note:             not in Event history" in text
