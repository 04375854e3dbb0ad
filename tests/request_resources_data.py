"""Write src/deniedwatch/data/request_resources.json: per service and operation, the
request parameters that name the operation's resource, from botocore's service models
(the input shapes), for ``request_resource.resource_from_request``.

Run after upgrading botocore: ``.venv/bin/python tests/request_resources_data.py``.
tests/test_request_resource.py checks the file against the installed botocore and
measures the coverage docs/explain.md gives.

Which input members name the resource, in order of preference (CloudTrail writes them
in lower camel case: ``DBSecurityGroupName`` -> ``dBSecurityGroupName``):

1. a required string member named ``…Arn`` / ``…ARN`` (``SourceArn``, ``ResourceArn``);
2. a required string member named ``…Identifier`` / ``…Id`` / ``…Name``
   (``DBSecurityGroupName``, ``SourceDBSnapshotIdentifier``);
3. the same names when not required (``DbiResourceId``).

Left out everywhere: what names another thing than the target (a role passed to the
service, a KMS key, the name of a copy to create: ``IamRoleArn``, ``KmsKeyId``,
``Target…``, ``New…``, ``ClientToken``). At most three a operation.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import botocore
import botocore.session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from deniedwatch.actions import service_prefix

OUT = Path(__file__).resolve().parents[1] / "src/deniedwatch/data/request_resources.json"
_ARN = re.compile(r"(?:Arn|ARN)$")
_ID = re.compile(r"(?:Identifier|Id|ID|Name)$")
_NOT_THE_TARGET = re.compile(
    r"^(?:Target|New|Client|Idempotency|Next|Max|Kms|IamRole|Role|ExecutionRole|ServiceRole)"
    r"|(?:Token|KmsKeyId|KmsKeyArn|RoleArn|RoleName|KeyName)$"
)
MAX_KEYS = 3


def cloudtrail_name(member: str) -> str:
    """botocore's member name as CloudTrail writes it: the first letter lower-cased."""
    return member[:1].lower() + member[1:]


def resource_members(shape: Any, service: str) -> list[str]:
    """The input members that name the operation's resource, best first."""
    if shape is None or shape.type_name != "structure":
        return []
    required = set(shape.required_members)
    strings = [
        name
        for name, member in shape.members.items()
        if member.type_name == "string"
        and (service in ("iam", "kms", "sts") or not _NOT_THE_TARGET.search(name))
    ]
    ranked = (
        [n for n in strings if n in required and _ARN.search(n)]
        + [n for n in strings if n in required and _ID.search(n)]
        + [n for n in strings if n not in required and (_ARN.search(n) or _ID.search(n))]
    )
    seen: list[str] = []
    for name in ranked:
        if name not in seen:
            seen.append(name)
    return seen[:MAX_KEYS]


def models() -> dict[str, Any]:
    """IAM service prefix -> [botocore service model], for every service botocore has."""
    session = botocore.session.get_session()
    out: dict[str, list[Any]] = {}
    for name in sorted(session.get_available_services()):
        model = session.get_service_model(name)
        # CloudTrail's eventSource host is the signing name (ecr.amazonaws.com, where
        # the endpoint prefix is api.ecr), else the endpoint prefix
        host = model.metadata.get("signingName") or model.metadata.get("endpointPrefix") or name
        out.setdefault(service_prefix(f"{host}.amazonaws.com"), []).append(model)
    return out


def build() -> dict[str, Any]:
    table: dict[str, dict[str, str]] = {}
    for prefix, service_models in models().items():
        for model in service_models:
            for op in model.operation_names:
                keys = resource_members(model.operation_model(op).input_shape, prefix)
                if keys:
                    table.setdefault(prefix, {})[op] = " ".join(map(cloudtrail_name, keys))
    return {
        "source": "botocore service models (input shapes)",
        "botocore": botocore.__version__,
        "operations": {p: dict(sorted(ops.items())) for p, ops in sorted(table.items())},
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
