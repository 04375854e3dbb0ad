"""The EventBridge pattern rendered from the denial rule, judged three ways: by a matcher
written from AWS's documented semantics (tests/eventbridge_matcher.py), by moto's own
matcher (moto 5.2's TestEventPattern API is a stub, so its EventPattern class, the one
that routes PutEvents, is used instead), and by AWS itself at deploy time
(deploy/eventpattern.py, tested here with botocore's Stubber)."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from deniedwatch.deploy.eventpattern import (
    FAMILY_EXAMPLES,
    NON_DENIALS,
    check_event_pattern,
    envelope,
    samples,
)
from deniedwatch.deploy.plan import EVENT_PATTERN_LIMIT, PlanError, checked_event_pattern
from deniedwatch.rules import DENIAL_EXACT, DENIAL_PREFIXES, DENIAL_SUFFIXES, DenialRule
from eventbridge_matcher import matches

CUSTOM = DenialRule(
    extra_codes=frozenset({"Client.Custom*Denied", "Back\\slash"}),
    ignored_codes=frozenset({"AccessDeniedException", "ForbiddenException"}),
)
RULES = [DenialRule(), CUSTOM]
# In a fixed order (sets are sorted): pytest-xdist workers must collect the same tests.
EVERY_CODE = list(
    dict.fromkeys(
        [
            *DENIAL_PREFIXES,
            *DENIAL_SUFFIXES,
            *FAMILY_EXAMPLES,
            *DENIAL_EXACT,
            *sorted(CUSTOM.extra_codes),
            *sorted(CUSTOM.ignored_codes),
            *NON_DENIALS,
            "Client.AccessDeniedForReasons",
            "xUnauthorizedOperation",
            "UnauthorizedOperation ",  # trailing space: not at the end
            "Client.Custom-Denied",  # the extra code's "*" is a literal star, not a wildcard
        ]
    )
)


# -- the matcher follows the documentation's own examples -----------------------------
@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-02T18:43:48Z"}, True),
        ({"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-03T18:43:48Z"}, False),
        ({"FileName": [{"suffix": ".png"}]}, {"FileName": "a.png"}, True),
        ({"FileName": [{"suffix": ".png"}]}, {"FileName": "a.PNG"}, False),  # case-sensitive
        ({"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
         {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/b"}, True),
        ({"f": [{"wildcard": "*Title*"}]}, {"f": "Title"}, True),  # "*" is zero or more
        ({"f": [{"wildcard": "*Title*"}]}, {"f": "title"}, False),
        ({"f": [{"wildcard": "a\\*b"}]}, {"f": "a*b"}, True),  # escaped star is a star
        ({"f": [{"wildcard": "a\\*b"}]}, {"f": "axxb"}, False),
        ({"state": [{"anything-but": "initializing"}]}, {"state": "running"}, True),
        ({"state": [{"anything-but": "initializing"}]}, {"state": "initializing"}, False),
        ({"state": [{"anything-but": ["stopped", "overloaded"]}]}, {"state": "stopped"}, False),
        ({"state": [{"anything-but": {"prefix": "init"}}]}, {"state": "initializing"}, False),
        ({"state": [{"anything-but": {"suffix": "ing"}}]}, {"state": "stopped"}, True),
        ({"detail": {"c": [{"exists": False}]}}, {"detail": {"d": 1}}, True),
        ({"detail": {"c": [{"exists": True}]}}, {"detail": {"d": 1}}, False),
        ({"source": ["aws.ec2"], "detail": {"state": ["terminated"]}},
         {"source": "aws.ec2", "detail": {"state": "terminated"}}, True),
        ({"source": ["aws.ec2"], "detail": {"state": ["terminated"]}},
         {"source": "aws.ec2"}, False),  # a field the pattern names must be there
        ({"r": ["x"]}, {"r": ["w", "x"]}, True),  # an array matches if any element does
    ],
)  # fmt: skip
def test_matcher_follows_the_documented_examples(pattern, event, expected) -> None:
    assert matches(pattern, event) is expected


# -- the rendered pattern, against every denial code and the non-denials ---------------
def moto_matches(pattern: dict, event: dict) -> bool:
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(event)


MATCHERS = {"documented": matches, "moto": moto_matches}


@pytest.mark.parametrize("judge", sorted(MATCHERS))
@pytest.mark.parametrize("rule", RULES, ids=["default", "custom"])
@pytest.mark.parametrize("code", EVERY_CODE)
def test_pattern_routes_exactly_what_the_rule_says(judge, rule, code) -> None:
    pattern = json.loads(checked_event_pattern(rule))
    got = MATCHERS[judge](pattern, envelope(code))
    assert got is rule.pattern_routes(code)
    if rule.is_denial(code):
        assert got, "a denial must reach the function"


@pytest.mark.parametrize("judge", sorted(MATCHERS))
def test_the_deploy_samples_agree_with_both_matchers(judge) -> None:
    for rule in RULES:
        pattern = json.loads(checked_event_pattern(rule))
        for sample in samples(rule):
            assert MATCHERS[judge](pattern, sample.envelope) is sample.expected, sample.name


def test_a_forged_event_from_a_non_aws_source_is_not_routed() -> None:
    pattern = DenialRule().event_pattern()
    assert not matches(pattern, envelope("AccessDenied", source="acme.security"))
    assert not matches(pattern, envelope("AccessDenied", source="awsx.s3"))
    assert matches(pattern, envelope("AccessDenied", source="aws.s3"))


def test_ignored_codes_a_family_covers_still_arrive_and_the_function_drops_them() -> None:
    assert CUSTOM.pattern_routes("AccessDeniedException")  # covered by *AccessDenied*
    assert not CUSTOM.is_denial("AccessDeniedException")
    assert not CUSTOM.pattern_routes("ForbiddenException")  # an exact code: left out
    assert "ForbiddenException" not in json.dumps(CUSTOM.event_pattern())


codes = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(max_size=6),
        st.sampled_from([*DENIAL_PREFIXES, *DENIAL_SUFFIXES, *DENIAL_EXACT, "Denied", "*"]),
        st.text(max_size=6),
    ),
)


@settings(max_examples=300, deadline=None)
@given(codes)
def test_property_pattern_and_rule_agree_on_any_code(code) -> None:
    for rule in RULES:
        pattern = rule.event_pattern()
        assert matches(pattern, envelope(code)) is rule.pattern_routes(code)
        assert rule.pattern_routes(code) or not rule.is_denial(code)


def test_pattern_over_eventbridge_limit_is_refused() -> None:
    many = frozenset(f"Custom{i:04d}Denied" for i in range(200))
    with pytest.raises(PlanError, match=str(EVENT_PATTERN_LIMIT)):
        checked_event_pattern(DenialRule(extra_codes=many))


# -- the deploy-time proof: events:TestEventPattern, stubbed ---------------------------
def events_client():
    import boto3

    return boto3.client(
        "events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_preflight_asks_aws_about_every_sample_and_passes_when_it_agrees() -> None:
    client = events_client()
    pattern = checked_event_pattern(CUSTOM)
    with Stubber(client) as stub:
        for sample in samples(CUSTOM):
            stub.add_response(
                "test_event_pattern",
                {"Result": sample.expected},
                {"EventPattern": pattern, "Event": json.dumps(sample.envelope)},
            )
        assert check_event_pattern(client, CUSTOM, pattern) == len(samples(CUSTOM))
        stub.assert_no_pending_responses()


def test_preflight_refuses_when_aws_disagrees_and_names_the_sample() -> None:
    client = events_client()
    rule = DenialRule()
    pattern = checked_event_pattern(rule)
    with Stubber(client) as stub:
        for sample in samples(rule):
            # AWS says the lowercase code matches: as if matching ignored case
            disagree = sample.name == "errorCode 'accessdenied'"
            stub.add_response("test_event_pattern", {"Result": sample.expected != disagree})
        with pytest.raises(PlanError) as refused:
            check_event_pattern(client, rule, pattern)
    assert "errorCode 'accessdenied': should not match" in str(refused.value)
    assert "nothing was deployed" in str(refused.value)


def test_samples_cover_every_family_every_exact_code_and_the_non_aws_source() -> None:
    names = {s.name for s in samples(CUSTOM)}
    for code in [*DENIAL_PREFIXES, *DENIAL_SUFFIXES, *DENIAL_EXACT, *CUSTOM.extra_codes]:
        assert f"errorCode {code!r}" in names
    assert "a non-AWS source" in names
    expected = {s.name: s.expected for s in samples(CUSTOM)}
    assert expected["errorCode None"] is False and expected["errorCode 'AccessDenied'"] is True
