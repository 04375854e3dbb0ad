"""Every AWS command as a user runs it against a local stand-in: separate processes,
AWS_ENDPOINT_URL at a moto server, nothing patched. `deploy`, `status`, `set-secret`,
`destroy --purge`, `test-alert`, `scan s3://…`, `athena create-table` and
`scan --engine athena` either work or name what moto lacks in one line each
(logs:TestMetricFilter, the stack's AWS::SecretsManager::Secret and AWS::CloudTrail::Trail,
TLS on its endpoint, Athena SQL), and go on where they can."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES

from dwtest import EXAMPLES, run_clean
from live_support import SlackStandIn
from samples import NO_CONFIG_IDS

DENIEDWATCH = str(Path(sys.executable).with_name("deniedwatch"))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_clean([DENIEDWATCH, *args], env=env)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DENIEDWATCH_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        DENIEDWATCH_SLACK_WEBHOOK_URL="http://127.0.0.1:9/hook",
        COLUMNS="200",
    )
    return env


def test_deploy_status_destroy_against_moto_server_as_processes(
    moto_server: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    env = _env(moto_server, tmp_path)
    stack, bucket = unique_name("dwp"), unique_name("dwp-code")
    os.chdir(tmp_path)  # no ./deniedwatch.toml
    common = ["--stack-name", stack, "--region", "eu-west-1"]

    deployed = _run(env, "deploy", "--yes", *common, "--code-bucket", bucket)
    assert deployed.returncode == 0, deployed.stderr
    warnings = [line for line in deployed.stderr.splitlines() if line.startswith("warning:")]
    assert any(
        line.startswith("warning: not checked: filter pattern (logs TestMetricFilter: HTTP 500")
        for line in warnings
    ), deployed.stderr
    assert any("TLS-only policy" in line for line in warnings), deployed.stderr
    assert any("skips AWS::SecretsManager::Secret" in line for line in warnings), deployed.stderr
    assert "deleted outside the stack" not in deployed.stderr
    assert f"stack {stack} created" in deployed.stdout + deployed.stderr

    again = _run(env, "deploy", "--yes", "--skip-preflight", *common, "--code-bucket", bucket)
    assert "warning: not checked (--skip-preflight): filter pattern" in again.stderr
    assert "logs TestMetricFilter" not in again.stderr  # not asked at all
    # the secret moto never made is named as such, never "deleted outside the stack"
    checked = _run(env, "deploy", "--yes", *common, "--code-bucket", bucket)
    assert checked.returncode == 0, checked.stderr
    assert (
        f"warning: not checked: secret ({moto_server} did not create the stack's secret "
        f"{stack}/slack-webhook-url (its CloudFormation skips AWS::SecretsManager::Secret))"
    ) in checked.stderr.splitlines()
    rotated = _run(env, "set-secret", "slack", "--from-env", "--yes", *common)
    assert rotated.returncode == 2
    assert _lines(rotated.stderr) == [
        f"error: {moto_server} did not create the stack's secret {stack}/slack-webhook-url "
        "(its CloudFormation skips AWS::SecretsManager::Secret): there is no secret to store "
        "into (on AWS the stack creates it)"
    ]
    for said in (checked, rotated):
        assert "deleted outside the stack" not in said.stderr

    # status: the trail moto skipped is a warning naming the stand-in, not a health problem
    healthy = _run(env, "status", *common)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert _lines(healthy.stderr) == [
        f"warning: {moto_server} did not create the stack's trail {stack}-trail (its "
        "CloudFormation skips AWS::CloudTrail::Trail): trail logging not checked"
    ]
    assert f"{stack}-trail: not created by the stand-in" in healthy.stdout

    destroyed = _run(env, "destroy", "--yes", "--purge", *common)
    assert destroyed.returncode == 0, destroyed.stderr
    assert f"stack {stack} deleted" in destroyed.stdout + destroyed.stderr
    gone = _run(env, "status", *common)
    assert "does not exist" in gone.stdout + gone.stderr


def test_no_region_names_the_variable_this_botocore_reads(tmp_path: Path) -> None:
    """AWS_REGION is what most SDKs read; the locked botocore reads AWS_DEFAULT_REGION."""
    (_, variable, _, _) = BOTOCORE_DEFAUT_SESSION_VARIABLES["region"]
    env = _env("http://127.0.0.1:9", tmp_path)
    del env["AWS_DEFAULT_REGION"]
    env["AWS_REGION"] = "eu-west-1"
    os.chdir(tmp_path)
    for command in (["status"], ["athena", "create-table", "--bucket", "b"]):
        done = _run(env, *command)
        assert done.returncode == 2
        (line,) = _lines(done.stderr)
        assert line.startswith("error: no AWS region: pass --region, set AWS_DEFAULT_REGION")
        assert line.endswith("; AWS_REGION is set, but boto3 reads AWS_DEFAULT_REGION")
    assert variable == "AWS_DEFAULT_REGION"


def test_test_alert_reaches_slack_and_an_sns_topic_on_moto(
    moto_server: str, tmp_path: Path, unique_name: Callable[[str], str], httpserver
) -> None:
    env = _env(moto_server, tmp_path)
    slack = SlackStandIn(httpserver)
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="eu-west-1", **_KEYS)
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="eu-west-1", **_KEYS)
    topic = sns.create_topic(Name=unique_name("dwalert"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique_name("inbox"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    settings = tmp_path / "deniedwatch.toml"
    settings.write_text(
        '[[destinations]]\nname = "chat"\ntype = "slack"\nurl_env = "CHAT_URL"\n'
        f'[[destinations]]\nname = "mail"\ntype = "sns"\ntopic_arn = "{topic}"\n'
        '[[routes]]\ndestinations = ["chat", "mail"]\n'
    )
    env["CHAT_URL"] = slack.url
    done = _run(env, "test-alert", "--config", str(settings))
    assert done.returncode == 0, done.stderr
    (body,) = slack.bodies
    assert "deploy-pipeline/build-4711 denied s3:GetObject" in body["text"]
    (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    subject = json.loads(message["Body"])["Subject"]
    assert "deploy-pipeline/build-4711" in subject and "s3:GetObject" in subject


_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _trail_bucket(moto_server: str, bucket: str) -> str:
    """A bucket holding the sample export's CloudTrail gzip files, as a trail writes them."""
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", **_KEYS)
    s3.create_bucket(Bucket=bucket)
    for path in EXAMPLES.rglob("*.json.gz"):
        s3.put_object(Bucket=bucket, Key=str(path.relative_to(EXAMPLES)), Body=path.read_bytes())
    return bucket


