"""The template's resources (logical id, type, condition), read from the template itself,
so the deploy summary and the deployer policy list exactly what the stack creates.

A line scan of our own template (no YAML library in the CLI's dependencies): each
resource is a two-space-indented key under ``Resources:`` with ``Type:`` and optionally
``Condition:`` four spaces in. tests/test_names.py checks the scan against cfn-lint's parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_RESOURCE = re.compile(r"^  ([A-Za-z0-9]+):\s*$")
_FIELD = re.compile(r"^    (Type|Condition):\s*(\S+)\s*$")


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    condition: str | None = None


def template_resources(text: str | None = None) -> list[Resource]:
    if text is None:
        from deniedwatch.deploy.plan import template_text

        text = template_text()
    found: list[Resource] = []
    fields: dict[str, str] = {}
    current: str | None = None
    in_resources = False

    def close() -> None:
        if current is not None:
            found.append(Resource(current, fields["Type"], fields.get("Condition")))

    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            close()
            current = None
            in_resources = line.rstrip() == "Resources:"
            continue
        if not in_resources:
            continue
        if m := _RESOURCE.match(line):
            close()
            current, fields = m.group(1), {}
        elif (m := _FIELD.match(line)) and current is not None:
            fields.setdefault(m.group(1), m.group(2))
    close()
    return found


def every_resource() -> list[Resource]:
    """Every resource a stack can have: the template's and, with --slack-interactivity,
    the function URL's (deploy/triage.yaml). The deployer policy covers them all."""
    from deniedwatch.deploy.plan import template_text
    from deniedwatch.deploy.triage_template import with_triage

    return template_resources(with_triage(template_text()))


def resources_for(
    parameters: Mapping[str, str],
    conditions: Mapping[str, Callable[[Mapping[str, str]], bool]],
    text: str | None = None,
) -> list[Resource]:
    """The resources a stack with ``parameters`` will have; ``conditions`` evaluates each
    template condition by name (deploy/plan.py CONDITIONS; a test checks it knows all)."""
    return [
        r
        for r in template_resources(text)
        if r.condition is None or conditions[r.condition](parameters)
    ]
