"""The settings file: what it sets, where it is found, and errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from deniedwatch.config import (
    AlertSettings,
    ConfigError,
    DeploySettings,
    Settings,
    load_settings,
    parse_settings,
)
from deniedwatch.rules import DEFAULT_SUPPRESSIONS, Suppression
from dwtest import EXAMPLE_CONFIG

PATH = Path("deniedwatch.toml")


def test_example_settings() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.source == EXAMPLE_CONFIG
    ruleset = settings.ruleset
    assert ruleset.suppressions[:3] == DEFAULT_SUPPRESSIONS
    assert ruleset.suppressions[3] == Suppression(
        name="config-recorder-known-gap",
        event_source="config.amazonaws.com",
        principal_name="config.amazonaws.com",
    )
    assert ruleset.label("111122223333") == "prod"
    assert ruleset.label("444455556666") == "dev-sandbox"
    assert settings.alerts == AlertSettings(60, 1, 5, "#security-alerts")
    assert settings.deploy == DeploySettings(stack_name="deniedwatch", log_retention_days=365)


def test_decoding_is_off_unless_asked_for() -> None:
    assert parse_settings("", Path("t.toml")).explain.decode_authorization_messages is False
    text = "[explain]\ndecode_authorization_messages = true\n"
    assert parse_settings(text, Path("t.toml")).explain.decode_authorization_messages is True


def test_empty_file_gives_defaults() -> None:
    settings = parse_settings("", PATH)
    assert settings.ruleset.suppressions == DEFAULT_SUPPRESSIONS
    assert settings.alerts == AlertSettings()
    assert settings.deploy == DeploySettings()


def test_everything_a_file_can_set() -> None:
    text = """
[denial]
extra_codes = ["InvalidClientTokenId"]
ignored_codes = ["ForbiddenException"]

[suppress]
defaults = false

[[suppress.rule]]
name = "terraform-plan"
principal_arn = "arn:aws:sts::*:assumed-role/terraform-*"
user_agent = "*Terraform/*"

[[suppress.rule]]
source_ip = "2001:db8::/32"

[[suppress.rule]]
source_ip = "AWS Internal"

[alerts]
dedup_window_minutes = 30
threshold = 3
max_examples = 2
slack_channel = "#sec"

