"""Findings -> alerts: pure grouping, no server."""

from __future__ import annotations

from deniedwatch.alerts.group import GroupKey, LogLocation, group_findings
from deniedwatch.finding import Finding
from live_support import denial


def findings(*records: dict) -> list[Finding]:
    return [Finding.from_record(r) for r in records]


def test_groups_by_account_principal_action_and_code_with_counts_and_times():
    fs = findings(
        denial(user="a", time="2026-11-20T09:00:02Z"),
        denial(user="a", time="2026-11-20T09:00:01Z"),
        denial(user="a", time="2026-11-20T09:00:03Z", region="us-east-1"),
        denial(user="b"),
        denial(user="a", event_name="PutObject"),
        denial(user="a", code="AccessDeniedException"),
        denial(user="a", account="444455556666"),
    )
    alerts = group_findings(fs, label={"111122223333": "prod"}.get)
    assert len(alerts) == 5
    a = next(x for x in alerts if x.count == 3)
    assert a.key == GroupKey(
        "111122223333", "arn:aws:iam::111122223333:user/a", "s3:GetObject", "AccessDenied"
    )
    assert (a.first_time, a.last_time) == ("2026-11-20T09:00:01Z", "2026-11-20T09:00:03Z")
    assert a.sample.event_time == "2026-11-20T09:00:03Z"  # the latest is shown
    assert a.variety["region"] == 2 and a.variety["source_ip"] == 1
    assert a.account_label == "prod"
    assert sum(x.count for x in alerts) == len(fs)


def test_examples_are_capped_earliest_first_and_distinct():
    fs = findings(*[denial(time=f"2026-11-20T09:00:{s:02d}Z") for s in range(9, -1, -1)])
    fs.append(fs[0])  # the same event twice (an AWS redelivery)
    (alert,) = group_findings(fs, max_examples=3)
    assert alert.count == 11
    assert [e.event_time for e in alert.examples] == [
        "2026-11-20T09:00:00Z",
        "2026-11-20T09:00:01Z",
        "2026-11-20T09:00:02Z",
    ]


def test_digest_is_stable_short_and_distinct():
    k1 = GroupKey("1", "arn", "s3:GetObject", "AccessDenied")
    k2 = GroupKey("1", "arn", "s3:GetObject", "AccessDeniedException")
    assert k1.digest() == GroupKey("1", "arn", "s3:GetObject", "AccessDenied").digest()
    assert k1.digest() != k2.digest() and len(k1.digest()) == 32
    assert len(GroupKey("1", "x" * 100_000, None, None).digest()) == 32


def test_no_findings_no_alerts_and_missing_fields_still_group():
    assert group_findings([]) == []
    (alert,) = group_findings([Finding.from_record({"errorCode": "AccessDenied"})] * 2)
    assert alert.count == 2 and alert.first_time is None and alert.examples == ()


def test_log_stream_link_uses_the_console_fragment_encoding():
    url = LogLocation("eu-west-1", "/aws/cloudtrail/org", "o-1_CloudTrail_eu-west-1").console_url()
    assert url is not None
    assert "log-group/$252Faws$252Fcloudtrail$252Forg/log-events/o-1_CloudTrail_eu-west-1" in url
    assert LogLocation("eu-west-1|<x>", "g", "s").console_url() is None
    assert LogLocation(None, "g", "s").console_url() is None


def test_callers_without_an_arn_are_grouped_by_principal_id():
    """Two AWSAccount callers of one account: one caller's alert must not hold back
    the other's (each has its own group and its own dedup window)."""

    def caller(principal_id: str) -> Finding:
        return Finding.from_record(
            {
                "errorCode": "AccessDenied",
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "recipientAccountId": "111122223333",
                "userIdentity": {
                    "type": "AWSAccount",
                    "principalId": principal_id,
                    "accountId": "999988887777",
                },
            }
        )

    a, b = caller("AIDAFIRSTCALLER"), caller("AROASECOND:session")
    assert a.principal_name == b.principal_name == "account 999988887777"
    alerts = group_findings([a, b, a])
    assert sorted(x.key.principal for x in alerts) == ["AIDAFIRSTCALLER", "AROASECOND:session"]
    assert sorted(x.count for x in alerts) == [1, 2]
    assert alerts[0].key.caller != alerts[1].key.caller


