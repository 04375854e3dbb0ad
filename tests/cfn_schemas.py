"""CloudFormation's own resource schemas (shipped with cfn-lint): the IAM actions each
resource type's create/read/update/delete handlers need. Source of
src/deniedwatch/deploy/cfn_permissions.json, which the CLI ships (cfn-lint is a dev
dependency only). After adding a resource type to the template, run:

    .venv/bin/python tests/cfn_schemas.py
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

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


def handler_permissions(resource_type: str) -> list[str]:
    handlers = _schemas()[resource_type].get("handlers", {})
    actions = {a for h in HANDLERS for a in handlers.get(h, {}).get("permissions", [])}
    return sorted(actions)


def expected(types: set[str]) -> dict[str, list[str]]:
    return {t: handler_permissions(t) for t in sorted(types)}


def render(types: set[str]) -> str:
    return json.dumps(expected(types), indent=1) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    from deniedwatch.deploy.resources import every_resource

    SHIPPED.write_text(render({r.type for r in every_resource()}), encoding="utf-8")
    print(f"wrote {SHIPPED}")
