"""Feeding moto server's Athena, which runs no SQL: the next query's result set goes through
moto's documented results queue (POST /moto-api/static/athena/query-results), built from
the bundled examples in the shape Athena returns (a header row, then text cells; nested
columns as JSON text)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from athena_table import example_rows
from deniedwatch.sources.cloudtrail_table import COLUMNS

NAMES = [n.lower() for n, _ in COLUMNS]


def post(endpoint: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        endpoint + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 201)


def queue_results(endpoint: str, rows: list[dict[str, Any]]) -> None:
    """The next query's result set, as Athena shapes it: header row first."""

    def cells(values: list[Any]) -> dict[str, Any]:
        return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}

    data = [cells(NAMES)] + [cells([_text(r.get(n)) for n in NAMES]) for r in rows]
    info = [{"Name": n, "Label": n, "Type": "varchar"} for n in NAMES]
    post(endpoint, "/moto-api/static/athena/query-results", {
        "region": "us-east-1", "results": [{"rows": data, "column_info": info}]
    })  # fmt: skip


def _text(value: Any) -> str | None:
    """A DuckDB-free rendering of a cell as Athena's json_format gives nested columns."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def as_athena(row: dict[str, Any]) -> dict[str, Any]:
    """A table row (DuckDB-shaped dicts for nested columns) as Athena returns it: every
    struct field present, null where absent. moto returns whatever rows it is given, so
    this is all the SQL would keep and more: the rules run again on every row."""
    return {k: row.get(k) for k in NAMES}


def athena_example_rows() -> list[dict[str, Any]]:
    """The bundled examples as the CloudTrail table's rows, as Athena returns them."""
    return [as_athena(r) for r in example_rows()]


def put_trail(s3: Any, bucket: str, prefix: str = "logs/") -> None:
    """A trail bucket: the bundled export under prefix, plus a folder of the wrong shape."""
    from dwtest import EXAMPLES

    s3.create_bucket(Bucket=bucket)
    for path in EXAMPLES.rglob("*"):
        if path.is_file():
            key = prefix + path.relative_to(EXAMPLES).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    s3.put_object(Bucket=bucket, Key=f"{prefix}AWSLogs/not-an-account,x/CloudTrail/x", Body=b"")
