"""AWS's CloudTrail table for Athena: its columns, its DDL, and a result row back into a
CloudTrail record.

The columns, their types, the SerDe and the projected partitions follow AWS's documented
statement, "Create the table for CloudTrail logs in Athena using partition projection":
https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
The schema is written once, with the record's own key names (camelCase); the DDL lowercases
them as AWS does, and ``record_from_row`` uses the same schema to restore them, so an Athena
row becomes the dict ``Finding.from_record`` reads from a log file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from deniedwatch.rules_sql import sql_string


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Array:
    item: Any


@dataclass(frozen=True)
class Map:
    """map<string,string>: keys are data, kept as they are."""


STRING = "STRING"
# STRING columns whose value in a record is a JSON object: the SerDe keeps its JSON text.
JSON_TEXT = "JSON_TEXT"

_SESSION_ISSUER = Struct(
    (
        ("type", STRING),
        ("principalId", STRING),
        ("arn", STRING),
        ("accountId", STRING),
        ("userName", STRING),
    )
)
_USER_IDENTITY = Struct(
    (
        ("type", STRING),
        ("principalId", STRING),
        ("arn", STRING),
        ("accountId", STRING),
        ("invokedBy", STRING),
        ("accessKeyId", STRING),
        ("userName", STRING),
        ("onBehalfOf", Struct((("userId", STRING), ("identityStoreArn", STRING)))),
        (
            "sessionContext",
            Struct(
                (
                    (
                        "attributes",
                        Struct((("mfaAuthenticated", STRING), ("creationDate", STRING))),
                    ),
                    ("sessionIssuer", _SESSION_ISSUER),
                    ("ec2RoleDelivery", STRING),
                    (
                        "webIdFederationData",
                        Struct((("federatedProvider", STRING), ("attributes", Map()))),
                    ),
                )
            ),
        ),
    )
)

# (record key, type), in the order of AWS's statement.
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("eventVersion", STRING),
    ("userIdentity", _USER_IDENTITY),
    ("eventTime", STRING),
    ("eventSource", STRING),
    ("eventName", STRING),
    ("awsRegion", STRING),
    ("sourceIPAddress", STRING),
    ("userAgent", STRING),
    ("errorCode", STRING),
    ("errorMessage", STRING),
    ("requestParameters", JSON_TEXT),
    ("responseElements", JSON_TEXT),
    ("additionalEventData", JSON_TEXT),
    ("requestID", STRING),
    ("eventID", STRING),
    ("readOnly", STRING),
    ("resources", Array(Struct((("ARN", STRING), ("accountId", STRING), ("type", STRING))))),
    ("eventType", STRING),
    ("apiVersion", STRING),
    ("recipientAccountId", STRING),
    ("serviceEventDetails", JSON_TEXT),
    ("sharedEventID", STRING),
    ("vpcEndpointId", STRING),
    ("vpcEndpointAccountId", STRING),
    ("eventCategory", STRING),
    (
        "addendum",
        Struct(
            (
                ("reason", STRING),
                ("updatedFields", STRING),
                ("originalRequestID", STRING),
                ("originalEventID", STRING),
            )
        ),
    ),
    ("sessionCredentialFromConsole", STRING),
    ("edgeDeviceDetails", JSON_TEXT),
    (
        "tlsDetails",
        Struct(
            (("tlsVersion", STRING), ("cipherSuite", STRING), ("clientProvidedHostHeader", STRING))
        ),
    ),
)
PARTITIONS = ("account", "region", "timestamp")
PARTITION_DAY = "%Y/%m/%d"  # projection.timestamp.format yyyy/MM/dd


@dataclass(frozen=True)
class Spelling:
    """How one SQL dialect writes the schema's types (format strings)."""

    string: str = "STRING"
    map: str = "MAP<STRING,STRING>"
    array: str = "ARRAY<{}>"
    struct: str = "STRUCT<{}>"
    field: str = "{name}: {type}"


HIVE = Spelling()  # Athena DDL, as AWS writes it


def column_type(kind: Any, spelling: Spelling = HIVE) -> str:
    """A schema type as DDL text (field names lower-case, as in AWS's statement)."""
    if kind in (STRING, JSON_TEXT):
        return spelling.string
    if isinstance(kind, Map):
        return spelling.map
    if isinstance(kind, Array):
        return spelling.array.format(column_type(kind.item, spelling))
    inner = ", ".join(
        spelling.field.format(name=name.lower(), type=column_type(t, spelling))
        for name, t in kind.fields
    )
    return spelling.struct.format(inner)


