"""The same detection as SQL over the CloudTrail table in Athena (organization scale).

The query is rendered from rules.py (denial rule, suppressions) and the scan's filters;
partitions bound what Athena reads (and bills), the exact filters follow. Every returned
row goes back through the same Ruleset and FindingFilter as a log file's records, so the
findings are the file scan's, field for field; a suppression without an exact SQL form is
applied there. Plain boto3 (start / poll / page / stop): PyAthena would add a dependency
for the ~60 lines below and hide the query id, the bytes scanned and the cancel.
API: https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from deniedwatch.rules import Ruleset
from deniedwatch.rules_sql import SUPPRESSION_SQL, denial_sql, sql_string, suppression_sql
from deniedwatch.sources.base import FileResult, FindingFilter, ScanSummary, scan_records
from deniedwatch.sources.cloudtrail_table import (
    PARTITION_DAY,
    TableSpec,
    alter_properties_ddl,
    create_table_ddl,
    projection_properties,
    quote,
    record_from_row,
    select_list,
)

# Athena SQL list price, us-east-1: $5 per TB scanned, 10 MB minimum per query.
# https://aws.amazon.com/athena/pricing/
USD_PER_TB = 5.0
TB = 1024**4
_ISO_SECONDS = r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\z"


class AthenaError(Exception):
    """A failure the user can act on, as one line."""


def cost_usd(scanned_bytes: int) -> float:
    return max(scanned_bytes, 10 * 1024**2) / TB * USD_PER_TB


@dataclass(frozen=True)
class QueryPlan:
    sql: str
    first_day: date | None  # partition range (delivery days), inclusive
    last_day: date | None
    after_query: tuple[str, ...] = ()  # suppressions applied to the returned rows

    def partition_range(self) -> str:
        first = self.first_day.strftime(PARTITION_DAY) if self.first_day else "the first day"
        last = self.last_day.strftime(PARTITION_DAY) if self.last_day else "today"
        return f"{first} .. {last}"


def _second(when: datetime, *, up: bool) -> str:
    """CloudTrail's own time format, rounded to whole seconds (its events have no fraction)."""
    when = when.astimezone(UTC)
    if up and when.microsecond:
        when += timedelta(seconds=1)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_query(
    database: str,
    table: str,
    ruleset: Ruleset,
    wanted: FindingFilter,
    include_suppressed: bool = False,
) -> QueryPlan:
    """The Trino SQL for one scan. Partition days run from --since's day to the day after
    --until's, because a file's folder is its delivery day (as the file scan prunes)."""
    first = wanted.since.astimezone(UTC).date() if wanted.since else None
    last = wanted.until.astimezone(UTC).date() + timedelta(days=1) if wanted.until else None
    where: list[str] = []
    if first:
        where.append(f'"timestamp" >= {sql_string(first.strftime(PARTITION_DAY))}')
    if last:
        where.append(f'"timestamp" <= {sql_string(last.strftime(PARTITION_DAY))}')
    if wanted.since or wanted.until:
        bounds = []
        if wanted.since:
            bounds.append(f"eventtime >= {sql_string(_second(wanted.since, up=True))}")
        if wanted.until:
            bounds.append(f"eventtime <= {sql_string(_second(wanted.until, up=False))}")
        # an unreadable time is kept, as the file scan keeps it (never hide a denial)
        where.append(
            f"({' AND '.join(bounds)} OR NOT "
            f"regexp_like(COALESCE(eventtime, ''), {sql_string(_ISO_SECONDS)}))"
        )
    if wanted.accounts:
        accounts = ", ".join(map(sql_string, sorted(wanted.accounts)))
        where.append(f"account IN ({accounts})")
        where.append(f"{SUPPRESSION_SQL['account_id']} IN ({accounts})")
    if wanted.regions:
        regions = ", ".join(map(sql_string, sorted(wanted.regions)))
        where.append(f"region IN ({regions})")
        where.append(f"awsregion IN ({regions})")
    where.append(denial_sql(ruleset.denial))
    after: list[str] = []
    if not include_suppressed:
        for rule in ruleset.suppressions:
            condition = suppression_sql(rule)
            if condition is None:
                after.append(rule.name)
            else:
                where.append(f"NOT {condition}")
    sql = (
        "-- deniedwatch: denied API calls (rules.py rendered as SQL)\n"
        f"SELECT\n  {select_list()}\nFROM {quote(database)}.{quote(table)}\n"
        "WHERE " + "\n  AND ".join(where)
    )
    return QueryPlan(sql, first, last, tuple(after))


# ---- the API flow ------------------------------------------------------------------


@dataclass(frozen=True)
class AthenaTarget:
    database: str = "deniedwatch"
    table: str = "cloudtrail_logs"
    workgroup: str = "primary"
    output_location: str | None = None


