"""Secrets: a marker webhook URL must show up nowhere but where it is stored.

The marker is the secret part of the webhook path. deploy runs against moto (the URL
given as https://hooks.slack.com/...: deploy sends nothing to it); the handler,
test-alert and scan --notify post to the local stand-in at .../SECRETMARKER12345.
Root logging is at DEBUG (so botocore, urllib3 and slack_sdk log all they will) and
every log record, stdout and stderr is searched, plus what describe calls show:
stack parameters and outputs, the template, and the function's configuration.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from faulty_slack import FaultySlack
from figures import record

from deniedwatch import lambda_handler
from live_support import FakeTime, denial, subscription_payload

REPO = Path(__file__).resolve().parents[2]
MARKER = "SECRETMARKER12345"
DEPLOY_URL = f"https://hooks.slack.com/services/TMARKER/BMARKER/{MARKER}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)  # root and every library logger
    return caplog


def _hits(text: str) -> int:
    return text.count(MARKER)


def test_the_webhook_marker_appears_nowhere(
    lambda_env, dedup_table, cli, debug_logs, capsys, unique_name, aws_stand_ins
) -> None:
    import boto3

    places: dict[str, int] = {}
    slack = FaultySlack(rate=0.0)
    try:
        # the live path: the URL from Secrets Manager, one payload, one failing post too
        arn = boto3.client("secretsmanager").create_secret(
            Name=unique_name("slack"), SecretString=json.dumps({"webhook_url": slack.url})
        )["ARN"]
        lambda_env.setenv("DENIEDWATCH_SLACK_SECRET_ARN", arn)
        debug_logs.clear()  # the test's own create_secret call above is not searched
        fake = FakeTime()
        rt = lambda_handler.build_runtime(sleep=fake.sleep, clock=fake.monotonic, slack_timeout=2)
        lambda_env.setattr(lambda_handler, "_runtime", rt)
        lambda_handler.handler(subscription_payload([denial(user="a"), denial(user="b")]), None)
        slack.rate = 1.0  # every kind of failure once more, with their error texts
        for user in ("c", "d", "e"):
            try:
                lambda_handler.handler(subscription_payload([denial(user=user)]), None)
            except Exception as exc:
                places["handler exception text"] = places.get("handler exception text", 0) + _hits(
                    str(exc)
                )
        slack.rate = 0.0
        out = capsys.readouterr()
        places["handler stdout+stderr"] = _hits(out.out + out.err)

        # the CLI commands that take the URL
        alert = cli("test-alert", "--slack-webhook-url", slack.url)
        scan = cli(
            "scan",
            REPO / "examples" / "cloudtrail",
            "--notify",
            "--slack-webhook-url",
            slack.url,
            "--format",
            "jsonl",
        )
        places["test-alert output"] = _hits(alert.stdout + alert.stderr)
        places["scan --notify output"] = _hits(scan.stdout + scan.stderr)
        assert alert.exit_code == 0 and scan.exit_code == 0, (alert.stderr, scan.stderr)
    finally:
        slack.close()

    # deploy against moto
    stack = unique_name("dwsecret")
    deployed = cli(
        "deploy",
        "--yes",
        "--stack-name",
        stack,
        "--region",
        "us-east-1",
        "--slack-webhook-url",
        DEPLOY_URL,
    )
    places["deploy output"] = _hits(deployed.stdout + deployed.stderr)
    status = cli("status", "--stack-name", stack, "--region", "us-east-1")
    places["status output"] = _hits(status.stdout + status.stderr)
    cfn = boto3.client("cloudformation")
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    places["describe_stacks (parameters, outputs)"] = _hits(json.dumps(described, default=str))
    places["get_template"] = _hits(
        json.dumps(cfn.get_template(StackName=stack)["TemplateBody"], default=str)
    )
    functions = [
        r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    ]
    config = [boto3.client("lambda").get_function_configuration(FunctionName=f) for f in functions]
    places["function configuration (environment)"] = _hits(json.dumps(config, default=str))
    log_records = len(debug_logs.records)
    places["log records (DEBUG, all loggers)"] = _hits(
        "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in debug_logs.records)
    )
    out = capsys.readouterr()
    places["other stdout+stderr"] = _hits(out.out + out.err)
    debug_logs.set_level(logging.WARNING)  # the test's own read of the secret is not searched
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=f"{stack}/slack-webhook-url")

    record(
        "secrets",
        "marker webhook URL through deploy, handler, test-alert, scan --notify",
        tried="DEBUG logging; search logs, outputs, describe_stacks, template, function env",
        times=len(places),
        held="marker hits == 0",
        places_searched=len(places),
        log_records_searched=log_records,
        marker_hits=sum(places.values()),
        marker_in_secret_store=int(MARKER in stored["SecretString"]),
    )
    assert deployed.exit_code == 0, deployed.stderr
    assert functions and config
    assert MARKER in stored["SecretString"]  # the one place it belongs
    assert {k: v for k, v in places.items() if v} == {}
