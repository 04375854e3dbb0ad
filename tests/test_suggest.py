"""`scan --suggest-suppressions`: routine noise becomes rules that cannot be borrowed, and
the rules, loaded with --config on the same data, hide exactly what they said."""

from __future__ import annotations

import gzip
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deniedwatch import suggest
from deniedwatch.finding import Finding
from dwtest import CliResult

Cli = Callable[..., CliResult]
ACCOUNT = "111122223333"


def record(i: int, day: int, identity: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.10",
        "eventID": f"{i:08d}-aaaa-bbbb-cccc-dddddddddddd",
        "eventTime": f"2026-11-{day:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.0",
        "errorCode": "AccessDenied",
        "errorMessage": "User is not authorized to perform: s3:GetObject",
        "recipientAccountId": ACCOUNT,
        "userIdentity": identity,
        **fields,
    }


def service(name: str) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": name}


def user(name: str) -> dict[str, Any]:
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    return {"type": "IAMUser", "userName": name, "arn": arn, "accountId": ACCOUNT}


def role(name: str, session: str) -> dict[str, Any]:
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}"
    return {"type": "AssumedRole", "arn": arn, "accountId": ACCOUNT}


def history() -> list[dict[str, Any]]:
    """A week of denials: noise of each kind, and what must never be suggested."""
    out: list[dict[str, Any]] = []
    n = iter(range(10_000))
    for day in range(1, 8):
        # noise: a service, a scanner's service-linked role, a daily read
        out.append(record(next(n), day, service("config.amazonaws.com")))
        out.append(record(next(n), day, role("AWSServiceRoleForConfig", f"s{day}")))
        out.append(record(next(n), day, user("ci-bot"), eventName="ListBuckets"))
        # never: a write that says it came from the console (the caller writes the agent)
        out.append(
            record(next(n), day, role("ops", "alice"), userAgent="AWS Internal", eventName="Put")
        )
        # never: a write by a user, a federated user (name chosen by its caller), root,
        # anonymous, and an IAM user *named* like the service (borrowing its name)
        out.append(record(next(n), day, user("mallory"), eventName="PutObject"))
        fed = {"type": "FederatedUser", "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/x"}
        out.append(record(next(n), day, fed, eventName="ListBuckets"))
        out.append(record(next(n), day, {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"}))
        anon = {"type": "AWSAccount", "accountId": "ANONYMOUS_PRINCIPAL"}
        out.append(record(next(n), day, anon, eventName="ListObjects"))
        out.append(record(next(n), day, user("config.amazonaws.com"), eventName="DeleteObject"))
    # a read-only call on two days only: not "repeated daily"
    out += [record(next(n), 1 + i % 2, user("bob"), eventName="GetBucketPolicy") for i in range(6)]
    return out


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    folder = tmp_path / "trail"
    folder.mkdir()
    body = json.dumps({"Records": history()}).encode()
    (folder / f"{ACCOUNT}_CloudTrail_eu-west-1_20261108T0000Z_x.json.gz").write_bytes(
        gzip.compress(body)
    )
    return folder


def _jsonl(result: CliResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_suggestions_round_trip(cli: Cli, trail: Path, tmp_path: Path) -> None:
    before = cli("scan", trail, "-f", "jsonl")
    assert before.exit_code == 0, before.stderr
    shown = _jsonl(before)

    out = tmp_path / "suggested.toml"
    made = cli("scan", trail, "--suggest-suppressions", "-o", out)
    assert made.exit_code == 0, made.stderr
    text = out.read_text()
    rules = tomllib.loads(text)["suppress"]["rule"]
    counts = [int(c) for c in re.findall(r"^# (\d+) denials, ", text, re.MULTILINE)]
    assert len(rules) == len(counts) == 3
    whys = re.findall(r"^# why: (.*)$", text, re.MULTILINE)
    assert whys == [
        "an AWS service's own call (config.amazonaws.com)",
        "the AWS Config scanner's service-linked role",
        "a read-only call repeated on 7 days",
    ]
    for rule in rules:  # anchored on what a caller cannot choose
        assert rule.get("principal_type") == "AWSService" or "principal_arn" in rule
    assert rules[0]["principal_type"] == "AWSService"
    assert (
        rules[1]["principal_arn"]
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForConfig/*"
    )
    assert "# 7 denials, 2026-11-01 " in text and " UTC, on 7 days" in text

    after = cli("scan", trail, "--config", out, "-f", "jsonl")
    assert after.exit_code == 0, after.stderr
    hidden = {f["event_id"] for f in shown} - {f["event_id"] for f in _jsonl(after)}
    assert len(hidden) == sum(counts) == 21
    assert len(_jsonl(after)) == len(shown) - sum(counts)
    per_rule = dict(re.findall(r"(suggested-[a-z0-9-]+) (\d+)", after.stderr))
    assert {r["name"]: c for r, c in zip(rules, counts, strict=True)} == {
        k: int(v) for k, v in per_rule.items()
    }
    remaining = _jsonl(after)
    names = {(f["principal_type"], f["principal_name"]) for f in remaining}
    # the borrowed service name, the write, root, the federated user, bob: all still shown
    assert ("IAMUser", "config.amazonaws.com") in names
    assert ("IAMUser", "mallory") in names and ("Root", "root") in names
    assert ("IAMUser", "bob") in names and ("AssumedRole", "ops/alice") in names
    assert any(t == "FederatedUser" for t, _ in names)


def test_nothing_to_suggest_is_still_valid_toml(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "none.toml"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.json").write_text('{"Records": []}')
    assert cli("scan", empty, "--suggest-suppressions", "-o", out).exit_code == 0
    assert tomllib.loads(out.read_text()) == {}
    assert "0 rules for 0 of 0 denials" in out.read_text()


def test_record_text_cannot_break_the_toml() -> None:
    evil = 'Get"]\n[[suppress.rule]]\nname = "all"\nevent_name = "*'
    records = [
        record(i, 1 + i % 5, user("ci-bot"), eventName="GetThing", userAgent="AWS Internal")
        for i in range(5)
    ]
    records += [
        record(10 + i, 1 + i % 5, service("config.amazonaws.com"), errorCode=f"AccessDenied{evil}")
        for i in range(5)
    ]
    findings = [Finding.from_record(r) for r in records]
    text = suggest.to_toml(suggest.suggest(findings), len(findings))
    rules = tomllib.loads(text)["suppress"]["rule"]
    assert len(rules) == 2
    (service_rule,) = [r for r in rules if r.get("principal_type") == "AWSService"]
    assert service_rule["error_code"] == f"AccessDenied{evil}"  # one value, not a new rule
    assert not any(r.get("name") == "all" for r in rules)


def test_glob_characters_in_an_event_name_get_no_rule() -> None:
    records = [
        record(i, 1 + i, service("config.amazonaws.com"), eventName="Get*") for i in range(5)
    ]
    assert suggest.suggest([Finding.from_record(r) for r in records]) == []


def test_suggest_with_a_format_is_a_usage_error(cli: Cli, trail: Path) -> None:
    result = cli("scan", trail, "--suggest-suppressions", "-f", "jsonl")
    assert result.exit_code == 2
    assert "--suggest-suppressions writes TOML: leave out --format" in result.stderr
