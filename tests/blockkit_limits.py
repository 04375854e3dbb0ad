"""Block Kit limit checks for tests: which of Slack's limits a payload breaks.

Test-only (it was in the production Slack module): rendering tests and the
reliability suites assert ``limit_problems(payload) == []``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deniedwatch.alerts.slack import (
    BLOCKS_MAX,
    CONTEXT_ELEMENTS_MAX,
    FALLBACK_TEXT_MAX,
    FIELD_TEXT_MAX,
    FIELDS_MAX,
    HEADER_MAX,
    SECTION_TEXT_MAX,
)
from deniedwatch.alerts.text import width


def limit_problems(payload: Mapping[str, Any]) -> list[str]:
    """Block Kit limits this payload breaks (empty when fine)."""
    problems = []
    blocks = payload.get("blocks", [])
    if len(blocks) > BLOCKS_MAX:
        problems.append(f"{len(blocks)} blocks")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header" and (
            block["text"]["type"] != "plain_text" or width(block["text"]["text"]) > HEADER_MAX
        ):
            problems.append(f"block {i}: header")
        if kind == "section":
            if "text" in block and width(block["text"]["text"]) > SECTION_TEXT_MAX:
                problems.append(f"block {i}: section text")
            fields = block.get("fields", [])
            if len(fields) > FIELDS_MAX:
                problems.append(f"block {i}: {len(fields)} fields")
            for field in fields:
                if width(field["text"]) > FIELD_TEXT_MAX:
                    problems.append(f"block {i}: field text")
        if kind == "context" and len(block.get("elements", [])) > CONTEXT_ELEMENTS_MAX:
            problems.append(f"block {i}: context elements")
    if width(payload.get("text", "")) > FALLBACK_TEXT_MAX:
        problems.append("fallback text")
    return problems