def start_query(client: Any, sql: str, target: AthenaTarget) -> str:
    params: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": target.database},
        "WorkGroup": target.workgroup,
    }
    if target.output_location:
        params["ResultConfiguration"] = {"OutputLocation": target.output_location}
    return client.start_query_execution(**params)["QueryExecutionId"]


_LIMIT = re.compile(r"bytes scanned limit|data usage|scan(ned)? limit|cutoff", re.IGNORECASE)


def wait_for(
    client: Any,
    query_id: str,
    target: AthenaTarget,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_state: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Poll until the query ends; its QueryExecution when it SUCCEEDED, else AthenaError.

    Ctrl-C (KeyboardInterrupt) anywhere in here stops the query in Athena before it goes
    on, so an abandoned scan is not left running (and billing)."""
    delay = 0.25
    try:
        while True:
            execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "?")
            scanned = execution.get("Statistics", {}).get("DataScannedInBytes", 0) or 0
            if on_state:
                on_state(state, scanned)
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                raise AthenaError(_failure(client, query_id, target, state, status))
            sleep(delay)
            delay = min(delay * 1.5, 3.0)
    except KeyboardInterrupt:
        cancel(client, query_id)
        raise KeyboardInterrupt(f"stopped Athena query {query_id}") from None


def cancel(client: Any, query_id: str) -> None:
    with contextlib.suppress(Exception):  # best effort on the way out
        client.stop_query_execution(QueryExecutionId=query_id)


def _failure(client: Any, query_id: str, target: AthenaTarget, state: str, status: dict) -> str:
    reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get(
        "ErrorMessage", ""
    )
    said = f"Athena query {query_id} {state.lower()}: {reason or 'no reason given'}"
    # A workgroup's per-query data usage control cancels a query over its limit:
    # https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html
    if not (_LIMIT.search(reason) or state == "CANCELLED"):
        return said
    cutoff = _cutoff(client, target.workgroup)
    limit = f"per-query bytes-scanned limit of {_size(cutoff)}" if cutoff else "bytes-scanned limit"
    if _LIMIT.search(reason):
        said += f" - the query reached workgroup {target.workgroup!r}'s {limit}"
    else:
        said += f" - stopped outside deniedwatch, or by workgroup {target.workgroup!r}'s {limit}"
    return said + (
        "; narrow --since/--until/--account/--region, or use a workgroup with a higher limit"
    )


def _cutoff(client: Any, workgroup: str) -> int | None:
    try:
        group = client.get_work_group(WorkGroup=workgroup)["WorkGroup"]
    except Exception:  # only used to word the message
        return None
    return group.get("Configuration", {}).get("BytesScannedCutoffPerQuery")


def _size(n: int) -> str:
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def result_pages(client: Any, query_id: str) -> Iterator[list[dict[str, str | None]]]:
    """The result rows, page by page, as column -> text (None for NULL).

    The first row of the first page repeats the column names (Athena's CSV-like result
    set); it is recognised by being equal to them and dropped."""
    paginator = client.get_paginator("get_query_results")
    first = True
    for page in paginator.paginate(QueryExecutionId=query_id, PaginationConfig={"PageSize": 1000}):
        result = page.get("ResultSet", {})
        names = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
        rows = [[cell.get("VarCharValue") for cell in r.get("Data", [])] for r in result["Rows"]]
        if first and rows and rows[0] == names:
            rows = rows[1:]
        first = False
        yield [dict(zip(names, values, strict=False)) for values in rows]


# ---- the Source -------------------------------------------------------------------


@dataclass
class AthenaSource:
    """scan.Source over the CloudTrail table: one query, its result pages as results."""

    target: AthenaTarget
    ruleset: Ruleset
    wanted: FindingFilter
    client: Callable[[], Any]
    include_suppressed: bool = False
    on_state: Callable[[str, int], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    plan: QueryPlan = field(init=False)
    query_id: str | None = None
    scanned_bytes: int = 0

    def __post_init__(self) -> None:
        self.plan = build_query(
            self.target.database,
            self.target.table,
            self.ruleset,
            self.wanted,
            self.include_suppressed,
        )

    def prepare(self, summary: ScanSummary) -> int | None:
        """Run the query to its end (the rows are read in results())."""
        athena = self.client()
        self.query_id = start_query(athena, self.plan.sql, self.target)
        execution = wait_for(
            athena, self.query_id, self.target, sleep=self.sleep, on_state=self.on_state
        )
        self.scanned_bytes = execution.get("Statistics", {}).get("DataScannedInBytes", 0) or 0
        return None

    def results(self) -> Iterator[FileResult]:
        assert self.query_id is not None, "prepare() first"
        athena = self.client()
        try:
            for number, page in enumerate(result_pages(athena, self.query_id), 1):
                result = FileResult(f"athena:{self.query_id}#{number}", events=len(page))
                records = [record_from_row(row) for row in page]
                scan_records(records, result, self.ruleset, self.wanted, self.include_suppressed)
                yield result
        except KeyboardInterrupt:
            cancel(athena, self.query_id)  # a no-op once it has finished; harmless
            raise KeyboardInterrupt(f"stopped reading Athena query {self.query_id}") from None

    def report(self, summary: ScanSummary) -> str:
        """The summary line: the query, what it read and cost, what it found."""
        suppressed = sum(summary.suppressed.values())
        line = (
            f"athena: query {self.query_id}, {_size(self.scanned_bytes)} scanned"
            f" (~${cost_usd(self.scanned_bytes):.4f} at ${USD_PER_TB:g}/TB),"
            f" partitions {self.plan.partition_range()}, {summary.events} rows,"
            f" {summary.findings} findings"
        )
        if self.include_suppressed:
            return line + f", {suppressed} suppressed"
        return line + f", {suppressed} suppressed after the query (the rest in SQL)"


# ---- create-table -------------------------------------------------------------------

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ORG = re.compile(r"o-[a-z0-9]{10,32}")
_NAME = re.compile(r"[a-z0-9_]{1,255}")  # Athena: lower-case letters, digits, underscore


def check_names(spec: TableSpec) -> None:
    """Refuse names that are not what they claim (they end up in DDL and S3 paths)."""
    if spec.organization_id is not None and not _ORG.fullmatch(spec.organization_id):
        raise AthenaError(f"--organization-id {spec.organization_id!r} is not like o-a1b2c3d4e5")
    for flag, name in (("--database", spec.database), ("--table", spec.table)):
        if not _NAME.fullmatch(name):
            raise AthenaError(f"{flag} {name!r}: use lower-case letters, digits and _ only")


def _folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The immediate sub-folders of s3://bucket/prefix (a delimiter listing: no objects read)."""
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        for common in page.get("CommonPrefixes", []):
            out.append(common["Prefix"][len(prefix) :].rstrip("/"))
    return out


def find_partitions(s3: Any, spec: TableSpec) -> tuple[list[str], list[str]]:
    """The account and region folders the trail has written, checked for shape (a folder
    name goes into the table's properties, so anything else is left out)."""
    bucket, _, key_prefix = spec.location[len("s3://") :].partition("/")
    accounts = sorted(a for a in _folders(s3, bucket, key_prefix) if _ACCOUNT.fullmatch(a))
    regions: set[str] = set()
    for account in accounts:
        found = _folders(s3, bucket, f"{key_prefix}{account}/CloudTrail/")
        regions.update(r for r in found if _REGION.fullmatch(r))
    return accounts, sorted(regions)


@dataclass(frozen=True)
class TableOutcome:
    action: str  # "created", "updated", "up to date"
    ddl: str
    accounts: list[str]
    regions: list[str]
    query_ids: tuple[str, ...] = ()


def create_table(
    spec: TableSpec,
    target: AthenaTarget,
    *,
    athena: Any,
    glue: Any,
    s3: Any,
    first_day: date,
    sleep: Callable[[float], None] = time.sleep,
) -> TableOutcome:
    """Create the table, or bring an existing one's projected accounts/regions up to date.

    Idempotent: run it again after accounts join the organization."""
    check_names(spec)
    accounts, regions = find_partitions(s3, spec)
    if not accounts or not regions:
        raise AthenaError(
            f"no CloudTrail folders under {spec.location} (expected <account>/CloudTrail/"
            "<region>/): check --bucket, --prefix and --organization-id"
        )
    properties = projection_properties(spec, accounts, regions, first_day)
    existing = _existing_table(glue, spec)
    if existing is None:
        ddl = create_table_ddl(spec, properties)
        ids = (
            _run_ddl(
                athena,
                f"CREATE DATABASE IF NOT EXISTS `{spec.database}`",
                replace(target, database="default"),  # the new one may not exist yet
                sleep,
            ),
            _run_ddl(athena, ddl, target, sleep),
        )
        return TableOutcome("created", ddl, accounts, regions, ids)
    location = existing.get("StorageDescriptor", {}).get("Location", "")
    if location.rstrip("/") != spec.location.rstrip("/"):
        raise AthenaError(
            f"table {spec.database}.{spec.table} already exists for {location or 'another place'}"
            f", not {spec.location}: choose another --table"
        )
    have = existing.get("Parameters", {})
    changed = {k: v for k, v in properties.items() if have.get(k) != v}
    if not changed:
        return TableOutcome("up to date", "", accounts, regions)
    ddl = alter_properties_ddl(spec, changed)
    return TableOutcome("updated", ddl, accounts, regions, (_run_ddl(athena, ddl, target, sleep),))


def _existing_table(glue: Any, spec: TableSpec) -> dict[str, Any] | None:
    try:
        return glue.get_table(DatabaseName=spec.database, Name=spec.table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def _run_ddl(athena: Any, ddl: str, target: AthenaTarget, sleep: Callable[[float], None]) -> str:
    query_id = start_query(athena, ddl, target)
    wait_for(athena, query_id, target, sleep=sleep)
    return query_id
