"""Routing settings, the router and severity: pure, no server.

Settings errors name file:line:key; the router sends each finding where its
routes say; severity follows the documented table and the settings' rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deniedwatch.alerts.channels.registry import MODULES, TYPES, channel_type
from deniedwatch.config import ConfigError, parse_settings
from deniedwatch.finding import Finding
from deniedwatch.pipeline import router
from deniedwatch.severity import builtin_severity, severity
from live_support import denial

PATH = Path("deniedwatch.toml")

DESTINATIONS = """
[[destinations]]
name = "sec-slack"
type = "slack"
url_env = "SEC_SLACK_URL"

[[destinations]]
name = "b-app"
type = "slack-app"
channel = "C0123456789"
url_env = "B_TOKEN"

[[destinations]]
name = "oncall-pd"
type = "pagerduty"
url_env = "PD_KEY"

[[destinations]]
name = "mail"
type = "sns"
topic_arn = "arn:aws:sns:eu-west-1:111122223333:deniedwatch"
"""


def settings(text: str):
    return parse_settings(text, PATH)


def error(text: str) -> str:
    with pytest.raises(ConfigError) as failure:
        settings(text)
    return str(failure.value)


def finding(**kw) -> Finding:
    return Finding.from_record(denial(**kw))


def test_the_contract_parses() -> None:
    s = settings(
        DESTINATIONS
        + """
[[routes]]
name = "prod"
accounts = ["111122223333"]
severity = ["high", "medium"]
destinations = ["sec-slack", "oncall-pd"]
continue = false
"""
    )
    assert [d.name for d in s.destinations] == ["sec-slack", "b-app", "oncall-pd", "mail"]
    assert s.destinations[1].option("channel") == "C0123456789"
    assert s.destinations[0].url_env == "SEC_SLACK_URL" and s.destinations[0].line == 2
    (route,) = s.routes
    assert route.accounts == {"111122223333"} and route.severity == {"high", "medium"}
    assert route.destinations == ("sec-slack", "oncall-pd") and route.continue_ is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            DESTINATIONS + '\n[[routes]]\nname = "x"\ndestinations = ["nope"]\n',
            "deniedwatch.toml:25: routes[0].destinations: unknown destination 'nope'",
        ),
        (
            DESTINATIONS + '\n[[destinations]]\nname = "mail"\ntype = "sns"\n',
            "deniedwatch.toml:24: destinations[4].name: duplicate destination name 'mail'",
        ),
        (
            '[[destinations]]\nname = "app"\ntype = "slack-app"\n',
            "deniedwatch.toml:1: destinations[0]: type slack-app needs channel",
        ),
        (
            '[[destinations]]\nname = "x"\ntype = "carrier-pigeon"\n',
            "deniedwatch.toml:3: destinations[0].type: type must be one of slack, slack-app",
        ),
        (
            '[[destinations]]\nname = "Bad Name"\ntype = "slack"\n',
            "deniedwatch.toml:2: destinations[0].name: needs a name of a-z, 0-9 and -",
        ),
        (
            '[[destinations]]\nname = "x"\ntype = "slack"\nchannel = "C1"\n',
            "deniedwatch.toml:4: destinations[0].channel: unknown key for type slack",
        ),
        (
            '[[destinations]]\nname = "x"\ntype = "pagerduty"\nevents_url = "http://evil"\n',
            "deniedwatch.toml:4: destinations[0].events_url: must be an https:// URL",
        ),
        (
            '[[destinations]]\nname = "x"\ntype = "sns"\ntopic_arn = "arn:aws:sqs:eu-west-1:1:q"\n',
            "deniedwatch.toml:4: destinations[0].topic_arn: 'arn:aws:sqs:eu-west-1:1:q' is not "
            "an SNS topic ARN",
        ),
        (
            '[[destinations]]\nname = "x"\ntype = "slack-app"\nchannel = "C1"\napi_url = "ftp://x"\n',
            "deniedwatch.toml:5: destinations[0].api_url: must be an https:// URL",
        ),
        (
            '[[destinations]]\nname = "x"\ntype = "sns"\nurl_env = "X"\n',
            "deniedwatch.toml:4: destinations[0].url_env: type sns has no secret",
        ),
        (
            DESTINATIONS + '\n[[routes]]\ndestinations = ["mail"]\nseverity = ["urgent"]\n',
            "deniedwatch.toml:25: routes[0].severity: must be among high, medium, low",
        ),
        (
            DESTINATIONS + '\n[[routes]]\ndestinations = ["mail"]\naccounts = ["123"]\n',
            "deniedwatch.toml:25: routes[0].accounts: account ids are 12 digits",
        ),
        (
            DESTINATIONS + '\n[[routes]]\ndestinations = ["mail"]\nregion = ["x"]\n',
            "deniedwatch.toml:25: routes[0].region: unknown key",
        ),
        (
            DESTINATIONS + '\n[[routes]]\ndestinations = ["mail"]\nprincipal_type = ["Bob"]\n',
            "deniedwatch.toml:25: routes[0].principal_type: must be among AWSAccount, AWSService",
        ),
        (
            '[[routes]]\ndestinations = ["x"]\n',
            "deniedwatch.toml:2: routes[0].destinations: routes need [[destinations]]",
        ),
        (
            '[[severity.rule]]\nevent_name = "Get*"\nlevel = "urgent"\n',
            "deniedwatch.toml:3: severity.rule[0].level: must be one of high, medium, low",
        ),
        (
            '[ous]\n"ou-ab12-cd34ef56" = ["1"]\n',
            "deniedwatch.toml:2: ous.ou-ab12-cd34ef56: account ids are 12 digits",
        ),
    ],
)
def test_settings_errors_name_file_line_and_key(text: str, expected: str) -> None:
    assert error(text).startswith(expected), error(text)


def test_routes_first_match_wins_unless_continue() -> None:
    s = settings(
        DESTINATIONS
        + """