[deploy]
stack_name = "dw-prod"
region = "eu-west-1"
email = "sec@example.com"
code_bucket = "artifacts"
existing_log_group = "aws-cloudtrail-logs"
log_retention_days = 90
alarm_threshold = 5
alarm_period_seconds = 60
organization_trail = true
trail_bucket = "org-trail-logs"
trail_bucket_retention_days = 730
"""
    settings = parse_settings(text, PATH)
    ruleset = settings.ruleset
    assert ruleset.denial.is_denial("InvalidClientTokenId")
    assert not ruleset.denial.is_denial("ForbiddenException")
    assert [s.name for s in ruleset.suppressions] == ["terraform-plan", "rule-2", "rule-3"]
    assert ruleset.suppressions[0].user_agent == "*Terraform/*"
    assert settings.alerts == AlertSettings(30, 3, 2, "#sec")
    assert settings.deploy == DeploySettings(
        "dw-prod",
        "eu-west-1",
        "sec@example.com",
        "artifacts",
        "aws-cloudtrail-logs",
        90,
        5,
        60,
        True,
        trail_bucket="org-trail-logs",
        trail_bucket_retention_days=730,
    )


# (settings text, the key the message must name, the line it must name)
ERRORS = {
    "bad TOML": ("[denial]\nextra_codes = []\n\n[alerts]\nthreshold = = 1\n", "", 5),
    "unterminated TOML": ("[denial]\nextra_codes = [\n", "", 2),
    "unknown section": ("# settings\n\n[denail]\nextra_codes = []\n", "denail", 3),
    "unknown top-level key": ("debug = true\n", "debug", 1),
    "quote in a code": ('[denial]\nextra_codes = [\n  "Bad\\"Code",\n]\n', "denial.extra_codes", 2),
    "wildcard in an ignored code": (
        '\n[denial]\nignored_codes = ["*Denied"]\n',
        "denial.ignored_codes",
        3,
    ),
    "space in a code": ('[denial]\nextra_codes = ["Access Denied"]\n', "denial.extra_codes", 2),
    "unknown key": ("[denial]\n\nextra = []\n", "denial.extra", 3),
    "unknown sub-table": ("[alerts]\nthreshold = 1\n[alerts.extra]\nx = 1\n", "alerts.extra", 3),
    "wrong type": ('[alerts]\nthreshold = "5"\n', "alerts.threshold", 2),
    "bool for a number": ("[alerts]\n\nthreshold = true\n", "alerts.threshold", 3),
    "float for a number": ("[alerts]\nthreshold = 1.5\n", "alerts.threshold", 2),
    "zero threshold": ("[alerts]\nthreshold = 0\n", "alerts.threshold", 2),
    "negative": ("[deploy]\nlog_retention_days = -1\n", "deploy.log_retention_days", 2),
    "string for bool": ('[suppress]\ndefaults = "no"\n', "suppress.defaults", 2),
    "deploy bool": ('[deploy]\norganization_trail = "yes"\n', "deploy.organization_trail", 2),
    "explain bool": (
        "[explain]\ndecode_authorization_messages = 1\n",
        "explain.decode_authorization_messages",
        2,
    ),
    "explain unknown key": ("[explain]\ndecode = true\n", "explain.decode", 2),
    "number for string": ("[alerts]\nslack_channel = 5\n", "alerts.slack_channel", 2),
    "inline table": ('alerts = { threshold = "x" }\n', "alerts.threshold", 1),
    "section not a table": ("denial = 5\n", "denial", 1),
    "codes not a list": ('[denial]\nextra_codes = "AccessDenied"\n', "denial.extra_codes", 2),
    "empty code": ('[denial]\nignored_codes = ["x", ""]\n', "denial.ignored_codes", 2),
    "bad CIDR": (
        '[[suppress.rule]]\nsource_ip = "10.0.0.0/8"\n\n[[suppress.rule]]\nname = "b"\n'
        'source_ip = "10.0.0.0/33"\n',
        "suppress.rule[1].source_ip",
        6,
    ),
    "bad IPv6 CIDR": (
        '[[suppress.rule]]\nsource_ip = "2001:db8::/129"\n',
        "suppress.rule[0].source_ip",
        2,
    ),
    "bad address": (
        '[[suppress.rule]]\nsource_ip = "10.0.0.256"\n',
        "suppress.rule[0].source_ip",
        2,
    ),
    "bad account id": ('[accounts]\n"12345" = "prod"\n', "accounts.12345", 2),
    "13-digit account id": (
        '[accounts]\n"111122223333" = "ok"\n"1111222233334" = "x"\n',
        "accounts.1111222233334",
        3,
    ),
    "account label not a string": ('[accounts]\n"111122223333" = 5\n', "accounts.111122223333", 2),
    "account sub-table": ("[accounts.prod]\nid = 1\n", "accounts.prod", 1),
    "unknown rule key": (
        '[[suppress.rule]]\nname = "x"\nevent = "GetObject"\n',
        "suppress.rule[0].event",
        3,
    ),
    "rule value not a string": (
        "[[suppress.rule]]\nevent_name = 5\n",
        "suppress.rule[0].event_name",
        2,
    ),
    "rule that matches everything": (
        '[[suppress.rule]]\nevent_name = "x"\n\n[[suppress.rule]]\nname = "all"\n',
        "suppress.rule[1]",
        4,
    ),
    "rule not an array": ('[suppress]\nrule = "x"\n', "suppress.rule", 2),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_name_file_line_and_key(case: str) -> None:
    text, key, line = ERRORS[case]
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, PATH)
    message = str(caught.value)
    assert message.startswith(f"{PATH}:{line}: "), message
    assert f": {key}: " in message if key else "not valid TOML" in message
    assert "\n" not in message


def test_valid_source_ip_forms() -> None:
    for value in ["10.0.0.0/8", "203.0.113.7", "2001:db8::/32", "::1", "AWS Internal", "a.b.com"]:
        text = f'[[suppress.rule]]\nsource_ip = "{value}"\n'
        assert parse_settings(text, PATH).ruleset.suppressions[-1].source_ip == value


def test_defaults_off() -> None:
    text = '[suppress]\ndefaults = false\n[[suppress.rule]]\nevent_name = "X"\n'
    assert [s.name for s in parse_settings(text, PATH).ruleset.suppressions] == ["rule-1"]


# ---- where the file comes from ---------------------------------------------------------


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENIEDWATCH_CONFIG", raising=False)
    return tmp_path


def test_no_file_anywhere_gives_defaults(elsewhere: Path) -> None:
    assert load_settings() == Settings()


def test_local_file_is_found(elsewhere: Path) -> None:
    (elsewhere / "deniedwatch.toml").write_text("[alerts]\nthreshold = 7\n")
    assert load_settings().alerts.threshold == 7


def test_env_beats_local_file(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (elsewhere / "deniedwatch.toml").write_text("[alerts]\nthreshold = 7\n")
    (elsewhere / "env.toml").write_text("[alerts]\nthreshold = 8\n")
    monkeypatch.setenv("DENIEDWATCH_CONFIG", str(elsewhere / "env.toml"))
    assert load_settings().alerts.threshold == 8
    (elsewhere / "flag.toml").write_text("[alerts]\nthreshold = 9\n")
    assert load_settings(elsewhere / "flag.toml").alerts.threshold == 9


@pytest.mark.parametrize("problem", ["missing", "directory", "not utf-8"])
def test_unreadable_files(elsewhere: Path, problem: str) -> None:
    path = elsewhere / "settings.toml"
    if problem == "directory":
        path.mkdir()
    elif problem == "not utf-8":
        path.write_bytes(b"[alerts]\nslack_channel = '\xff'\n")
    with pytest.raises(ConfigError, match=r"settings\.toml"):
        load_settings(path)


def test_example_settings_alert_on_borrowed_service_names() -> None:
    """The example's config rule hides the Config service, not a FederatedUser or an IAM
    user that took the name config.amazonaws.com."""
    from deniedwatch.rules import Verdict
    from test_rules import CONFIG_SERVICE, FEDERATED_CONFIG, IAM_USER_CONFIG, record

    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.warnings == ()
    ruleset = settings.ruleset
    service = record(CONFIG_SERVICE, eventSource="config.amazonaws.com")
    assert ruleset.evaluate(service).suppressed_by == "config-recorder-known-gap"
    for borrowed in (FEDERATED_CONFIG, IAM_USER_CONFIG):
        rec = record(borrowed, eventSource="config.amazonaws.com")
        assert ruleset.evaluate(rec).verdict is Verdict.DENIED


def test_warns_with_file_and_line_about_rules_any_caller_can_copy() -> None:
    text = """[[suppress.rule]]
