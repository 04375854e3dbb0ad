"""The Athena API flow against moto server (Athena, Glue, S3) on 127.0.0.1.

moto runs no SQL: query results are fed through its documented results queue
(POST /moto-api/static/athena/query-results), built here from the bundled examples in the
shape Athena returns (a header row, then text cells; nested columns as JSON text). What
moto cannot do (fail or cancel a query on its own, page results) is simulated by wrapping
the real client, and each such test says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import boto3
import pytest

from athena_table import example_rows
from deniedwatch.rules import Ruleset
from deniedwatch.scan import FindingFilter, ScanSummary
from deniedwatch.sources.athena import (
    AthenaError,
    AthenaSource,
    AthenaTarget,
    create_table,
    wait_for,
)
from deniedwatch.sources.cloudtrail_table import TableSpec
from dwtest import EXAMPLE_CONFIG, EXAMPLES, CliResult
from moto_athena import as_athena, post, put_trail, queue_results
from samples import CONFIG_IDS, ids

Cli = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def _clean(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENIEDWATCH_CONFIG", raising=False)


@pytest.fixture
def trail_bucket(aws_env: str, unique_name: Callable[[str], str]) -> str:
    bucket = unique_name("trail")
    put_trail(boto3.client("s3"), bucket)
    return bucket


def _executions(athena: Any) -> list[dict[str, Any]]:
    ids = athena.list_query_executions()["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


# ---- create-table -------------------------------------------------------------------


def test_create_table_creates_it_with_the_folders_found(cli: Cli, trail_bucket: str) -> None:
    athena = boto3.client("athena")
    before = set(athena.list_query_executions()["QueryExecutionIds"])
    result = cli("athena", "create-table", "--bucket", trail_bucket, "--prefix", "logs",
                 "--database", "dw_test", "--table", "trail")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    # moto runs no DDL, and the line says so (AWS_ENDPOINT_URL is set): the DDL is checked below
    assert "not created by the stand-in: dw_test.trail over s3://" in result.stdout
    assert "accounts (2): 111122223333, 444455556666" in result.stdout
    assert "regions (3): eu-west-1, us-east-1, us-west-2" in result.stdout
    assert "$5 per TB scanned" in result.stdout
    new = [e for e in _executions(athena) if e["QueryExecutionId"] not in before]
    queries = sorted(e["Query"] for e in new)
    assert queries[0] == "CREATE DATABASE IF NOT EXISTS `dw_test`"
    ddl = queries[1]
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `dw_test`.`trail`")
    assert "'projection.account.values'='111122223333,444455556666'" in ddl
    assert f"LOCATION 's3://{trail_bucket}/logs/AWSLogs/'" in ddl
    assert "${account}/CloudTrail/${region}/${timestamp}" in ddl
    assert "not-an-account" not in ddl  # a folder of the wrong shape stays out of the DDL
    for e in new:
        assert e["QueryExecutionId"] in result.stdout


def test_create_table_is_idempotent_and_refreshes_accounts(trail_bucket: str) -> None:
    """moto's Athena does not create Glue tables from DDL: the table Athena would have made
    is put in Glue here, as if a first run had created it with one account."""
    glue, athena, s3 = boto3.client("glue"), boto3.client("athena"), boto3.client("s3")
    spec = TableSpec(trail_bucket, "logs", None, "dw_idem", "trail")
    target = AthenaTarget("dw_idem", "trail")
    from deniedwatch.sources.cloudtrail_table import projection_properties

    regions = ["eu-west-1", "us-east-1", "us-west-2"]
    old = projection_properties(spec, ["111122223333"], regions, date(2020, 1, 1))
    glue.create_database(DatabaseInput={"Name": "dw_idem"})
    glue.create_table(DatabaseName="dw_idem", TableInput={
        "Name": "trail", "Parameters": old, "StorageDescriptor": {"Location": spec.location}
    })  # fmt: skip
    run = {"athena": athena, "glue": glue, "s3": s3, "first_day": date(2020, 1, 1)}
    updated = create_table(spec, target, **run)
    assert updated.action == "updated"
    assert updated.ddl == (
        "ALTER TABLE `dw_idem`.`trail` SET TBLPROPERTIES "
        "('projection.account.values'='111122223333,444455556666')"
    )
    new = projection_properties(spec, updated.accounts, updated.regions, date(2020, 1, 1))
    glue.update_table(DatabaseName="dw_idem", TableInput={
        "Name": "trail", "Parameters": new, "StorageDescriptor": {"Location": spec.location}
    })  # fmt: skip
    again = create_table(spec, target, **run)
    assert (again.action, again.query_ids) == ("up to date", ())
    other = trail_bucket + "-other"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=other, Key="AWSLogs/111122223333/CloudTrail/us-east-1/x", Body=b"")
    elsewhere = TableSpec(other, "", None, "dw_idem", "trail")
    with pytest.raises(AthenaError, match=f"already exists for {spec.location}, not s3://{other}/"):
        create_table(elsewhere, target, **run)


def test_create_table_refuses_bad_names_and_empty_buckets(cli: Cli, trail_bucket: str) -> None:
    bad_org = cli("athena", "create-table", "--bucket", trail_bucket, "--organization-id", "o-x'")
    assert bad_org.exit_code == 2 and "--organization-id" in bad_org.stderr
    bad_table = cli("athena", "create-table", "--bucket", trail_bucket, "--table", "a`b")
    assert bad_table.exit_code == 2 and "--table" in bad_table.stderr
    empty = cli("athena", "create-table", "--bucket", trail_bucket, "--prefix", "nothing-here")
    assert empty.exit_code == 2
    assert "no CloudTrail folders under" in empty.stderr
    assert "Traceback" not in empty.stderr + bad_org.stderr + bad_table.stderr


# ---- scan --engine athena -------------------------------------------------------------


def test_scan_engine_athena_gives_the_file_scans_findings(cli: Cli, aws_env: str) -> None:
    queue_results(aws_env, [as_athena(r) for r in example_rows()])
    result = cli("scan", "--engine", "athena", "--since", "2026-11-01", "--format", "jsonl",
                 "--config", EXAMPLE_CONFIG)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert ids(result) == CONFIG_IDS
    local = cli("scan", EXAMPLES, "--format", "jsonl", "--config", EXAMPLE_CONFIG)
    assert result.stdout == local.stdout
    assert "athena: partitions 2026/11/01 .. today" in result.stderr
    assert "athena: query " in result.stderr
    assert "bytes scanned" in result.stderr or "scanned (~$" in result.stderr


def test_scan_engine_athena_needs_a_time_bound(cli: Cli, aws_env: str) -> None:
    result = cli("scan", "--engine", "athena")
    assert result.exit_code == 2
    assert "needs --since" in result.stderr and "--all-time" in result.stderr
    files = cli("scan", "--engine", "athena", "--since", "7d", str(EXAMPLES))
    assert files.exit_code == 2 and "not files" in files.stderr
    nothing = cli("scan")
    assert nothing.exit_code == 2 and "give log files" in nothing.stderr


def test_all_time_runs_without_since(cli: Cli, aws_env: str) -> None:
    queue_results(aws_env, [])
    result = cli("scan", "--engine", "athena", "--all-time", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "partitions the first day .. today" in result.stderr


# ---- failures, paging and Ctrl-C (simulated on top of moto where it cannot) -----------


class _Overlay:
    """A real moto Athena client with some answers replaced (simulated: moto never fails,
    cancels or pages a query on its own)."""

    def __init__(self, real: Any, **replace: Any) -> None:
        self.real, self.replace = real, replace

    def __getattr__(self, name: str) -> Any:
        return self.replace.get(name) or getattr(self.real, name)


def test_a_workgroup_limit_is_a_clear_message(aws_env: str) -> None:
    athena = boto3.client("athena")
    athena.create_work_group(
        Name="capped-" + aws_env[-5:],
        Configuration={"BytesScannedCutoffPerQuery": 10 * 1024**3},
    )
    target = AthenaTarget(workgroup="capped-" + aws_env[-5:])

    def cancelled(QueryExecutionId: str) -> dict[str, Any]:
        # the state and reason Athena gives a query its workgroup's data usage control stops
        status = {"State": "CANCELLED", "StateChangeReason": "Bytes scanned limit was exceeded"}
        return {"QueryExecution": {"QueryExecutionId": QueryExecutionId, "Status": status}}

    client = _Overlay(athena, get_query_execution=cancelled)
    with pytest.raises(AthenaError) as caught:
        wait_for(client, "q-1", target, sleep=lambda _: None)
    message = str(caught.value)
    assert "Athena query q-1 cancelled: Bytes scanned limit was exceeded" in message
    assert "per-query bytes-scanned limit of 10.0 GB" in message
    assert "narrow --since" in message
    assert "\n" not in message


def test_a_failed_query_says_why(aws_env: str) -> None:
    def failed(QueryExecutionId: str) -> dict[str, Any]:
        return {"QueryExecution": {"Status": {"State": "FAILED", "AthenaError": {
            "ErrorMessage": "TABLE_NOT_FOUND: line 3:6: Table 'x.y' does not exist"}}}}  # fmt: skip

    with pytest.raises(AthenaError, match="failed: TABLE_NOT_FOUND") as caught:
        wait_for(_Overlay(boto3.client("athena"), get_query_execution=failed), "q", AthenaTarget())
    assert "limit" not in str(caught.value)


def test_results_are_read_page_by_page(aws_env: str) -> None:
    """Simulated paging: moto returns one page, so each row after the header becomes a
    page of its own behind NextToken, as Athena pages large results."""
    rows = [as_athena(r) for r in example_rows()]
    queue_results(aws_env, rows)
    real = boto3.client("athena")

    class Pages:
        def paginate(self, QueryExecutionId: str, PaginationConfig: Any) -> Iterator[Any]:
            whole = real.get_query_results(QueryExecutionId=QueryExecutionId)
            meta = whole["ResultSet"]["ResultSetMetadata"]
            for n, row in enumerate(whole["ResultSet"]["Rows"]):
                rs = {"Rows": [row], "ResultSetMetadata": meta}
                yield {"ResultSet": rs, **({"NextToken": str(n)} if n else {})}

    client = _Overlay(real, get_paginator=lambda name: Pages())
    source = AthenaSource(AthenaTarget(), Ruleset(), FindingFilter(), lambda: client)
    source.prepare(ScanSummary())
    results = list(source.results())
    assert len(results) == 1 + len(rows)  # the header page, then one page per row
    assert results[0].events == 0  # the header row is not a record
    assert sum(r.events for r in results) == len(rows) == 33
    assert sum(len(r.findings) for r in results) == 21


@pytest.fixture
def slow_queries(aws_env: str) -> Iterator[None]:
    """moto's state manager keeps queries QUEUED for many polls."""
    model = {"model_name": "athena::execution"}
    post(aws_env, "/moto-api/state-manager/set-transition",
          {**model, "transition": {"progression": "manual", "times": 1000}})  # fmt: skip
    yield
    post(aws_env, "/moto-api/state-manager/unset-transition", model)


