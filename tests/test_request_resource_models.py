"""Issue 24 item 5: the resources named in requestParameters beyond the hand table, from
botocore's service models: the data file, the real RDS events, ARN-valued parameters,
and the coverage figure docs/explain.md gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.finding import Finding
from deniedwatch.request_resource import resource_from_request
from request_resources_data import OUT, build
from resource_coverage import coverage, table

ACCT = "111122223333"
DOC = Path(__file__).resolve().parents[1] / "docs/explain.md"


def test_the_data_file_is_what_botocore_gives() -> None:
    """Fails after a botocore upgrade until `.venv/bin/python tests/request_resources_data.py`."""
    shipped = json.loads(OUT.read_text())
    fresh = build()
    assert shipped["botocore"] == fresh["botocore"], "regenerate the request resources"
    assert shipped["operations"] == fresh["operations"]


SNAP = f"arn:aws:rds:us-east-1:{ACCT}:snapshot:rds:db1-2026-11-20"
# The five real RDS events issue 24 quotes (the parameter names and value shapes as
# CloudTrail wrote them), each denied with a message that names no resource.
RDS: list[tuple[str, dict[str, Any], str]] = [
    (
        "StartExportTask",
        {
            "exportTaskIdentifier": "exfil-1",
            "sourceArn": SNAP,
            "s3BucketName": "attacker-bucket",
            "iamRoleArn": f"arn:aws:iam::{ACCT}:role/export",
            "kmsKeyId": "k",
        },
        SNAP,
    ),
    (
        "StopActivityStream",
        {"resourceArn": f"arn:aws:rds:us-east-1:{ACCT}:cluster:aurora-1", "applyImmediately": True},
        f"arn:aws:rds:us-east-1:{ACCT}:cluster:aurora-1",
    ),
    (
        "CopyDBSnapshot",
        {"sourceDBSnapshotIdentifier": SNAP, "targetDBSnapshotIdentifier": "copy-1"},
        SNAP,
    ),
    (
        "DeleteDBInstanceAutomatedBackup",
        {"dbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY"},
        "db-ABCDEFGHIJKLMNOPQRSTUVWXY",
    ),
    (
        "AuthorizeDBSecurityGroupIngress",
        {"dBSecurityGroupName": "default", "cIDRIP": "0.0.0.0/0"},
        "default",
    ),
]


@pytest.mark.parametrize(("operation", "params", "resource"), RDS)
def test_real_rds_denials_name_their_resource(
    operation: str, params: dict[str, Any], resource: str
) -> None:
    record = {
        "eventVersion": "1.08",
        "eventTime": "2026-11-20T09:01:10Z",
        "eventSource": "rds.amazonaws.com",
        "eventName": operation,
        "awsRegion": "us-east-1",
        "errorCode": "AccessDenied",
        "errorMessage": "Access Denied",
        "requestParameters": params,
        "recipientAccountId": ACCT,
    }
    f = Finding.from_record(record)
    assert f.resource == resource
    assert f"on {resource}" in (f.hint or "")


def test_an_arn_valued_parameter_is_a_candidate_its_own_service_first() -> None:
    params = {
        "roleArn": f"arn:aws:iam::{ACCT}:role/r",
        "thingArn": f"arn:aws:newsvc:us-east-1:{ACCT}:thing/t",
    }
    assert resource_from_request("newsvc", params, "aws", "DoThing") == params["thingArn"]
    assert resource_from_request("othersvc", params, "aws", "DoThing") == params["roleArn"]
    assert resource_from_request("othersvc", {"name": "x"}, "aws", "DoThing") is None


def test_the_table_order_wins_over_other_parameters() -> None:
    """CopyDBSnapshot: the source, never the copy about to be made."""
    params = {"targetDBSnapshotIdentifier": "copy", "sourceDBSnapshotIdentifier": "orig"}
    assert resource_from_request("rds", params, "aws", "CopyDBSnapshot") == "orig"


def test_the_coverage_docs_give_is_what_is_measured() -> None:
    doc = DOC.read_text().splitlines()
    missing = [line for line in table(coverage()) if line not in doc]
    assert not missing, "docs/explain.md: print tests/resource_coverage.py\n" + "\n".join(missing)