name = "pinned"
principal_arn = "arn:aws:iam::111122223333:user/ci"
user_agent = "*Terraform*"

[[suppress.rule]]
name = "terraform"
user_agent = "*Terraform*"

[[suppress.rule]]
name = "via-cfn"
source_ip = "cloudformation.amazonaws.com"
event_name = "Create*"
"""
    warnings = parse_settings(text, PATH).warnings
    assert len(warnings) == 2
    assert warnings[0].startswith(
        f"{PATH}:6: suppress.rule[1] (terraform) is not pinned: it matches on user_agent"
    )
    assert warnings[1].startswith(
        f"{PATH}:10: suppress.rule[2] (via-cfn) is not pinned: it matches on source_ip"
    )
    assert all("\n" not in w for w in warnings)


def test_principal_type_and_same_account_keys() -> None:
    text = '[[suppress.rule]]\nprincipal_type = "AWSService"\nsame_account = true\n'
    (rule,) = parse_settings(text, PATH).ruleset.suppressions[3:]
    assert rule.principal_type == "AWSService" and rule.same_account is True
    for bad, problem in [
        ('principal_type = "AwsService"', "must be one of"),
        ('same_account = "yes"', "must be true or false"),
    ]:
        with pytest.raises(ConfigError, match=problem) as caught:
            parse_settings(f"[[suppress.rule]]\n{bad}\n", PATH)
        assert str(caught.value).startswith(f"{PATH}:2: ")
    with pytest.raises(ConfigError, match="matches everything"):
        parse_settings("[[suppress.rule]]\nsame_account = false\n", PATH)


def test_alert_budget_settings() -> None:
    alerts = parse_settings(
        "[alerts]\nmax_posts_per_batch = 8\nmax_posts_per_principal = 2\n", PATH
    ).alerts
    assert (alerts.budget.max_posts, alerts.budget.max_per_principal) == (8, 2)
    assert (AlertSettings().max_posts_per_batch, AlertSettings().max_posts_per_principal) == (20, 5)
    with pytest.raises(ConfigError, match="at least 1"):
        parse_settings("[alerts]\nmax_posts_per_batch = 0\n", PATH)


def test_the_cli_prints_the_warning_with_file_and_line(cli, tmp_path: Path) -> None:
    from dwtest import EXAMPLES

    path = tmp_path / "s.toml"
    path.write_text('[[suppress.rule]]\nname = "tf"\nuser_agent = "*Terraform*"\n')
    result = cli("scan", EXAMPLES, "--config", path, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert f"{path}:1: suppress.rule[0] (tf) is not pinned: it matches on user_agent" in line
