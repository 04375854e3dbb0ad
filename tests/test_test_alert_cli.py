"""`deniedwatch test-alert` and `deniedwatch scan --notify`, through the real entry
point, against a local Slack stand-in."""

from __future__ import annotations

import json

import pytest

from deniedwatch.alerts import retry as retry_module
from dwtest import EXAMPLE_CONFIG, EXAMPLES
from live_support import SlackStandIn, alert_count, denial, status


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch):
    """Pacing shortcut for the CLI (real sleep inside): the pacing itself is tested
    with a fake clock in test_slack_delivery.py."""
    monkeypatch.setattr(retry_module, "POST_INTERVAL", 0.0)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DENIEDWATCH_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DENIEDWATCH_SNS_TOPIC_ARN", raising=False)


def test_test_alert_posts_the_bundled_sample(cli, httpserver):
    slack = SlackStandIn(httpserver)
    result = cli("test-alert", "--slack-webhook-url", slack.url)
    assert result.exit_code == 0, result.stderr
    (body,) = slack.bodies
    header = body["blocks"][0]["text"]["text"]
    assert " · deploy-pipeline/build-4711 denied s3:GetObject on " in header
    assert slack.url not in result.stdout + result.stderr


def test_test_alert_reads_the_env_var_and_reports_failure_without_the_url(
    cli, httpserver, monkeypatch
):
    slack = SlackStandIn(httpserver, [status(404, "no_service")])
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    result = cli("test-alert")
    assert result.exit_code == 2
    assert "HTTP 404" in result.stderr and "/services/" not in result.stderr
    assert len(slack.bodies) == 1


@pytest.mark.parametrize("command", [("test-alert",), ("scan", str(EXAMPLES), "--notify")])
def test_test_alert_and_scan_read_the_name_deploy_reads(cli, httpserver, monkeypatch, command):
    """One environment variable for the webhook in every command (SLACK_WEBHOOK_URL, the
    name test-alert and scan read before, is an alias)."""
    slack = SlackStandIn(httpserver)
    monkeypatch.setenv("DENIEDWATCH_SLACK_WEBHOOK_URL", slack.url)
    result = cli(*command, "--config", EXAMPLE_CONFIG, *(["--quiet"] if len(command) > 1 else []))
    assert result.exit_code in (0, 1), result.stderr
    assert slack.bodies


def test_scan_notify_sends_grouped_alerts_for_unsuppressed_findings(cli, httpserver):
    slack = SlackStandIn(httpserver)
    result = cli(
        "scan",
        EXAMPLES,
        "--config",
        EXAMPLE_CONFIG,
        "--account",
        "444455556666",
        "--format",
        "jsonl",
        "--notify",
        "--slack-webhook-url",
        slack.url,
        "--quiet",
    )
    assert result.exit_code == 0, result.stderr
    findings = {json.loads(line)["event_id"] for line in result.stdout.splitlines() if line.strip()}
    assert findings and 1 <= len(slack.bodies) <= len(findings)
    counts = sum(alert_count(b) for b in slack.bodies)
    assert counts == len(findings)
    assert f"notify: {len(slack.bodies)} alerts sent" in result.stderr


def test_scan_notify_without_a_destination_is_a_usage_error(cli):
    result = cli("scan", EXAMPLES, "--notify")
    assert result.exit_code == 2 and "--notify needs" in result.stderr


ROUTED = """
[[destinations]]
name = "b-teams"
type = "teams"
url_env = "B_TEAMS_URL"

[[destinations]]
name = "sec-slack"
type = "slack"
url_env = "SEC_SLACK_URL"

[[routes]]
name = "b"
accounts = ["222222222222"]
destinations = ["b-teams"]
"""


def test_test_alert_destination_sends_to_that_one_only(cli, httpserver, tmp_path, monkeypatch):
    from standins import TeamsStandIn

    teams = TeamsStandIn(httpserver)
    slack = SlackStandIn(httpserver)
    monkeypatch.setenv("B_TEAMS_URL", teams.url)
    monkeypatch.setenv("SEC_SLACK_URL", slack.url)
    config = tmp_path / "routed.toml"
    config.write_text(ROUTED)
    result = cli("test-alert", "--destination", "b-teams", "--config", config)
    assert result.exit_code == 0, result.stderr
    assert len(teams.bodies) == 1 and slack.bodies == []
    assert "sig=" not in result.stderr

    unknown = cli("test-alert", "--destination", "nope", "--config", config)
    assert unknown.exit_code == 2
    assert "no destination named 'nope' (configured: b-teams, sec-slack)" in unknown.stderr


def test_test_alert_destination_without_its_secret_is_one_clear_line(cli, tmp_path):
    config = tmp_path / "routed.toml"
    config.write_text(ROUTED)
    result = cli("test-alert", "--destination", "b-teams", "--config", config)
    assert result.exit_code == 2
    assert "b-teams" in result.stderr and "set env B_TEAMS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_routes_prints_where_sample_findings_go(cli, tmp_path):
    config = tmp_path / "routed.toml"
    config.write_text(ROUTED)
    result = cli("routes", "--config", config)
    assert result.exit_code == 0, result.stderr
    assert "b-teams" in result.stdout and "env B_TEAMS_URL" in result.stdout
    assert "(default)" in result.stdout and "sec-slack" in result.stdout

    record = tmp_path / "record.json"
    record.write_text(json.dumps(denial(account="222222222222")))
    routed = cli("routes", "--config", config, "--record", record)
    assert routed.exit_code == 0, routed.stderr
    assert "│ b " in routed.stdout or " b " in routed.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(ROUTED.replace('destinations = ["b-teams"]', 'destinations = ["b-team"]'))
    failed = cli("routes", "--config", bad)
    assert failed.exit_code == 2
    assert f"{bad}:15: routes[0].destinations: unknown destination 'b-team'" in failed.stderr
