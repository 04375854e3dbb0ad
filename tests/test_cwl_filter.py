"""The test-side CloudWatch Logs filter evaluator, checked on the documentation's own
examples (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html),
so the tests that lean on it (tests/test_rules.py) lean on documented behaviour."""

from __future__ import annotations

import pytest

from cwl_filter import UndocumentedPattern, matches

# "JSON Metric Filter Examples": the event and the filters that "would match".
EXAMPLE = {
    "eventType": "UpdateTrail",
    "sourceIPAddress": "111.111.111.111",
    "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
    "SomeObject": None,
    "ThisFlag": True,
}


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
    ],
)
def test_the_documented_json_examples_match(pattern: str) -> None:
    assert matches(pattern, EXAMPLE)


# "JSON Compound Conditions": the event and which patterns match it.
COMPOUND = {
    "user": {"id": 1, "email": "John.Stiles@example.com"},
    "users": [
        {"id": 2, "email": "John.Doe@example.com"},
        {"id": 3, "email": "Jane.Doe@example.com"},
    ],
    "actions": ["GET", "PUT", "DELETE"],
    "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch'
            " && $.actions[2] = nomatch }",
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch)'
            " && $.actions[2] = nomatch }",
            False,
        ),
    ],
)
def test_the_documented_compound_examples(pattern: str, expected: bool) -> None:
    assert matches(pattern, COMPOUND) is expected


def test_or_example_and_a_selector_on_an_array_matches_neither_operator() -> None:
    # "{$.foo = bar || $.foo = baz} matches pattern 1 and 2"
    assert matches("{$.foo = bar || $.foo = baz }", {"foo": "bar"})
    assert matches("{$.foo = bar || $.foo = baz }", {"foo": "baz"})
    assert not matches("{$.foo = bar}", {"foo": "baz"})
    # "both {$.users = 1} and {$.users != 1} will fail to match ... where users is an array"
    assert not matches("{$.users = 1}", {"users": [1, 2, 3]})
    assert not matches("{$.users != 1}", {"users": [1, 2, 3]})


def test_wildcards_as_documented() -> None:
    # "*Event will match PutEvent and GetEvent. Event* will match EventId and EventName.
    #  Ev*ent will only match the actual string Ev*ent."
    for name in ("PutEvent", "GetEvent"):
        assert matches('{ $.e = "*Event" }', {"e": name})
    for name in ("EventId", "EventName"):
        assert matches('{ $.e = "Event*" }', {"e": name})
    assert matches('{ $.e = "Ev*ent" }', {"e": "Ev*ent"})
    assert not matches('{ $.e = "Ev*ent" }', {"e": "Event"})
    assert not matches('{ $.e = "Ev*ent" }', {"e": "EvXent"})
    assert matches("{ $.latency = * }", {"latency": 5})


def test_numeric_comparisons_as_documented() -> None:
    assert matches("{ $.latency >= 500 }", {"latency": 500})
    assert not matches("{ $.latency > +1000 }", {"latency": 1000})
    assert matches("{ $.numbers[0] < 10e3 }", {"numbers": [9999]})
    assert matches("{ $.errorCode != 500 }", {"errorCode": 400})


def test_a_wildcard_at_both_ends_is_refused_not_guessed() -> None:
    with pytest.raises(UndocumentedPattern):
        matches('{ $.errorCode = "*AccessDenied*" }', {"errorCode": "AccessDenied"})


def test_no_fnmatch_semantics() -> None:
    # ? and [...] are not wildcards in CloudWatch Logs patterns
    assert not matches('{ $.e = "A?cess" }', {"e": "Access"})
    assert matches('{ $.e = "A?cess" }', {"e": "A?cess"})
    assert not matches('{ $.e = "[A]ccess" }', {"e": "Access"})
    assert not matches('{ $.e = "x" }', "not json")