def test_ctrl_c_while_waiting_stops_the_query(aws_env: str, slow_queries: None) -> None:
    athena = boto3.client("athena")
    polls: list[str] = []

    def impatient(_: float) -> None:
        if len(polls) >= 3:
            raise KeyboardInterrupt
        polls.append("poll")

    source = AthenaSource(AthenaTarget(), Ruleset(), FindingFilter(), lambda: athena,
                          sleep=impatient)  # fmt: skip
    with pytest.raises(KeyboardInterrupt, match="stopped Athena query"):
        source.prepare(ScanSummary())
    assert source.query_id is not None
    state = athena.get_query_execution(QueryExecutionId=source.query_id)["QueryExecution"]
    assert state["Status"]["State"] == "CANCELLED"
    assert len(polls) == 3


def test_no_credentials_is_one_line(cli: Cli, no_aws_credentials: str) -> None:
    result = cli("scan", "--engine", "athena", "--since", "7d")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("error: no AWS credentials")
    assert "Traceback" not in result.stderr


def test_ctrl_c_while_reading_results_stops_the_query(aws_env: str) -> None:
    """Simulated: the interrupt arrives while a result page is being fetched."""
    queue_results(aws_env, [])
    real = boto3.client("athena")
    stopped: list[str] = []

    class Pages:
        def paginate(self, **_: Any) -> Iterator[Any]:
            raise KeyboardInterrupt
            yield  # a generator, as boto3's paginators are

    client = _Overlay(
        real,
        get_paginator=lambda name: Pages(),
        stop_query_execution=lambda QueryExecutionId: stopped.append(QueryExecutionId),
    )
    source = AthenaSource(AthenaTarget(), Ruleset(), FindingFilter(), lambda: client)
    source.prepare(ScanSummary())
    with pytest.raises(KeyboardInterrupt, match="stopped reading Athena query"):
        list(source.results())
    assert stopped == [source.query_id]
