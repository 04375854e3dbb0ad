"""A test-only evaluator of CloudWatch Logs JSON filter patterns, as documented.

Simulated: moto does not evaluate filter patterns, and real CloudWatch Logs judges the
rendered pattern only at deploy time (logs:TestMetricFilter, deploy/preflight.py). This
follows the documented semantics, and tests/test_cwl_filter.py checks it against the
documentation's own examples:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
("Matching Terms in JSON Log Events", "JSON Compound Conditions", "Numeric Comparisons").

- ``{ SELECTOR OP VALUE }``; SELECTOR is ``$`` then ``.name`` / ``[N]`` steps.
- ``*`` at the start (``*Event``: PutEvent) or the end (``Event*``: EventId) is a
  wildcard; inside (``Ev*ent``) it is literal. A wildcard at BOTH ends appears in no
  JSON example, so this evaluator refuses it (UndocumentedPattern) rather than guess.
- A selector that points at an array or object matches neither ``=`` nor ``!=``.
- ``IS NULL``, ``NOT EXISTS``, ``IS TRUE`` / ``IS FALSE``; ``&&`` binds tighter than
  ``||``; parentheses group.
- ``%REGEX%`` as a value: a regular expression found anywhere in the value ("%AUTHORIZED%"
  matches "UNAUTHORIZED REQUEST"), of the documented characters only (letters, digits,
  ``:_#=@/;,-`` and the operators ``^$?[]{}|*+.`` and backslash; no parentheses), at most 2 in one
  pattern: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/regex-expressions.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<quoted>"(?:[^"\\]|\\.)*")
    | (?P<regex>%[^%]+%)
    | (?P<op>\|\||&&|!=|<=|>=|=|<|>|\(|\)|\{|\})
    | (?P<word>[^\s()"=!<>&|{}]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()
_REGEX_CHARS = re.compile(r"[A-Za-z0-9:_#=@/;,\-^$?\[\]{}|\\*+.]+")
REGEX_LIMIT = 2  # regular expressions in one JSON filter pattern
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class UndocumentedPattern(ValueError):
    """A form the documentation does not define; real CloudWatch may read it differently."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read the pattern at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _select(doc: Any, selector: str) -> Any:
    steps = re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]", selector[1:])
    if (
        not selector.startswith("$")
        or "".join(f".{n}" if n else f"[{i}]" for n, i in steps) != selector[1:]
    ):
        raise ValueError(f"not a selector: {selector}")
    node = doc
    for name, index in steps:
        if name and isinstance(node, dict) and name in node:
            node = node[name]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return _MISSING
    return node


def _string_match(value: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    lead, trail = pattern.startswith("*"), pattern.endswith("*")
    if lead and trail:
        raise UndocumentedPattern(f"wildcard at both ends: {pattern!r}")
    if lead:
        return value.endswith(pattern[1:])
    if trail:
        return value.startswith(pattern[:-1])
    return value == pattern  # a * inside is literal


def _compare(node: Any, op: str, raw: str, quoted: bool) -> bool:
    if node is _MISSING or isinstance(node, dict | list) or node is None:
        return False
    if isinstance(node, bool):
        node = "true" if node else "false"
    if isinstance(node, int | float) and not quoted and _NUMBER.fullmatch(raw):
        a, b = float(node), float(raw)
        return {
            "=": a == b,
            "!=": a != b,
            "<": a < b,
            ">": a > b,
            "<=": a <= b,
            ">=": a >= b,
        }[op]
    if op not in ("=", "!="):
        return False
    text = node if isinstance(node, str) else json.dumps(node)
    hit = _string_match(text, raw)
    return hit if op == "=" else not hit


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise ValueError("pattern ends too early")
        token = self.tokens[self.i]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.i += 1
        return token

    def expr(self) -> Callable[[Any], bool]:
        terms = [self.conj()]
        while self.peek() == "||":
            self.take()
            terms.append(self.conj())
        return lambda doc: any(t(doc) for t in terms)

    def conj(self) -> Callable[[Any], bool]:
        terms = [self.unary()]
        while self.peek() == "&&":
            self.take()
            terms.append(self.unary())
        return lambda doc: all(t(doc) for t in terms)

    def unary(self) -> Callable[[Any], bool]:
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        return self.condition()

    def condition(self) -> Callable[[Any], bool]:
        kind, selector = self.take()
        if kind != "word" or not selector.startswith("$"):
            raise ValueError(f"expected a selector, got {selector!r}")
        _select({}, selector)  # validate now
        word = (self.peek() or "").upper()
        if word in ("IS", "NOT"):
            self.take()
            what = self.take()[1].upper()
            if (word, what) == ("IS", "NULL"):
                return lambda doc: _select(doc, selector) is None
            if (word, what) == ("NOT", "EXISTS"):
                return lambda doc: _select(doc, selector) is _MISSING
            if word == "IS" and what in ("TRUE", "FALSE"):
                return lambda doc: _select(doc, selector) is (what == "TRUE")
            raise ValueError(f"unknown condition {word} {what}")
        _, op = self.take()
        if op not in ("=", "!=", "<", ">", "<=", ">="):
            raise ValueError(f"expected an operator, got {op!r}")
        kind, raw = self.take()
        if kind == "regex":
            return self.regex(selector, op, raw[1:-1])
        quoted = kind == "quoted"
        value = json.loads(raw) if quoted else raw
        if value.startswith("*") and value.endswith("*") and value != "*":
            raise UndocumentedPattern(f"wildcard at both ends: {raw}")
        return lambda doc: _compare(_select(doc, selector), op, value, quoted)

    def regex(self, selector: str, op: str, expression: str) -> Callable[[Any], bool]:
        if op not in ("=", "!="):
            raise ValueError(f"a regular expression takes = or !=, not {op}")
        if not _REGEX_CHARS.fullmatch(expression):
            raise ValueError(f"not a CloudWatch Logs regular expression: %{expression}%")
        found = re.compile(expression).search

        def test(doc: Any) -> bool:
            node = _select(doc, selector)
            if not isinstance(node, str):
                return False
            return bool(found(node)) == (op == "=")

        return test


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """``pattern`` -> a function of one log event message (text) -> matched?"""
    tokens = _tokens(pattern)
    if sum(kind == "regex" for kind, _ in tokens) > REGEX_LIMIT:
        raise ValueError(f"more than {REGEX_LIMIT} regular expressions in one pattern")
    parser = _Parser(tokens)
    parser.take("{")
    test = parser.expr()
    parser.take("}")
    if parser.peek() is not None:
        raise ValueError(f"text after the closing brace: {parser.peek()!r}")

    def matches(message: str) -> bool:
        try:
            doc = json.loads(message)
        except ValueError:
            return False  # a JSON pattern never matches a non-JSON event
        return test(doc)

    return matches


def matches(pattern: str, message: str | dict[str, Any]) -> bool:
    text = message if isinstance(message, str) else json.dumps(message)
    return compile_pattern(pattern)(text)
