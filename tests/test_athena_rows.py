"""An Athena result row -> the CloudTrail record -> the same Finding as the log file gives.

Rows are written as GetQueryResults returns the CloudTrail table's columns: text cells,
NULL as a missing value, structs and arrays as the JSON text json_format gives (lower-case
field names, every field present, null where absent)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from athena_table import example_rows
from deniedwatch.finding import Finding
from deniedwatch.sources.cloudtrail_table import COLUMNS, record_from_row, select_list


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


IDENTITY = {
    "type": "AssumedRole",
    "principalid": "AROAEXAMPLE:build-4711",
    "arn": None,
    "accountid": "111122223333",
    "invokedby": None,
    "accesskeyid": "ASIAEXAMPLE",
    "username": None,
    "onbehalfof": None,
    "sessioncontext": {
        "attributes": {"mfaauthenticated": "false", "creationdate": "2026-11-20T09:00:00Z"},
        "sessionissuer": {
            "type": "Role",
            "principalid": "AROAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:role/deploy-pipeline",
            "accountid": "111122223333",
            "username": "deploy-pipeline",
        },
        "ec2roledelivery": None,
        "webidfederationdata": None,
    },
}
ROW: dict[str, str | None] = {
    "eventversion": "1.10",
    "useridentity": _json(IDENTITY),
    "eventtime": "2026-11-20T10:00:00Z",
    "eventsource": "s3.amazonaws.com",
    "eventname": "GetObject",
    "awsregion": "eu-west-1",
    "sourceipaddress": "203.0.113.10",
    "useragent": '{"looks":"like json"}',
    "errorcode": "AccessDenied",
    "errormessage": None,
    "requestparameters": _json({"bucketName": "b", "key": "k"}),
    "eventid": "e-1",
    "resources": _json([{"arn": "arn:aws:s3:::b/k", "accountid": None, "type": "AWS::S3::Object"}]),
    "recipientaccountid": "111122223333",
    "tlsdetails": None,
}


def test_a_row_becomes_the_record_a_log_file_holds() -> None:
    record = record_from_row(ROW)
    assert record["userIdentity"] == {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:build-4711",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-20T09:00:00Z"},
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": "arn:aws:iam::111122223333:role/deploy-pipeline",
                "accountId": "111122223333",
                "userName": "deploy-pipeline",
            },
        },
    }
    assert record["resources"] == [{"ARN": "arn:aws:s3:::b/k", "type": "AWS::S3::Object"}]
    assert record["requestParameters"] == {"bucketName": "b", "key": "k"}
    assert record["userAgent"] == '{"looks":"like json"}'  # a STRING column stays text
    assert "errorMessage" not in record and "tlsDetails" not in record  # NULL: absent
    f = Finding.from_record(record)
    assert f.principal_name == "deploy-pipeline/build-4711"  # issuer + session, arn null
    assert f.resource == "arn:aws:s3:::b/k"
    assert (f.account_id, f.caller_account_id) == ("111122223333", "111122223333")
    assert f.console_url and f.console_url.startswith("https://eu-west-1.console")


def test_missing_and_null_columns_give_none_never_an_error() -> None:
    f = Finding.from_record(record_from_row({"eventid": "e-2", "useridentity": None}))
    assert f.event_id == "e-2"
    assert (f.principal_type, f.principal_name, f.account_id, f.resource) == (None,) * 4
    assert Finding.from_record(record_from_row({})).event_id is None


def test_a_struct_without_field_names_maps_by_position() -> None:
    """Trino casts a ROW without field names to a JSON array, in the column's order."""
    positional = _json(["IAMUser", "AIDA1", "arn:aws:iam::1:user/eve", "1", None, None, "eve"])
    f = Finding.from_record(record_from_row({"useridentity": positional}))
    assert (f.principal_type, f.principal_name, f.principal_arn) == (
        "IAMUser",
        "eve",
        "arn:aws:iam::1:user/eve",
    )


