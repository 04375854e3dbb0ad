"""The Lambda zip (deterministic, pure Python, settings where the handler looks) and the
pure deploy planning functions."""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from deniedwatch.config import parse_settings
from deniedwatch.deploy import plan
from deniedwatch.deploy.package import CLI_ONLY, build_zip, settings_arcname
from deniedwatch.deploy.stack import StackEvent, is_no_change, root_failures

SETTINGS = '[alerts]\nslack_channel = "#sec"\n'


@pytest.fixture(scope="module")
def built():
    return build_zip(SETTINGS)


def test_zip_is_deterministic(built) -> None:
    again = build_zip(SETTINGS)
    assert again.data == built.data and again.sha256 == built.sha256
    assert build_zip(SETTINGS + "# changed\n").sha256 != built.sha256


def test_zip_entries_sorted_fixed_time_and_mode(built) -> None:
    infos = zipfile.ZipFile(io.BytesIO(built.data)).infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) == list(built.names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_zip_holds_core_settings_and_slack_sdk_but_no_cli_or_native_code(built) -> None:
    names = set(built.names)
    assert "deniedwatch/lambda_handler.py" in names
    assert "deniedwatch/rules.py" in names
    assert "slack_sdk/webhook/client.py" in names
    assert any(n.startswith("slack_sdk-") and n.endswith("LICENSE") for n in names)
    assert not any(n.startswith(tuple(f"deniedwatch/{p}/" for p in CLI_ONLY)) for n in names)
    assert not any(n.startswith("slack/") for n in names)  # the legacy package is not needed
    assert not any(n.endswith((".so", ".pyd", ".dylib")) for n in names)
    archive = zipfile.ZipFile(io.BytesIO(built.data))
    assert archive.read(settings_arcname()).decode() == SETTINGS


def test_byte_code_ships_for_every_module_as_unchecked_hash_pycs() -> None:
    # Compiled here with this interpreter (deploy uses a python3.12 when it finds one,
    # see runtime_python); what is checked is the mechanism, the same for any version.
    built = build_zip(SETTINGS, python=sys.executable)
    names = set(built.names)
    tag = sys.implementation.cache_tag
    sources = {n for n in names if n.endswith(".py")}
    pycs = {n for n in names if n.endswith(".pyc")}
    assert pycs and all("/__pycache__/" in n and f".{tag}.pyc" in n for n in pycs)
    expected = {
        str(PurePosixPath(n).parent / "__pycache__" / f"{PurePosixPath(n).stem}.{tag}.pyc")
        for n in sources
    }
    assert pycs == expected
    archive = zipfile.ZipFile(io.BytesIO(built.data))
    handler_pyc = archive.read(f"deniedwatch/__pycache__/lambda_handler.{tag}.pyc")
    assert handler_pyc[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(handler_pyc[4:8], "little") == 0b01  # hash-based, unchecked
    assert build_zip(SETTINGS, python=sys.executable).data == built.data


def test_without_a_runtime_interpreter_the_zip_has_sources_only() -> None:
    built = build_zip(SETTINGS, python="/nonexistent/python3.12")
    assert not any(n.endswith(".pyc") for n in built.names)
    assert "deniedwatch/lambda_handler.py" in built.names


def test_settings_land_where_the_handler_reads_them() -> None:
    from deniedwatch import lambda_handler

    assert Path(*settings_arcname().split("/")[1:]) == Path(lambda_handler.BUNDLED_SETTINGS.name)
    assert settings_arcname().split("/")[0] == "deniedwatch"


def test_zip_is_small(built) -> None:
    # measured ~340 KiB of sources, ~1.1 MB with python3.12 byte code; Lambda allows 50 MB
    assert built.size < 4 * 1024 * 1024


# -- plan ------------------------------------------------------------------------------
def test_with_slack_channel_replaces_inserts_or_appends() -> None:
    replaced = plan.with_slack_channel('[alerts]\nslack_channel = "#old"\nthreshold = 2\n', "#new")
    inserted = plan.with_slack_channel("[alerts]\nthreshold = 2\n[deploy]\n", "#new")
    appended = plan.with_slack_channel("[deploy]\nstack_name = 'x'", '#we"ird')
    for text, channel in ((replaced, "#new"), (inserted, "#new"), (appended, '#we"ird')):
        settings = parse_settings(text, Path("t.toml"))
        assert settings.alerts.slack_channel == channel
    assert parse_settings(replaced, Path("t.toml")).alerts.threshold == 2
    assert plan.with_slack_channel("x = 1\n", None) == "x = 1\n"


def _plan(**changes) -> plan.DeployPlan:
    base = {
        "stack_name": "deniedwatch",
        "region": "eu-west-1",
        "code_bucket": "deniedwatch-code-111122223333-eu-west-1",
        "filter_pattern": "{ x }",
    }
    return plan.DeployPlan(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stack_name": "1bad"}, "stack name"),
        ({"region": "europe"}, "region"),
        ({"code_bucket": "Bad_Bucket"}, "code bucket"),
        ({"email": "not-an-address"}, "email"),
        ({"log_retention_days": 100}, "log_retention_days"),
        ({"alarm_period_seconds": 61}, "alarm_period_seconds"),
        ({"existing_log_group": "g", "organization_trail": True}, "organization_trail"),
    ],
)
def test_check_plan_names_the_bad_input(changes, message) -> None:
    with pytest.raises(plan.PlanError, match=message):
        plan.check_plan(_plan(**changes))


def test_parameters_never_carry_the_webhook() -> None:
    params = _plan(email="a@example.com").parameters("k")
    assert params["AlertEmail"] == "a@example.com" and params["CodeKey"] == "k"
    assert not any("hooks" in v or "services/" in v for v in params.values())


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/services/T/B/X", True),
        ("http://127.0.0.1:8080/services/T/B/X", True),  # a local stand-in
        ("http://hooks.slack.com/services/T/B/X", False),
        ("hooks.slack.com/services/T/B/X", False),
    ],
)
def test_webhook_url_check(url, ok) -> None:
    if ok:
        assert plan.check_webhook_url(url) == url
    else:
        with pytest.raises(plan.PlanError):
            plan.check_webhook_url(url)


