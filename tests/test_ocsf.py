"""`scan -f ocsf`: every event is an OCSF 1.5.0 Detection Finding that validates against
the OCSF JSON schema (generated offline from the schema export the ocsf-json-schema
package ships: nothing is fetched), for the bundled examples and for 1,000 findings
built from hostile, random records; every Finding field is mapped or under ``unmapped``.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from deniedwatch import report_ocsf
from deniedwatch.finding import SCHEMA_FIELDS, Finding
from dwtest import EXAMPLE_CONFIG, EXAMPLES
from live_support import denial
from strategies import random_records

OCSF_VERSION = "1.5.0"


@cache
def validator() -> Draft202012Validator:
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))
    class_name = schema.lookup_class_name_from_uid(2004)
    assert class_name == "detection_finding"
    js = schema.get_class_schema(class_name, profiles=["cloud"])
    Draft202012Validator.check_schema(js)
    return Draft202012Validator(js)


def problems(event: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator().iter_errors(event)
    ]


def ocsf_lines(findings: list[Finding], **kw: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    report_ocsf.write_ocsf(findings, out, **kw)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_validator_is_strict_enough_to_catch_a_wrong_event() -> None:
    (good,) = ocsf_lines([Finding.from_record(denial())])
    assert problems(good) == []
    for broken in (
        {k: v for k, v in good.items() if k != "finding_info"},  # required
        {**good, "severity_id": 42},  # not in the enum
        {**good, "who": "mallory"},  # not an attribute: it belongs in unmapped
        {**good, "evidences": [{"actor": {"user": {"name": 7}}}]},  # wrong type
    ):
        assert problems(broken), broken


def test_the_bundled_examples_validate_and_carry_every_finding(cli, tmp_path: Path) -> None:
    out = tmp_path / "findings.ocsf.jsonl"
    result = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-f", "ocsf", "-o", out)
    assert result.exit_code == 0, result.stderr
    jsonl = tmp_path / "findings.jsonl"
    plain_run = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-f", "jsonl", "-o", jsonl)
    assert plain_run.exit_code == 0
    plain = [json.loads(line) for line in jsonl.read_text().splitlines()]
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == len(plain) > 10
    for event, f in zip(events, plain, strict=True):
        assert problems(event) == [], event
        assert (event["class_uid"], event["type_uid"], event["metadata"]["version"]) == (
            2004,
            200401,
            OCSF_VERSION,
        )
        assert event["metadata"]["uid"] == f["event_id"]
        evidence = event["evidences"][0]
        assert evidence["api"]["operation"] == f["event_name"]
        assert evidence["actor"]["user"].get("name") == f["principal_name"]
        assert evidence["actor"]["authorizations"][0]["decision"] == "Denied"
        assert event["unmapped"]["action"] == f["action"]
        assert event["finding_info"].get("src_url") == f["console_url"]
        if f["resource"]:
            assert event["resources"][0]["uid"] == f["resource"]
        if f["denial_policy_arn"]:
            assert evidence["actor"]["authorizations"][0]["policy"]["uid"] == f["denial_policy_arn"]
        if f["hint"]:
            assert event["remediation"]["desc"] == f["hint"]
    assert {e["severity_id"] for e in events} <= {2, 3, 4}
    assert any(e["severity_id"] == 4 for e in events)  # severity.py's high reaches OCSF


def test_suppressed_denials_are_marked_suppressed_not_dropped(cli, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    args = ("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-f", "ocsf", "-o", out)
    assert cli(*args, "--include-suppressed").exit_code == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    shown = tmp_path / "shown.jsonl"
    assert cli(*args[:-1], shown).exit_code == 0
    kept = {json.loads(line)["metadata"]["uid"] for line in shown.read_text().splitlines()}
    marked = {e["metadata"]["uid"] for e in events if e["status_id"] == 3}
    assert marked and marked == {e["metadata"]["uid"] for e in events} - kept
    assert all(problems(e) == [] for e in events)


def test_every_finding_field_has_a_place() -> None:
    placed = set(report_ocsf.MAPPED) | set(report_ocsf.UNMAPPED)
    assert set(SCHEMA_FIELDS) <= placed, set(SCHEMA_FIELDS) - placed
    f = Finding.from_record(denial(message="User: x is not authorized to perform: s3:GetObject"))
    (event,) = ocsf_lines([f])
    assert event["unmapped"]["action"] == "s3:GetObject"
    assert event["unmapped"]["principal_type"] == "IAMUser"


def test_a_service_name_as_source_is_not_written_as_an_ip() -> None:
    f = Finding.from_record(denial(sourceIPAddress="cloudformation.amazonaws.com"))
    (event,) = ocsf_lines([f])
    assert event["evidences"][0]["src_endpoint"] == {"svc_name": "cloudformation.amazonaws.com"}
    assert problems(event) == []


GENERATED: list[int] = []


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_records)
def test_1000_findings_from_random_records_validate(record: dict[str, Any]) -> None:
    """Whatever the caller wrote in the record (the attacker's text), the event is valid
    OCSF: a forged time, a number for a name, a service as source, an empty everything."""
    f = Finding.from_record(record)
    (event,) = ocsf_lines([f], severity=lambda _f: "high", now_ms=1)
    assert problems(event) == [], (record, event)
    GENERATED.append(1)


def test_the_property_test_really_ran_1000_times() -> None:
    if len(GENERATED) < 1000:
        pytest.fail(f"only {len(GENERATED)} generated findings were validated (run the file)")


def test_the_example_in_docs_scan_md_is_what_the_code_writes_and_validates() -> None:
    import deniedwatch
    from deniedwatch.severity import severity

    text = (Path(__file__).parent.parent / "docs" / "scan.md").read_text(encoding="utf-8")
    block = text.split("## OCSF", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    shown = json.loads(block)
    sample = Path(deniedwatch.__file__).parent / "data" / "sample_record.json"
    f = Finding.from_record(json.loads(sample.read_text()))
    assert shown == report_ocsf.to_dict(report_ocsf.event(f, severity=severity(f)))
    assert problems(shown) == []
