"""The alert budget: posts within the budget, most important first, the rest in digests
whose counts add up. Pure: no store, no server."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit_limits import limit_problems
from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import OTHERS, Budget, Digest, plan
from deniedwatch.alerts.email import digest_body, digest_subject
from deniedwatch.alerts.group import Alert, group_findings
from deniedwatch.alerts.slack import render_digest
from deniedwatch.finding import Finding
from live_support import denial, mrkdwn_texts, session_denial

SERVICES = [
    "s3",
    "ec2",
    "iam",
    "lambda",
    "dynamodb",
    "sqs",
    "sns",
    "kms",
    "rds",
    "ecs",
    "eks",
    "ssm",
]


def flood(user: str = "mallory", actions: int = 300) -> list[dict]:
    """One stolen key trying ``actions`` different APIs once each (enumerate-iam style)."""
    return [
        denial(user=user, source=f"{SERVICES[i % 12]}.amazonaws.com", event_name=f"Describe{i:03d}")
        for i in range(actions)
    ]


def alerts_of(records: list[dict]) -> list[Alert]:
    return group_findings([Finding.from_record(r) for r in records])


def total(alerts) -> int:
    return sum(a.total for a in alerts)


def test_flood_posts_within_budget_and_the_other_principal_first():
    eve = denial(user="eve", event_name="PutBucketPolicy", time="2026-11-20T09:06:31Z")
    records = [*flood(), eve]
    alerts = alerts_of(records)
    p = plan(alerts, Budget(max_posts=20, max_per_principal=5))
    assert len(p.posts) == 6  # mallory's cap of 5, and eve's one
    assert p.posts[0].sample.principal_name == "eve"  # high impact before mallory's reads
    (digest,) = p.digests
    assert digest.who == "mallory" and digest.count == 295
    assert total(p.posts) + sum(d.count for d in p.digests) == 301
    assert wording.digest_headline(digest) == (
        "111122223333 eu-west-1 · mallory: 295 more denials of 295 actions in 12 services 09:05 UTC"
    )
    assert digest.listed() == "top 10 listed, all counted"


def test_a_known_principals_high_impact_comes_before_a_new_ones_read():
    """Issue 20 (1): novelty is the caller's to make; impact comes first, then novelty."""
    alerts = alerts_of(
        [
            denial(user="known", event_name="CreateUser", source="iam.amazonaws.com"),
            denial(user="new"),
        ]
    )
    new = {a.key.caller for a in alerts if a.sample.principal_name == "new"}
    p = plan(alerts, Budget(max_posts=1), new_callers=new)
    assert [a.sample.principal_name for a in p.posts] == ["known"]
    assert [d.who for d in p.digests] == ["new"]


def test_a_principal_new_in_the_window_comes_before_a_known_one_of_equal_impact():
    alerts = alerts_of([denial(user="known"), denial(user="new")])
    new = {a.key.caller for a in alerts if a.sample.principal_name == "new"}
    p = plan(alerts, Budget(max_posts=1), new_callers=new)
    assert [a.sample.principal_name for a in p.posts] == ["new"]


def test_more_denials_first_among_equals():
    records = [denial(event_name="GetObject")] * 3 + [denial(event_name="PutObject")] * 7
    p = plan(alerts_of(records), Budget(max_posts=1))
    assert p.posts[0].key.action == "s3:PutObject" and p.digests[0].count == 3


def test_assumed_role_sessions_share_one_caller_and_one_digest():
    records = [
        session_denial("scanner", f"session-{i}", event_name="ListBuckets") for i in range(20)
    ]
    alerts = alerts_of(records)
    assert len(alerts) == 20  # one group per session (the session name is shown)
    p = plan(alerts, Budget(max_posts=20, max_per_principal=5))
    assert len(p.posts) == 5
    (digest,) = p.digests
    assert digest.who == "scanner (15 sessions)" and digest.count == 15


def test_digests_past_the_limit_merge_into_one():
    records = [denial(user=f"user{i}", event_name=f"Get{j}") for i in range(30) for j in range(2)]
    p = plan(alerts_of(records), Budget(max_posts=1, max_per_principal=1, max_digests=10))
    assert len(p.posts) == 1 and len(p.digests) == 10
    assert p.digests[-1].caller == OTHERS and p.digests[-1].who == "21 other principals"
    assert total(p.posts) + sum(d.count for d in p.digests) == 60


def test_held_back_denials_are_counted_in_the_digest():
    (a,) = alerts_of([denial()] * 2)
    d = Digest(a.key.caller, (a.with_held_back(40),))
    assert d.count == 42 and d.listed() == "all listed"


def test_digest_renderings_are_safe_and_within_limits():
    evil = "<!channel> *bold* <http://evil|x>"
    records = flood(user=evil, actions=40)
    (digest,) = plan(alerts_of(records), Budget(max_posts=1, max_per_principal=1)).digests
    payload = render_digest(digest, slack_channel="#sec")
    assert limit_problems(payload) == []
    text = "\n".join(mrkdwn_texts(payload))
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "39 more denials of 39 actions" in payload["blocks"][0]["text"]["text"]
    assert "top 10 listed, all counted" in text
    subject = digest_subject(digest)
    assert len(subject) < 100 and "\n" not in subject
    assert "39" in digest_body(digest)


callers = st.sampled_from(["alice", "bob", "mallory", "eve"])
actions = st.sampled_from(
    ["GetObject", "PutObject", "PutBucketPolicy", "ListBuckets", "DeleteObject"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(callers, actions, st.integers(1, 5)), min_size=0, max_size=40),
    st.integers(1, 25),
    st.integers(1, 8),
    st.integers(1, 4),
    st.sets(callers),
)
def test_property_counts_add_up_and_limits_hold(rows, max_posts, per_principal, max_digests, new):
    records = [denial(user=u, event_name=a) for u, a, n in rows for _ in range(n)]
    alerts = alerts_of(records)
    budget = Budget(max_posts, per_principal, max_digests)
    new_callers = {a.key.caller for a in alerts if a.sample.principal_name in new}
    p = plan(alerts, budget, new_callers=new_callers)
    assert total(p.posts) + sum(d.count for d in p.digests) == len(records)
    assert len(p.posts) <= max_posts and len(p.digests) <= max_digests
    posted_per_caller: dict[str, int] = {}
    for a in p.posts:
        posted_per_caller[a.key.caller] = posted_per_caller.get(a.key.caller, 0) + 1
    assert all(n <= per_principal for n in posted_per_caller.values())
    callers_in_digests = [d.caller for d in p.digests]
    assert len(callers_in_digests) == len(set(callers_in_digests))  # one digest per caller
    if len(p.posts) < max_posts:  # nothing digested while a post was allowed
        assert all(
            posted_per_caller.get(a.key.caller, 0) == per_principal
            for d in p.digests
            for a in d.alerts
            if d.caller != OTHERS
        )
    assert {a.key for a in p.posts} | {a.key for d in p.digests for a in d.alerts} == {
        a.key for a in alerts
    }