def test_filter_pattern_over_the_logs_limit_is_refused() -> None:
    from deniedwatch.rules import DenialRule

    rule = DenialRule(frozenset(f"Code{i:04d}Denied" for i in range(60)))
    with pytest.raises(plan.PlanError, match="1024"):
        plan.checked_filter_pattern(rule)


def test_code_key_changes_with_the_zip() -> None:
    assert plan.code_key("s", "a" * 64) != plan.code_key("s", "b" * 64)


# -- stack event reading (pure) -----------------------------------------------------------
def _event(i: int, logical: str, kind: str, status: str, reason: str | None = None) -> StackEvent:
    from datetime import UTC, datetime

    return StackEvent(
        f"e{i}", datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC), logical, kind, status, reason
    )


def test_root_failures_skip_cancellations_and_the_stack_itself() -> None:
    events = [
        _event(1, "s", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
        _event(
            2,
            "Function",
            "AWS::Lambda::Function",
            "CREATE_FAILED",
            "Resource handler "
            'returned message: "Error occurred while GetObject. S3 Error Code: NoSuchKey"',
        ),
        _event(
            3, "DedupTable", "AWS::DynamoDB::Table", "CREATE_FAILED", "Resource creation cancelled"
        ),
        _event(
            4,
            "s",
            "AWS::CloudFormation::Stack",
            "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Function].",
        ),
    ]
    failures = root_failures(events)
    assert [(f.logical_id, f.status) for f in failures] == [("Function", "CREATE_FAILED")]
    assert "NoSuchKey" in failures[0].describe()


def test_no_change_reasons() -> None:
    assert is_no_change("The submitted information didn't contain changes. Submit different")
    assert is_no_change("No updates are to be performed.")
    assert not is_no_change("Template format error")


def test_with_decoding_sets_the_explain_setting_the_permission_goes_with() -> None:
    for start in ("", "[explain]\ndecode_authorization_messages = false\n", "[alerts]\n"):
        for on in (True, False):
            text = plan.with_decoding(start, on)
            assert parse_settings(text, Path("t.toml")).explain.decode_authorization_messages is on
    assert _plan().parameters("k")["DecodeAuthorizationMessages"] == "false"
    on = _plan(decode_authorization_messages=True).parameters("k")
    assert on["DecodeAuthorizationMessages"] == "true"
