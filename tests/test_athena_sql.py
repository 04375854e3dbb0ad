"""The rendered SQL's meaning: run in DuckDB (via sqlglot, Trino -> DuckDB) over the bundled
examples in AWS's CloudTrail column layout, it keeps exactly the rows the file scan reports.

Simulated: DuckDB stands in for Athena (see tests/athena_table.py)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from athena_table import example_rows, make_table, run_trino, table_row
from deniedwatch.config import load_settings
from deniedwatch.finding import Finding
from deniedwatch.rules import Ruleset, Suppression, build_ruleset
from deniedwatch.rules_sql import SUPPRESSION_SQL, suppression_sql
from deniedwatch.scan import (
    FileResult,
    FileSource,
    FindingFilter,
    ScanRequest,
    ScanSummary,
    scan_records,
)
from deniedwatch.sources.athena import build_query
from deniedwatch.sources.cloudtrail_table import record_from_row
from dwtest import EXAMPLE_CONFIG, EXAMPLES


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_table(tmp_path_factory.mktemp("duck"), example_rows())


def file_scan(ruleset: Ruleset, wanted: FindingFilter, suppressed: bool = False) -> list[Finding]:
    """What `deniedwatch scan examples/cloudtrail` finds (the real FileSource)."""
    source = FileSource(ScanRequest((str(EXAMPLES),), wanted, suppressed, jobs=1), ruleset, None)
    source.prepare(ScanSummary())
    out: list[Finding] = []
    for result in source.results():
        out += result.findings + result.suppressed_findings
    return out


def sql_rows(con: Any, ruleset: Ruleset, wanted: FindingFilter, suppressed: bool = False):
    plan = build_query("deniedwatch", "cloudtrail_logs", ruleset, wanted, suppressed)
    return plan, run_trino(con, plan.sql)


def athena_scan(con: Any, ruleset: Ruleset, wanted: FindingFilter, suppressed: bool = False):
    """The Athena path end to end, with DuckDB answering the query."""
    _, rows = sql_rows(con, ruleset, wanted, suppressed)
    result = FileResult("duckdb", events=len(rows))
    scan_records([record_from_row(r) for r in rows], result, ruleset, wanted, suppressed)
    return result.findings + result.suppressed_findings


def by_id(findings: list[Finding]) -> dict[str | None, dict[str, Any]]:
    return {f.event_id: f.to_dict() for f in findings}


RICH = build_ruleset(
    extra_codes=["NoSuchKey"],
    ignored_codes=["AccessDeniedException"],
    suppressions=[
        Suppression("arn-glob", principal_arn="arn:aws:sts::*:assumed-role/deploy-pipeline/*"),
        Suppression("one-char", event_name="ListUser?"),
        Suppression("cidr", source_ip="192.0.2.0/24"),
        Suppression("ua", user_agent="curl/*", account_id="111122223333"),
        Suppression("caller", caller_account_id="999999999999"),
        Suppression(
            "code", error_code="ForbiddenException", event_source="apigateway.amazonaws.com"
        ),
    ],
)


@pytest.mark.parametrize(
    ("ruleset", "wanted"),
    [
        (Ruleset(), FindingFilter()),
        (RICH, FindingFilter()),
        (
            Ruleset(),
            FindingFilter(
                since=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
                until=datetime(2026, 11, 21, 7, 55, 0, 500, tzinfo=UTC),
            ),
        ),
        (Ruleset(), FindingFilter(accounts=frozenset({"444455556666"}))),
        (Ruleset(), FindingFilter(regions=frozenset({"eu-west-1"}))),
    ],
    ids=["defaults", "rich-rules", "time-window", "account", "region"],
)
def test_the_sql_alone_keeps_what_the_file_scan_finds(
    table: Any, ruleset: Ruleset, wanted: FindingFilter
) -> None:
    expected = by_id(file_scan(ruleset, wanted))
    plan, rows = sql_rows(table, ruleset, wanted)
    assert plan.after_query == ()  # every rule here has an exact SQL form
    assert {r["eventid"] for r in rows} == set(expected)
    # and the rows, mapped back, are the same findings, field for field
    assert by_id(athena_scan(table, ruleset, wanted)) == expected


def test_example_settings_with_a_rule_applied_after_the_query(table: Any) -> None:
    ruleset = load_settings(EXAMPLE_CONFIG).ruleset
    plan, rows = sql_rows(table, ruleset, FindingFilter())
    assert plan.after_query == ("config-recorder-known-gap",)  # principal_name: no SQL form
    expected = by_id(file_scan(ruleset, FindingFilter()))
    assert len(expected) == 20
    assert {r["eventid"] for r in rows} > set(expected)
    assert by_id(athena_scan(table, ruleset, FindingFilter())) == expected


def test_include_suppressed_returns_them_marked_as_the_file_scan_does(table: Any) -> None:
    ruleset = load_settings(EXAMPLE_CONFIG).ruleset
    expected = by_id(file_scan(ruleset, FindingFilter(), suppressed=True))
    assert len(expected) == 24
    assert by_id(athena_scan(table, ruleset, FindingFilter(), suppressed=True)) == expected


# ---- values an attacker chooses, and the edges of each matcher ------------------------

_BASE = {
    "eventVersion": "1.10",
    "eventTime": "2026-11-20T10:00:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "us-east-1",
    "errorCode": "AccessDenied",
    "recipientAccountId": "111122223333",
    "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "arn": "arn:aws:iam::1:u"},
}
TRICKY = [
    {"sourceIPAddress": "10.1.2.3"},
    {"sourceIPAddress": "10.1.2.3\n"},
    {"sourceIPAddress": "10.01.2.3"},
    {"sourceIPAddress": "10.1.2.256"},
    {"sourceIPAddress": "::ffff:10.1.2.3"},
    {"sourceIPAddress": "11.0.0.1"},
    # octets past BIGINT once multiplied: the arithmetic must never run on a non-address
    {"sourceIPAddress": "600000000000.1.2.3"},
    {"sourceIPAddress": "1.2.3.99999999999999999999"},
    {"sourceIPAddress": ""},
    {"userAgent": ""},
    {"userAgent": "scanner\n"},
    {"userAgent": "scanner 100%_done"},
    {"userAgent": "Scanner"},
    {"eventName": "Get'Object"},
    {"errorCode": ""},
    {"errorCode": "xAccessDeniedx"},
    {"errorCode": "UnauthorizedOperationX"},
    {"errorCode": None},
    {"eventTime": None},
    {"eventTime": "not a time"},
    {"eventTime": "2026-11-20T10:00:00.000Z"},
    {"recipientAccountId": "", "userIdentity": {"accountId": "222233334444"}},
    {"recipientAccountId": None, "userIdentity": None},
    {"userIdentity": {"type": "IAMUser", "arn": ""}},
    {"eventName": "HeadBucket"},
    {"eventName": "HeadBucket", "userIdentity": {"accountId": "999988887777"}},
    {"eventName": "HeadBucket", "recipientAccountId": ""},
    {"eventName": "HeadBucket", "userIdentity": {"type": "IAMUser"}},
    {"sourceIPAddress": "delivery.logs.amazonaws.com"},
    {"sourceIPAddress": "delivery.logs.amazonaws.com", "userIdentity": {"type": "AWSService"}},
]
TRICKY_RULES = build_ruleset(
    suppressions=[
        Suppression("net", source_ip="10.0.0.0/8"),
        Suppression("ua-any", user_agent="*"),
        Suppression("ua-pct", user_agent="scanner 100%_*"),
        Suppression("quote", event_name="Get'Object"),
        Suppression("acct", account_id="222233334444"),
        Suppression("arn-any", principal_arn="*", event_name="Never"),
    ],
)


@pytest.mark.parametrize("ruleset", [Ruleset(), TRICKY_RULES], ids=["defaults", "tricky"])
def test_tricky_values_are_judged_alike(tmp_path: Path, ruleset: Ruleset) -> None:
    records = []
    for n, change in enumerate(TRICKY):
        record = {**_BASE, **change, "eventID": f"tricky-{n}"}
        records.append({k: v for k, v in record.items() if v is not None})
    con = make_table(
        tmp_path, [table_row(r, "111122223333", "us-east-1", "2026/11/20") for r in records]
    )
    wanted = FindingFilter(since=datetime(2026, 11, 20, tzinfo=UTC))
    python = FileResult("python")
    scan_records(records, python, ruleset, wanted)
    expected = {f.event_id for f in python.findings}
    _, rows = sql_rows(con, ruleset, wanted)
    assert {r["eventid"] for r in rows} == expected
    assert len(expected) > 3


# ---- the SQL itself -----------------------------------------------------------------


def test_print_sql_parses_as_trino_and_bounds_the_partitions(
    cli: Any, no_aws_credentials: str
) -> None:
    """Without credentials any AWS call would fail the command: --print-sql makes none."""
    result = cli(
        "scan",
        "--engine",
        "athena",
        "--print-sql",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-08",
    )
    assert result.exit_code == 0, result.stderr
    tree = sqlglot.parse_one(result.stdout, read="trino")
    assert "eventid" in [c.alias_or_name for c in tree.expressions]
    where = tree.args["where"].sql(dialect="trino")
    assert "\"timestamp\" >= '2026/11/01'" in where
    assert "\"timestamp\" <= '2026/11/09'" in where  # the delivery day after --until's


def test_every_suppression_key_has_a_sql_entry() -> None:
    """A new Suppression key must say how it reads in SQL (or None: after the query)."""
    keys = {f.name for f in fields(Suppression)} - {"name"}
    assert keys == set(SUPPRESSION_SQL)


def test_what_has_no_exact_sql_form_is_left_to_the_rows() -> None:
    assert suppression_sql(Suppression("n", principal_name="x")) is None
    assert suppression_sql(Suppression("c", event_name="Get[OP]*")) is None
    assert suppression_sql(Suppression("v6", source_ip="2001:db8::/32")) is None
    assert suppression_sql(Suppression("empty")) is None


# ---- values drawn at random: the SQL and the rules never disagree -----------------------

_codes = st.sampled_from(
    ["AccessDenied", "Client.UnauthorizedOperation", "AccessDeniedException", "NoSuchKey",
     "ForbiddenException", "", "accessdenied", "AccessDenie", "X_AccessDenied%"]
)  # fmt: skip
_ips = st.sampled_from(
    ["10.0.0.1", "10.255.255.255", "11.0.0.0", "9.255.255.255", "010.0.0.1", "10.0.0",
     "10.0.0.1 ", "10.0.0.256", "::1", "delivery.logs.amazonaws.com", ""]
) | st.text(alphabet="0123456789.:/ \n", max_size=16)  # fmt: skip
_texts = st.text(alphabet="aA%_*?'\\\n scanr", max_size=12)


@st.composite
def _records(draw: Any) -> list[dict[str, Any]]:
    out = []
    for n in range(draw(st.integers(1, 12))):
        record = {
            **_BASE,
            "eventID": f"r-{n}",
            "errorCode": draw(_codes),
            "sourceIPAddress": draw(_ips),
            "userAgent": draw(_texts),
            "eventName": draw(st.sampled_from(["HeadBucket", "GetObject", "Get'Object"])),
        }
        if draw(st.booleans()):
            record["userIdentity"] = {"accountId": draw(st.sampled_from(["", "222233334444"]))}
        out.append(record)
    return out


RANDOM_RULES = build_ruleset(
    extra_codes=["NoSuchKey"],
    ignored_codes=["AccessDeniedException"],
    suppressions=[
        Suppression("net", source_ip="10.0.0.0/8"),
        Suppression("exact-ip", source_ip="delivery.logs.amazonaws.com"),
        Suppression("pct", user_agent="*%_*"),
        Suppression("q", user_agent="?a*", event_name="Get'Object"),
        Suppression("acct", caller_account_id="222233334444"),
        Suppression("any-ua", user_agent="*", event_name="GetObject"),
    ],
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=_records())
def test_random_records_are_judged_alike(tmp_path_factory: Any, records: list) -> None:
    con = make_table(
        tmp_path_factory.mktemp("r"),
        [table_row(r, "111122223333", "us-east-1", "2026/11/20") for r in records],
    )
    python = FileResult("python")
    scan_records(records, python, RANDOM_RULES, FindingFilter())
    _, rows = sql_rows(con, RANDOM_RULES, FindingFilter())
    assert {r["eventid"] for r in rows} == {f.event_id for f in python.findings}
