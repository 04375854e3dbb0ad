"""What the bundled sample export (examples/cloudtrail) holds, worked out here from the files
and the rule as documented, independently of the code under test; and how to read the
scan's JSON-lines output. Shared by the scan, S3 and Athena tests."""

from __future__ import annotations

import gzip
import json
from typing import Any

from dwtest import EXAMPLES, CliResult


def _raw_records() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every sample record, and the region folder of the file that holds each one."""
    records, folder = [], {}
    for path in sorted(EXAMPLES.rglob("*.json.gz")):
        if "/CloudTrail/" in path.as_posix():
            region = path.as_posix().split("/CloudTrail/")[1].split("/")[0]
            for r in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
                records.append(r)
                folder[r["eventID"]] = region
    return records, folder


RAW, FOLDER_REGION = _raw_records()
EXACT = {
    "AuthorizationError",
    "AuthorizationErrorException",
    "ForbiddenException",
    "UnauthorizedException",
}


def _is_denial(r: dict[str, Any]) -> bool:
    code = r.get("errorCode") or ""
    return "AccessDenied" in code or code.endswith("UnauthorizedOperation") or code in EXACT


def _default_suppressed(r: dict[str, Any]) -> bool:
    return (
        r["eventName"] == "HeadBucket"
        or r["sourceIPAddress"] == "delivery.logs.amazonaws.com"
        or r["userIdentity"].get("accountId") == "ANONYMOUS_PRINCIPAL"
    )


def _config_suppressed(r: dict[str, Any]) -> bool:  # the rule in examples/deniedwatch.toml
    return (
        r["eventSource"] == "config.amazonaws.com"
        and r["userIdentity"].get("invokedBy") == "config.amazonaws.com"
    )


DENIALS = [r for r in RAW if _is_denial(r)]
NO_CONFIG_IDS = {r["eventID"] for r in DENIALS if not _default_suppressed(r)}
CONFIG_IDS = {
    r["eventID"] for r in DENIALS if not _default_suppressed(r) and not _config_suppressed(r)
}
ALL_DENIAL_IDS = {r["eventID"] for r in DENIALS}


def jsonl(result: CliResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def ids(result: CliResult) -> set[str]:
    return {f["event_id"] for f in jsonl(result)}