def test_caller_cuts_the_session_name_off_an_assumed_role():
    key = GroupKey(
        "1", "arn:aws:sts::1:assumed-role/scanner/session-7", "s3:GetObject", "AccessDenied"
    )
    assert key.caller == "1|arn:aws:sts::1:assumed-role/scanner"
    assert (
        GroupKey("1", "arn:aws:iam::1:user/bob", None, None).caller == "1|arn:aws:iam::1:user/bob"
    )
    assert GroupKey(None, None, None, None).caller == "|"


# --- suppressions decided on the raw record: the same verdicts as on its Finding ---------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from deniedwatch.alerts.group import group_records  # noqa: E402
from deniedwatch.rules import Ruleset, Suppression, build_ruleset  # noqa: E402
from strategies import random_records  # noqa: E402

_rules = st.builds(
    Suppression,
    name=st.just("r"),
    principal_name=st.none() | st.sampled_from(["config.amazonaws.com", "alice", "root"]),
    principal_type=st.none() | st.sampled_from(["AWSService", "IAMUser", "Root"]),
    event_name=st.none() | st.sampled_from(["Get*", "HeadBucket", "[A-Z]*"]),
    source_ip=st.none() | st.sampled_from(["10.0.0.0/8", "delivery.logs.amazonaws.com"]),
    user_agent=st.none() | st.sampled_from(["*", "*Terraform*"]),
    caller_account_id=st.none() | st.just("111122223333"),
    same_account=st.none() | st.just(True),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(random_records, max_size=8), st.integers(1, 5))
def test_group_records_equals_grouping_their_findings(records, max_examples):
    """The live path groups raw records: the same alerts as grouping their Findings."""
    findings = [Finding.from_record(r) for r in records]
    assert group_records(records, max_examples=max_examples) == group_findings(
        findings, max_examples=max_examples
    )


@settings(max_examples=150, deadline=None)
@given(random_records, st.lists(_rules, max_size=3))
def test_classify_without_a_finding_decides_as_evaluate_does(record, rules):
    for ruleset in (Ruleset(), build_ruleset(suppressions=rules)):
        detection = ruleset.evaluate(record)
        quick = ruleset.classify(record)
        assert (quick.verdict, quick.suppressed_by) == (detection.verdict, detection.suppressed_by)


def test_group_records_reads_the_action_and_resource_as_findings_do() -> None:
    """Issue 12: the message's IAM action and the requestParameters resource are part of
    the group key and the variety, on the raw-record path too."""
    from live_support import denial

    records = [
        denial(
            event_name="ListBuckets",
            message="User: x is not authorized to perform: "
            "s3:ListAllMyBuckets because no identity-based policy allows the "
            "s3:ListAllMyBuckets action",
        ),
        denial(event_name="ListBuckets", message="Access Denied"),
        denial(
            source="lambda.amazonaws.com",
            event_name="ListFunctions20150331",
            message="Access denied",
            requestParameters={"functionName": "f1"},
        ),
        denial(
            source="sts.amazonaws.com",
            event_name="AssumeRole",
            message="Access denied",
            requestParameters={"roleArn": "arn:aws:iam::111122223333:role/a"},
        ),
    ]
    findings = [Finding.from_record(r) for r in records]
    assert [f.action for f in findings] == [
        "s3:ListAllMyBuckets",
        "s3:ListAllMyBuckets",
        "lambda:ListFunctions",
        "sts:AssumeRole",
    ]
    assert group_records(records) == group_findings(findings)
