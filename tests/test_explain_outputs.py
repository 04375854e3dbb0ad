"""Every output shows the explanation's fields: denial_policy_arn, vpc_endpoint_id, hint
(and the Event-history note): jsonl, json, csv, the table, Slack and email."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console

from blockkit_limits import limit_problems
from deniedwatch import report
from deniedwatch.alerts import wording
from deniedwatch.alerts.email import body
from deniedwatch.alerts.group import group_findings
from deniedwatch.alerts.slack import render
from deniedwatch.finding import Finding, history_note
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


def _table_text(f: Finding) -> str:
    console = Console(width=250, file=io.StringIO())
    console.print(report.table([f], {}))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_table_shows_policy_arn_endpoint_and_note() -> None:
    f = finding()
    cell = wording.why_details(f, history_note(f, None))
    assert cell.splitlines() == [
        "explicit deny in service control policy (SCP)",
        SCP,
        VPCE,
        "not in Event history (a network activity event): see the trail's log files or log group",
    ]
    text = _table_text(f)  # the cell folds long lines: look for the short ones
    assert VPCE in text and "explicit deny in" in text


def test_table_shows_the_hint_where_no_policy_is_named() -> None:
    f = Finding.from_record(denial(message="Access Denied"))
    assert wording.why_details(f) == f"→ {f.hint}"
    assert "→ The message does not" in _table_text(f)


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