[ous]
"ou-ab12-cd34ef56" = ["444455556666"]

[[routes]]
name = "page"
severity = ["high"]
destinations = ["oncall-pd"]
continue = true

[[routes]]
name = "prod"
accounts = ["111122223333"]
destinations = ["sec-slack"]

[[routes]]
name = "dev-ou"
ous = ["ou-ab12-cd34ef56"]
destinations = ["b-app"]

[[routes]]
name = "also-dev"
ous = ["ou-ab12-cd34ef56"]
destinations = ["mail"]
"""
    )
    r = router(s, s.destinations)
    low = finding(account="111122223333")  # a read-only denial of the same account
    assert r.decide(low).routes == ("prod",) and r.destinations(low) == ("sec-slack",)
    high = finding(account="111122223333", source="iam.amazonaws.com", event_name="CreateUser")
    assert r.decide(high).routes == ("page", "prod")
    assert r.destinations(high) == ("oncall-pd", "sec-slack")
    dev = finding(account="444455556666")
    assert r.decide(dev).routes == ("dev-ou",) and r.destinations(dev) == ("b-app",)
    other = finding(account="999999999999")
    assert r.decide(other).routes == ("(default)",)
    assert r.destinations(other) == ("sec-slack", "b-app", "mail")  # never the pager


def test_without_routes_everything_goes_to_the_defaults_and_never_pages() -> None:
    s = settings(DESTINATIONS)
    r = router(s, s.destinations)
    high = finding(source="iam.amazonaws.com", event_name="CreateUser")
    assert r.destinations(high) == ("sec-slack", "b-app", "mail")
    marked = settings(DESTINATIONS.replace('type = "sns"', 'type = "sns"\ndefault = true'))
    assert router(marked, marked.destinations).destinations(high) == ("mail",)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (denial(), "low"),  # read-only, same account, no explicit deny
        (denial(event_name="PutObject"), "medium"),  # a write
        (
            denial(
                message="User: x is not authorized to perform: s3:GetObject with an "
                "explicit deny in a service control policy"
            ),
            "medium",
        ),
        (denial(source="iam.amazonaws.com", event_name="AttachUserPolicy"), "high"),
        (denial(source="s3.amazonaws.com", event_name="PutBucketPolicy"), "high"),
        (denial(source="cloudtrail.amazonaws.com", event_name="StopLogging"), "high"),
        (
            denial(
                userIdentity={
                    "type": "Root",
                    "arn": "arn:aws:iam::111122223333:root",
                    "accountId": "111122223333",
                }
            ),
            "high",
        ),
        (
            denial(
                userIdentity={
                    "type": "AssumedRole",
                    "accountId": "999988887777",
                    "arn": "arn:aws:sts::999988887777:assumed-role/x/y",
                }
            ),
            "high",  # a caller from another account
        ),
        (
            denial(userIdentity={"type": "AWSService", "invokedBy": "config.amazonaws.com"}),
            "low",  # a service of the account reading is not "another account"
        ),
    ],
)
def test_severity_table(record, expected) -> None:
    assert builtin_severity(Finding.from_record(record)) == expected


def test_severity_rules_override_the_table_first_match_wins() -> None:
    s = settings(
        """
[[severity.rule]]
event_source = "iam.amazonaws.com"
principal_name = "terraform"
level = "low"