@dataclass(frozen=True)
class TableSpec:
    """Where the trail's files are and what the table is called."""

    bucket: str
    prefix: str = ""
    organization_id: str | None = None
    database: str = "deniedwatch"
    table: str = "cloudtrail_logs"

    @property
    def name(self) -> str:
        return f"{quote(self.database)}.{quote(self.table)}"

    @property
    def location(self) -> str:
        """s3://bucket/[prefix/]AWSLogs/[o-id/] - the folder that holds the account folders."""
        prefix = self.prefix.strip("/")
        parts = [self.bucket, *([prefix] if prefix else []), "AWSLogs"]
        if self.organization_id:
            parts.append(self.organization_id)
        return "s3://" + "/".join(parts) + "/"

    @property
    def location_template(self) -> str:
        return self.location + "${account}/CloudTrail/${region}/${timestamp}"


def quote(identifier: str) -> str:
    """A quoted Athena identifier (database/table names come from the command line)."""
    return '"' + identifier.replace('"', '""') + '"'


def projection_properties(
    spec: TableSpec, accounts: list[str], regions: list[str], first_day: date
) -> dict[str, str]:
    """The partition projection: account and region as enums (the folders found), the day
    as a date from first_day to NOW. See "Supported types for partition projection":
    https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
    """
    return {
        "projection.enabled": "true",
        "projection.account.type": "enum",
        "projection.account.values": ",".join(accounts),
        "projection.region.type": "enum",
        "projection.region.values": ",".join(regions),
        "projection.timestamp.type": "date",
        "projection.timestamp.format": "yyyy/MM/dd",
        "projection.timestamp.interval": "1",
        "projection.timestamp.interval.unit": "DAYS",
        "projection.timestamp.range": f"{first_day.strftime(PARTITION_DAY)},NOW",
        "storage.location.template": spec.location_template,
    }


def create_table_ddl(spec: TableSpec, properties: dict[str, str]) -> str:
    """AWS's CREATE EXTERNAL TABLE for CloudTrail, with account/region/day projected."""
    columns = ",\n".join(f"  {name.lower()} {column_type(kind)}" for name, kind in COLUMNS)
    partitions = ", ".join(f"`{p}` STRING" for p in PARTITIONS)
    props = ",\n".join(f"  {sql_string(k)}={sql_string(v)}" for k, v in properties.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{spec.database}`.`{spec.table}` (\n{columns}\n)\n"
        f"PARTITIONED BY ({partitions})\n"
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION {sql_string(spec.location)}\n"
        f"TBLPROPERTIES (\n{props}\n)"
    )


def alter_properties_ddl(spec: TableSpec, properties: dict[str, str]) -> str:
    props = ", ".join(f"{sql_string(k)}={sql_string(v)}" for k, v in properties.items())
    return f"ALTER TABLE `{spec.database}`.`{spec.table}` SET TBLPROPERTIES ({props})"


# ---- result rows -> records ---------------------------------------------------------


def select_list() -> str:
    """Every column, nested ones as JSON text (GetQueryResults returns text only)."""
    out = []
    for name, kind in COLUMNS:
        column = name.lower()
        if kind in (STRING, JSON_TEXT):
            out.append(column)
        else:
            out.append(f"json_format(CAST({column} AS JSON)) AS {column}")
    return ",\n  ".join(out)


def record_from_row(row: dict[str, str | None]) -> dict[str, Any]:
    """An Athena result row (column -> text or None) -> a CloudTrail record dict.

    Nulls and missing columns become missing keys, as in a log file without them; nested
    columns arrive as JSON text (an object, or an array in a column's order, which Trino
    gives for a ROW without field names); a JSON_TEXT column is decoded back to its object.
    Text that does not decode is kept as text: the Finding's getters take any shape.
    """
    record: dict[str, Any] = {}
    for name, kind in COLUMNS:
        text = row.get(name.lower())
        if text is None:
            continue
        if kind == STRING:
            record[name] = text
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            record[name] = text
            continue
        record[name] = _restore(value, kind) if kind != JSON_TEXT else value
    return record


def _restore(value: Any, kind: Any) -> Any:
    """Lower-case JSON from a struct -> the record's own key names, nulls dropped."""
    if value is None:
        return None
    if isinstance(kind, Array):
        return [_restore(v, kind.item) for v in value] if isinstance(value, list) else value
    if isinstance(kind, Struct):
        if isinstance(value, list):  # positional: a ROW cast without field names
            value = {n.lower(): v for (n, _), v in zip(kind.fields, value, strict=False)}
        if not isinstance(value, dict):
            return value
        lower = {str(k).lower(): v for k, v in value.items()}
        out = {}
        for name, inner in kind.fields:
            restored = _restore(lower.get(name.lower()), inner)
            if restored is not None:
                out[name] = restored
        return out
    return value