@pytest.mark.parametrize(
    "text", ["{type=IAMUser, arn=arn:aws:iam::1:user/eve}", "[1,", '"just a string"', "42"]
)
def test_text_that_is_not_the_structs_json_is_kept_harmlessly(text: str) -> None:
    f = Finding.from_record(record_from_row({"useridentity": text, "resources": text}))
    assert (f.principal_type, f.principal_arn, f.resource) == (None, None, None)


def test_every_example_round_trips_to_the_same_finding() -> None:
    """The bundled records, as Athena rows (every field, nulls included), give the Finding
    their log file gives - caller_account_id too."""
    import gzip

    from dwtest import EXAMPLES

    originals = {}
    for path in EXAMPLES.rglob("*.json.gz"):
        if "/CloudTrail/" in path.as_posix():
            for r in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
                originals[r["eventID"]] = r
    names = [n.lower() for n, _ in COLUMNS]
    rows = example_rows()
    assert len(rows) == len(originals) == 33
    for row in rows:
        athena = {n: None if row[n] is None else _cell_text(row[n]) for n in names}
        mine = Finding.from_record(record_from_row(athena))
        theirs = Finding.from_record(originals[row["eventid"]])
        assert mine == theirs
        assert mine.caller_account_id == theirs.caller_account_id


def _cell_text(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)


def test_the_select_list_names_every_column_once() -> None:
    listed = [part.split(" AS ")[-1].strip() for part in select_list().split(",\n")]
    assert listed == [n.lower() for n, _ in COLUMNS]


# The column list of AWS's statement ("Create the table for CloudTrail logs in Athena using
# partition projection"), typed in here from the page, compared without case or spaces.
AWS_COLUMNS = """
    eventversion STRING,
    useridentity STRUCT<
        type: STRING, principalid: STRING, arn: STRING, accountid: STRING,
        invokedby: STRING, accesskeyid: STRING, username: STRING,
        onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING,
                accountid: STRING, username: STRING>,
            ec2roledelivery:string,
            webidfederationdata: STRUCT<federatedprovider: STRING,
                attributes: map<string,string>>
        >
    >,
    eventtime STRING, eventsource STRING, eventname STRING, awsregion STRING,
    sourceipaddress STRING, useragent STRING, errorcode STRING, errormessage STRING,
    requestparameters STRING, responseelements STRING, additionaleventdata STRING,
    requestid STRING, eventid STRING, readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING, apiversion STRING, recipientaccountid STRING,
    serviceeventdetails STRING, sharedeventid STRING, vpcendpointid STRING,
    vpcendpointaccountid STRING, eventcategory STRING,
    addendum STRUCT<reason:STRING, updatedfields:STRING, originalrequestid:STRING,
        originaleventid:STRING>,
    sessioncredentialfromconsole STRING, edgedevicedetails STRING,
    tlsdetails STRUCT<tlsversion:STRING, ciphersuite:STRING, clientprovidedhostheader:STRING>
"""


def test_the_ddl_has_aws_documented_columns_serde_and_projection() -> None:
    from datetime import date

    from deniedwatch.sources.cloudtrail_table import (
        TableSpec,
        create_table_ddl,
        projection_properties,
    )

    spec = TableSpec("b", "p/", "o-a1b2c3d4e5", "db", "t")
    props = projection_properties(spec, ["111122223333"], ["us-east-1"], date(2020, 1, 1))
    ddl = create_table_ddl(spec, props)
    body = ddl[ddl.index("(") + 1 : ddl.index("\n)\nPARTITIONED BY")]
    assert "".join(body.split()).lower() == "".join(AWS_COLUMNS.split()).lower()
    assert "PARTITIONED BY (`account` STRING, `region` STRING, `timestamp` STRING)" in ddl
    assert "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'" in ddl
    assert "INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'" in ddl
    assert "LOCATION 's3://b/p/AWSLogs/o-a1b2c3d4e5/'" in ddl
    assert (
        "'storage.location.template'="
        "'s3://b/p/AWSLogs/o-a1b2c3d4e5/${account}/CloudTrail/${region}/${timestamp}'"
    ) in ddl
    assert "'projection.timestamp.format'='yyyy/MM/dd'" in ddl
    assert "'projection.timestamp.range'='2020/01/01,NOW'" in ddl
