"""`deploy`, `status` and `destroy --purge` as a user runs them against a local stand-in:
separate processes, AWS_ENDPOINT_URL at a moto server, nothing patched. What moto lacks
(logs:TestMetricFilter, the stack's AWS::SecretsManager::Secret, TLS on its endpoint) is
named in one warning line each, and the commands go on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

DENIEDWATCH = str(Path(sys.executable).with_name("deniedwatch"))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [DENIEDWATCH, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "<!doctype" not in out.lower(), out
    return done


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

    destroyed = _run(env, "destroy", "--yes", "--purge", *common)
    assert destroyed.returncode == 0, destroyed.stderr
    assert f"stack {stack} deleted" in destroyed.stdout + destroyed.stderr
    gone = _run(env, "status", *common)
    assert "does not exist" in gone.stdout + gone.stderr
