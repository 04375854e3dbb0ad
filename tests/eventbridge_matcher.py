"""An EventBridge event-pattern matcher written from AWS's documented semantics, to test
the pattern deniedwatch renders without AWS. It covers the operators the rendered
pattern uses and the ones its tests contrast them with:

- a pattern is a JSON object; its fields are ANDed and every field it names must be in
  the event with the same nesting; a leaf is an array of alternatives, ORed;
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
- exact values match by equality, case-sensitive (strings, numbers, null);
- prefix / suffix: the string value starts / ends with the text, case-sensitive;
- wildcard: "*" stands for zero or more characters, "\\*" and "\\\\" for themselves,
  case-sensitive; anything-but: not equal to the value / not in the list, or not
  matching the nested prefix / suffix / wildcard; exists: the field is (not) there;
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
- an array in the event matches when any of its elements does.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return _object_matches(pattern, event)


def _object_matches(pattern: dict[str, Any], event: Any) -> bool:
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if not _object_matches(rule, value if isinstance(value, dict) else {}):
                return False
            if value is _MISSING and not _only_absence(rule):
                return False
        elif isinstance(rule, list):
            if not _leaf_matches(rule, value):
                return False
        else:
            raise ValueError(f"pattern leaf {key!r} must be an array or an object")
    return True


def _only_absence(rule: dict[str, Any]) -> bool:
    """A nested pattern made only of {"exists": false} leaves matches a missing object."""
    return all(
        (isinstance(v, dict) and _only_absence(v)) or v == [{"exists": False}]
        for v in rule.values()
    )


def _leaf_matches(alternatives: list[Any], value: Any) -> bool:
    for alt in alternatives:
        if isinstance(alt, dict) and "exists" in alt:
            if (value is not _MISSING) == alt["exists"]:
                return True
            continue
        if value is _MISSING:
            continue
        values = value if isinstance(value, list) else [value]
        if any(_one(alt, v) for v in values):
            return True
    return False


def _one(alt: Any, value: Any) -> bool:
    if not isinstance(alt, dict):
        return type(alt) is type(value) and alt == value  # "1" is not 1, True is not 1
    ((op, arg),) = alt.items()
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "wildcard":
        return isinstance(value, str) and wildcard_regex(arg).fullmatch(value) is not None
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _one(arg, value)
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_one(x, value) for x in excluded)
    raise ValueError(f"operator {op!r} is not modelled here")


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "*":
            out.append(".*")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)
