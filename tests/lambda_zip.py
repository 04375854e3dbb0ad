"""The deployed function's zip, run as the Lambda runtime runs it (moto cannot run Lambda
code without docker): unpacked into a task folder, imported from there first, with boto3
and its closure put beside it the way the python3.12 runtime provides them, in a separate
interpreter (the Lambda's version when this machine has one: package.runtime_python()).

Used by tests/test_deploy_e2e.py and by the local rehearsal (tests/rehearse.py).
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

# What the Lambda python3.12 runtime provides besides the stdlib: boto3 and its closure.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

# Run inside the function's interpreter: the handler from the unpacked zip, every AWS call
# it makes recorded by a botocore hook, the result (plus those calls) as the last line.
_RUN = """\
import json, sys
sys.path[:0] = [{code!r}, {runtime!r}]
import deniedwatch.lambda_handler as h
assert h.__file__.startswith(sys.path[0]), h.__file__
import boto3
boto3.setup_default_session()
calls = set()
def record(model, **_):
    calls.add(model.service_model.signing_name + ':' + model.name)
boto3.DEFAULT_SESSION.events.register('before-call', record)
result = h.handler(json.loads(sys.stdin.read()), None)
result['_aws_calls'] = sorted(calls)
print(json.dumps(result))
"""


class ZipRunFailed(RuntimeError):
    """The function's process failed; the message is the end of its stderr."""


def runtime_dir(workdir: Path) -> Path:
    """boto3 & co. from this venv (pure Python), as the Lambda runtime would supply them."""
    runtime = workdir / "lambda-runtime"
    runtime.mkdir()
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec and spec.origin
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def subscription_payload(record: dict[str, Any], log_group: str = "aws-cloudtrail-logs") -> dict:
    """A CloudWatch Logs subscription delivery of one CloudTrail record, as Lambda gets it."""
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "123456789012_CloudTrail_eu-west-1",
        "subscriptionFilters": ["deniedwatch"],
        "logEvents": [{"id": "1" * 56, "timestamp": 1763629531000, "message": json.dumps(record)}],
    }
    raw = gzip.compress(json.dumps(data).encode())
    return {"awslogs": {"data": base64.b64encode(raw).decode()}}


def function_env(variables: dict[str, str], endpoint: str, home: Path, region: str) -> dict:
    """The function's environment as the stack set it, plus what the runtime provides
    (fake credentials, the region) and the stand-in's endpoint; nothing from this shell."""
    env = dict(variables)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(home / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        PATH=os.environ.get("PATH", ""),
        HOME=str(home),
    )
    return env


def run_zip(
    python: str, zip_bytes: bytes, env: dict[str, str], payload: dict, workdir: Path
) -> dict[str, Any]:
    """Unpack the zip into ``workdir``/task (like /var/task) and invoke its handler once on
    ``payload`` in ``python -I``; the handler's result, with ``_aws_calls`` added."""
    code = workdir / "task"
    zipfile.ZipFile(io.BytesIO(zip_bytes)).extractall(code)
    script = _RUN.format(code=str(code), runtime=str(runtime_dir(workdir)))
    run = subprocess.run(
        [python, "-I", "-c", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        raise ZipRunFailed(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])
