"""`make rehearse` (tests/rehearse.py) end to end, as processes: deploy against a moto
server, one denial through the deployed zip, the alert at the local receiver, status,
destroy --purge; and a failed step that still stops both servers."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from dwtest import run_clean

REHEARSE = Path(__file__).with_name("rehearse.py")
STEPS = ["stand-in", "receiver", "deploy", "invoke", "alert", "status", "destroy", "gone"]


def _rehearse(*args: str) -> subprocess.CompletedProcess[str]:
    return run_clean([sys.executable, str(REHEARSE), *args], timeout=900)


def test_the_rehearsal_deploys_alerts_and_destroys_against_moto(
    moto_server: str, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("dwrehearse")
    done = _rehearse("--endpoint", moto_server, "--stack-name", stack)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    steps = [m.group(1) for line in lines if (m := re.match(r"\[\d/8\] ([a-z-]+): ", line))]
    assert steps == STEPS
    # what the receiver got, as the rehearsal shows it: the denied action and the caller
    alert = [line.strip()[2:] for line in lines if line.startswith("      | ")]
    assert "deploy-pipeline/build-4711 denied s3:GetObject" in alert[0]
    assert {"Who: deploy-pipeline/build-4711", "What: s3:GetObject"} <= set(alert)
    # the simulated part is said where it happens
    assert (
        "      simulated: moto does not create the secret; the webhook is given through the "
        "environment (SLACK_WEBHOOK_URL instead of DENIEDWATCH_SECRETS_ARN)"
    ) in lines
    assert "[6/8] status: healthy (exit 0)" in lines
    # the stack and its function are gone, asked of moto itself
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    cfn = boto3.client("cloudformation", endpoint_url=moto_server, region_name="eu-west-1", **keys)
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=stack)
    lam = boto3.client("lambda", endpoint_url=moto_server, region_name="eu-west-1", **keys)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"{stack}-alerts")
    assert lines[-1] == f"rehearsal passed: 8 steps against {moto_server}"


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) != 0


def test_a_failed_step_is_one_line_and_both_servers_are_stopped() -> None:
    """Its own moto_server this time: a stack name CloudFormation would refuse stops the
    deploy step; the run says which step in one line, exits 1, and stops what it started."""
    done = _rehearse("--stack-name", "1-not-a-stack-name")
    assert done.returncode == 1
    (failed,) = done.stderr.splitlines()
    assert failed.startswith("rehearse: FAILED at step 3/8 (deploy): `deniedwatch deploy` exited 2")
    assert "error: stack name" in failed
    moto = re.search(r"stopped moto_server (http://\S+)", done.stdout)
    slack = re.search(r"stopped the receiver (http://\S+)", done.stdout)
    assert moto and slack, done.stdout
    assert _refused(moto.group(1)) and _refused(slack.group(1))


def test_a_kill_mid_run_still_stops_both_servers() -> None:
    run = subprocess.Popen(
        [sys.executable, str(REHEARSE), "--stack-name", "dwkilled"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert run.stdout is not None
    seen = [run.stdout.readline() for _ in range(2)]  # the stand-in, then the receiver
    assert seen[1].startswith("[2/8] receiver: "), seen
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in out + err
    (failed,) = err.splitlines()
    assert failed.startswith("rehearse: FAILED at step ") and failed.endswith(": interrupted")
    moto = re.search(r"stopped moto_server (http://\S+)", out)
    slack = re.search(r"stopped the receiver (http://\S+)", out)
    assert moto and slack, out
    assert _refused(moto.group(1)) and _refused(slack.group(1))
