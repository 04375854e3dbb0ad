"""A local stand-in for the CloudTrail table in Athena: DuckDB, the same columns and types
(from sources/cloudtrail_table.py), filled the way AWS's SerDe reads the bundled examples;
and the rendered Trino SQL run there after sqlglot transpiles it to DuckDB.

Simulated: DuckDB is not Trino. What it checks is the SQL's meaning (which rows it keeps)
on the real column layout; Athena-only behaviour (projection, billing) is not modelled.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import sqlglot

from deniedwatch.sources.cloudtrail_table import (
    COLUMNS,
    JSON_TEXT,
    PARTITIONS,
    STRING,
    Array,
    Map,
    Spelling,
    column_type,
)
from deniedwatch.sources.trailfiles import path_info, skip_reason
from dwtest import EXAMPLES

DUCKDB = Spelling("VARCHAR", "MAP(VARCHAR, VARCHAR)", "{}[]", "STRUCT({})", '"{name}" {type}')


def _cell(value: Any, kind: Any) -> Any:
    """A record value as the JSON SerDe reads it into a column of this type."""
    if value is None:
        return None
    if kind in (STRING, JSON_TEXT):
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(kind, Map):
        return value if isinstance(value, dict) else None
    if isinstance(kind, Array):
        return [_cell(v, kind.item) for v in value] if isinstance(value, list) else None
    if not isinstance(value, dict):
        return None
    lower = {k.lower(): v for k, v in value.items()}  # the SerDe matches keys case-blind
    return {n.lower(): _cell(lower.get(n.lower()), t) for n, t in kind.fields}


def table_row(record: dict[str, Any], account: str, region: str, day: str) -> dict[str, Any]:
    lower = {k.lower(): v for k, v in record.items()}
    row = {n.lower(): _cell(lower.get(n.lower()), t) for n, t in COLUMNS}
    row.update(account=account, region=region, timestamp=day)
    return row


def example_rows() -> list[dict[str, Any]]:
    """Every record of the bundled export, with the partitions its path gives."""
    rows = []
    for path in sorted(EXAMPLES.rglob("*.json.gz")):
        if skip_reason(str(path)):
            continue
        info = path_info(path.as_posix())
        assert info.account and info.region and info.day
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            rows.append(table_row(record, info.account, info.region, f"{info.day:%Y/%m/%d}"))
    return rows


def make_table(folder: Path, rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """deniedwatch.cloudtrail_logs in a fresh in-memory DuckDB, holding these rows."""
    data = folder / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = {n.lower(): column_type(t, DUCKDB) for n, t in COLUMNS}
    columns.update({p: "VARCHAR" for p in PARTITIONS})
    con = duckdb.connect()
    con.execute("CREATE SCHEMA deniedwatch")
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    con.execute(
        "CREATE TABLE deniedwatch.cloudtrail_logs AS SELECT * FROM "
        f"read_json('{data}', format = 'newline_delimited', columns = {spec})"
    )
    return con


def run_trino(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, str | None]]:
    """Trino SQL -> DuckDB -> rows as GetQueryResults gives them (column -> text or None)."""
    duck = sqlglot.transpile(sql, read="trino", write="duckdb")[0]
    cursor = con.execute(duck)
    names = [d[0] for d in cursor.description]
    return [
        {n: (None if v is None else str(v)) for n, v in zip(names, values, strict=True)}
        for values in cursor.fetchall()
    ]