def test_scan_of_an_s3_bucket_on_moto_finds_what_the_folder_holds(
    moto_server: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    bucket = _trail_bucket(moto_server, unique_name("dwtrail"))
    os.chdir(tmp_path)
    done = _run(_env(moto_server, tmp_path), "scan", f"s3://{bucket}/AWSLogs/", "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    assert {json.loads(line)["event_id"] for line in done.stdout.splitlines()} == NO_CONFIG_IDS


def test_athena_on_moto_says_that_the_stand_in_runs_no_sql(
    moto_server: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    """moto's Athena accepts queries and runs none ("Queries are not executed by Moto"):
    create-table says the table was not made, the scan that its rows are not the trail's."""
    env = _env(moto_server, tmp_path)
    os.chdir(tmp_path)
    database = unique_name("dwdb").replace("-", "_")
    bucket = _trail_bucket(moto_server, unique_name("dwathena"))
    made = _run(env, "athena", "create-table", "--bucket", bucket, "--database", database)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"not created by the stand-in: {database}.cloudtrail_logs")
    said = f"warning: {moto_server} answered for Athena: a stand-in runs no SQL"
    said += " (moto executes no query)"
    assert _lines(made.stderr) == [f"{said}, so {database}.cloudtrail_logs was not created"]
    scanned = _run(
        env, "scan", "--engine", "athena", "--since", "1d", "--database", database,
        "--output-location", "s3://results/",
    )  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
    assert _lines(scanned.stderr)[-1] == f"{said}: these rows are not your trail's"


def test_gone_names_only_the_trail_resources_that_no_longer_exist(
    moto_server: str, unique_name: Callable[[str], str]
) -> None:
    """What `destroy` (without --purge) checks on a stand-in before it says "kept"."""
    from deniedwatch.deploy.aws import gone

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", **_KEYS)
    logs = boto3.client("logs", endpoint_url=moto_server, region_name="us-east-1", **_KEYS)
    bucket, group = unique_name("dwkept"), unique_name("/dw/kept")
    s3.create_bucket(Bucket=bucket)
    logs.create_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group + "-longer")  # a prefix match is not the group
    assert gone(s3, logs, bucket, group) == []
    s3.delete_bucket(Bucket=bucket)
    logs.delete_log_group(logGroupName=group)
    assert gone(s3, logs, bucket, group) == [f"bucket {bucket}", f"log group {group}"]
    assert gone(s3, logs, None, None) == []
