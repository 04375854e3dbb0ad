"""Delivery under faults: the real handler, a failing Slack stand-in, AWS's async retries.

What "an alert" is here: one group (account, principal, action, error code) of one
subscription payload, i.e. what the handler renders as one Slack message. Every
payload holds its own principals (``pNNuK``), so each alert is told apart by the
principal name in its header, and every alert is expected in Slack exactly once.

Simulated: AWS's async invocation retries (the event is handed to the handler again,
twice, then to a dead-letter list), as Lambda does with no DLQ wait. The dedup table
is on the moto server; waits (backoff, Retry-After, pacing) go through a fake clock,
only the slow answers cost real time (client timeout 1 s).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from faulty_slack import FaultySlack
from figures import record, sizes

from deniedwatch import lambda_handler
from live_support import FakeTime, alert_count, denial, subscription_payload

ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations
PER_PAYLOAD, USERS = 20, 5  # 20 denials in 5 groups of 4


def payloads(n: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """n payloads and the alerts expected: principal -> denials."""
    out, expected = [], {}
    for p in range(n):
        users = [f"p{p:02d}u{k}" for k in range(USERS)]
        records = [denial(user=users[i % USERS]) for i in range(PER_PAYLOAD)]
        out.append(subscription_payload(records, log_stream=f"stream-{p}"))
        expected.update({u: PER_PAYLOAD // USERS for u in users})
    return out, expected


def invoke_like_aws(event: dict[str, Any]) -> tuple[bool, int]:
    """One async event: first try plus two retries. (delivered?, tries used)."""
    for attempt in range(1 + ASYNC_RETRIES):
        try:
            lambda_handler.handler(event, None)
            return True, attempt + 1
        except Exception:
            continue
    return False, 1 + ASYNC_RETRIES


HEADER = re.compile(r" · (p\d\du\d) denied ")


@pytest.mark.parametrize(
    ("n_payloads", "outage"), sizes(small=(5, range(10, 30)), full=(50, range(150, 190)))
)
def test_faulty_slack_loses_nothing_and_posts_acknowledged_alerts_once(
    n_payloads, outage, lambda_env, dedup_table, capsys
):
    """~30% of requests fail at random, plus one outage (every request 503) long enough
    to exhaust a payload's three invocations, so the dead-letter path is taken too."""
    slack = FaultySlack(outage=outage)
    try:
        lambda_env.setenv("SLACK_WEBHOOK_URL", slack.url)
        fake = FakeTime()
        rt = lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=1)
        lambda_env.setattr(lambda_handler, "_runtime", rt)
        events, expected = payloads(n_payloads)
        dlq: list[dict[str, Any]] = []
        invocations = 0
        for event in events:
            ok, tries = invoke_like_aws(event)
            invocations += tries
            if not ok:
                dlq.append(event)
    finally:
        slack.close()
    capsys.readouterr()  # the handler's log lines: not needed here

    acked = Counter(
        HEADER.search(p.body["blocks"][0]["text"]["text"]).group(1)
        for p in slack.posts
        if p.outcome == "ok"
    )
    in_slack = Counter(
        HEADER.search(p.body["blocks"][0]["text"]["text"]).group(1)
        for p in slack.posts
        if p.outcome in ("ok", "slow")
    )
    counts_ok = all(
        alert_count(p.body) == expected[HEADER.search(p.body["text"]).group(1)]
        for p in slack.posts
        if p.outcome == "ok"
    )
    dlq_streams = {f"stream-{events.index(e)}" for e in dlq}
    dlq_users = {u for u in expected if f"stream-{int(u[1:3])}" in dlq_streams}
    delivered = set(acked)
    in_dlq = dlq_users - delivered
    lost = set(expected) - delivered - in_dlq
    duplicates = sum(n - 1 for n in acked.values() if n > 1)
    outcomes = slack.outcomes()
    failed_requests = sum(n for k, n in outcomes.items() if k != "ok")
    record(
        "delivery",
        f"{n_payloads * PER_PAYLOAD} denials in {n_payloads} payloads, Slack failing ~30%"
        f" + a {len(outage)}-request outage",
        tried="handler + AWS async retries (2) + DLQ; 429/500/503/drop/slow/outage",
        times=invocations,
        held="lost == 0, duplicate acknowledged posts == 0",
        denials=n_payloads * PER_PAYLOAD,
        payloads=n_payloads,
        alerts_expected=len(expected),
        invocations=invocations,
        slack_requests=len(slack.posts),
        slack_requests_failed=failed_requests,
        slack_failure_rate=f"{failed_requests / max(len(slack.posts), 1):.0%}",
        faults=" ".join(
            f"{k}={outcomes[k]}" for k in ("429", "500", "503", "drop", "slow", "outage")
        ),
        alerts_delivered=len(delivered),
        payloads_in_dlq=len(dlq),
        alerts_in_dlq=len(in_dlq),
        alerts_lost=len(lost),
        duplicate_acknowledged_posts=duplicates,
        repeat_posts_after_unacknowledged_slow_answer=sum(in_slack.values()) - len(in_slack),
    )
    assert lost == set()
    assert duplicates == 0
    assert counts_ok  # each acknowledged alert carries its group's full count
    assert len(delivered) + len(in_dlq) == len(expected)
    assert dlq  # the outage sent at least one payload to the dead-letter list
    assert failed_requests > 0 and {"429", "500", "503", "drop", "slow"} <= set(outcomes)