[[severity.rule]]
event_name = "Get*"
account_id = "111122223333"
level = "high"
"""
    )
    tf = finding(user="terraform", source="iam.amazonaws.com", event_name="CreateRole")
    assert builtin_severity(tf) == "high" and severity(tf, s.severity_rules) == "low"
    assert severity(finding(), s.severity_rules) == "high"
    assert severity(finding(account="444455556666"), s.severity_rules) == "low"


def test_every_registered_type_is_one_module_with_its_type() -> None:
    assert TYPES == ("slack", "slack-app", "teams", "pagerduty", "sns", "securityhub")
    for name, module in MODULES.items():
        kind = channel_type(name)
        assert kind.name == name and module.endswith(name.replace("-", "_"))
    assert [t for t in TYPES if channel_type(t).pages] == ["pagerduty"]


def test_a_new_type_declares_its_options_and_the_settings_check_them(monkeypatch) -> None:
    """A new destination type is one module and one line, validation included: the
    settings know no type's keys, they loop over what the type declares."""
    import sys
    import types

    from deniedwatch.alerts.channels import registry
    from deniedwatch.alerts.channels.base import ChannelType, Option

    def even(value: str) -> str | None:
        return None if len(value) % 2 == 0 else "must have an even length"

    module = types.ModuleType("pigeon_channel")
    module.TYPE = ChannelType(  # type: ignore[attr-defined]
        name="pigeon",
        build=lambda dest, ctx: None,  # type: ignore[arg-type,return-value]
        options=(Option("loft", "where the pigeon lives", even, required=True),),
        secret=None,
    )
    monkeypatch.setitem(sys.modules, "pigeon_channel", module)
    monkeypatch.setitem(registry.MODULES, "pigeon", "pigeon_channel")
    monkeypatch.setattr(registry, "TYPES", (*registry.TYPES, "pigeon"))
    entry = '[[destinations]]\nname = "p"\ntype = "pigeon"\n'
    assert error(entry) == (
        "deniedwatch.toml:1: destinations[0]: type pigeon needs loft (where the pigeon lives)"
    )
    assert error(entry + 'loft = "abc"\n') == (
        "deniedwatch.toml:4: destinations[0].loft: must have an even length"
    )
    assert settings(entry + 'loft = "ab"\n').destinations[0].option("loft") == "ab"
    import deniedwatch.config.destinations as parsing

    source = Path(parsing.__file__).read_text()
    for key in ("topic_arn", "api_url", "events_url", "channel"):  # channel knowledge
        assert f'"{key}"' not in source, key


def test_channel_modules_do_not_import_the_delivery_loop_or_each_other() -> None:
    import ast

    from deniedwatch.alerts import channels

    folder = Path(channels.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert "deniedwatch.alerts.deliver" not in imported, path.name
        if path.stem in {m.rsplit(".", 1)[1] for m in MODULES.values()}:
            others = {m for m in MODULES.values() if not m.endswith("." + path.stem)}
            assert not imported & others, path.name


def test_secret_needs_list_each_destination_with_a_secret() -> None:
    from deniedwatch.pipeline import secret_needs

    needs = secret_needs(settings(DESTINATIONS))
    assert [(n.destination, n.url_env) for n in needs] == [
        ("sec-slack", "SEC_SLACK_URL"),
        ("b-app", "B_TOKEN"),
        ("oncall-pd", "PD_KEY"),
    ]  # sns has no secret
    app, pd = needs[1], needs[2]
    assert app.problem("xoxb-1-2-abc") is None and app.problem("https://x") is not None
    assert pd.problem("A" * 32) is None and "32" in (pd.problem("short") or "")
    (legacy,) = secret_needs(settings(""))
    assert (legacy.destination, legacy.url_env) == ("slack", "SLACK_WEBHOOK_URL")
    assert legacy.problem("not a url") is not None


def test_deploy_collects_each_destinations_secret_checked_and_never_loses_one() -> None:
    from deniedwatch.deploy.plan import PlanError, collect_secrets, stored_secret_names
    from deniedwatch.pipeline import secret_needs

    needs = secret_needs(settings(DESTINATIONS))
    given = {"sec-slack": "https://hooks.invalid/services/T/B/x", "oncall-pd": "K" * 32}
    asked: list[tuple[str, bool]] = []

    def ask(need, is_stored):
        asked.append((need.destination, is_stored))
        return given.get(need.destination)

    # b-app has a stored token: Enter (None) keeps it; the others are written
    values = collect_secrets(needs, {"b-app"}, ask)
    assert values == given
    assert asked == [("sec-slack", False), ("b-app", True), ("oncall-pd", False)]
    with pytest.raises(PlanError, match="destination b-app needs its Slack bot token"):
        collect_secrets(needs, set(), ask)  # first deploy: nothing stored for b-app
    given["oncall-pd"] = "short"
    with pytest.raises(PlanError, match="oncall-pd: the PagerDuty Events v2 routing key"):
        collect_secrets(needs, {"b-app"}, ask)
    given["sec-slack"] = "http://hooks.invalid/services/T/B/x"  # plain http off this machine
    with pytest.raises(PlanError, match="sec-slack: the Slack incoming webhook URL must be"):
        collect_secrets(needs, {"b-app"}, ask)

    assert stored_secret_names('{"a": "1", "b": "2"}', "s") == {"a", "b"}
    assert stored_secret_names("https://hooks.invalid/services/T/B/old", "s") == {"slack"}
    assert stored_secret_names(None, "s") == set()
    with pytest.raises(PlanError, match="fix or delete its value"):
        stored_secret_names('{"a": 1}', "s")
