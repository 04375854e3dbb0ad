"""Shared fixtures for every test module. Names here are stable: other tests rely on them.

``moto_server`` (session scope)
    A real moto ``ThreadedMotoServer`` on 127.0.0.1, port chosen by the OS; yields its
    endpoint URL (``http://127.0.0.1:PORT``). One server per test process (per xdist
    worker), shared by every test in it: use unique resource names (``unique_name``).

``aws_env``
    Points boto3 at the moto server with fake credentials: sets AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN = "testing", AWS_DEFAULT_REGION and
    AWS_REGION = us-east-1, AWS_ENDPOINT_URL = the moto endpoint, and cuts off every other
    credential source (no ~/.aws files, no profile, no instance metadata). Yields the
    endpoint URL. Undone after each test.

``no_aws_credentials``
    The same isolation without any credentials: boto3 must fail with NoCredentialsError.

``aws_stand_ins``
    For a `deniedwatch deploy` against moto: stands in for what moto cannot do
    (logs:TestMetricFilter, the stack's secret, the TLS-only code bucket policy) and
    records every AWS call the CLI makes. Returns ``aws_stand_ins.Recorded``; see
    tests/aws_stand_ins.py for what is simulated and why.

``unique_name``
    A factory of names unique in this test process, for buckets, stacks, tables.

``cli``
    Runs ``deniedwatch ARGS...`` in-process through the real console-script entry
    ``deniedwatch.cli.main`` (so errors become one line and an exit status, exactly as
    in a shell), capturing stdout and stderr separately. Returns ``CliResult``.

``lambda_env``
    A clean Lambda environment for the handler in-process: none of the variables the
    stack sets (live_support.LAMBDA_ENV_VARS), AWS_REGION = eu-west-1, the container
    state reset before and after. Yields the monkeypatch.

``EXAMPLES`` / ``EXAMPLE_CONFIG`` / ``CliResult``
    The bundled sample CloudTrail export and settings file, and the ``cli`` result type.
    Import them from ``dwtest`` (``from dwtest import EXAMPLES``), not from conftest:
    with tests/reliability/conftest.py in the tree, ``import conftest`` may get that one.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dwtest import EXAMPLE_CONFIG, EXAMPLES, REPO, CliResult

__all__ = ["EXAMPLES", "EXAMPLE_CONFIG", "REPO", "CliResult"]

_CREDENTIAL_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _isolate_from_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential, profile or endpoint can come from the machine running the tests."""
    for name in (*_CREDENTIAL_VARS, "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    _isolate_from_real_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def aws_stand_ins(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from aws_stand_ins import install

    return install(monkeypatch)


@pytest.fixture
def no_aws_credentials(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    _isolate_from_real_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


_names = itertools.count(1)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    import os

    def make(prefix: str = "dw") -> str:
        return f"{prefix}-{os.getpid()}-{next(_names)}"

    return make


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    from typer.testing import CliRunner

    from deniedwatch.cli import main

    def run(*args: str | Path) -> CliResult:
        runner = CliRunner()
        with runner.isolation() as (out, err, _):
            monkeypatch.setattr(sys, "argv", ["deniedwatch", *map(str, args)])
            code: int = 0
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            sys.stdout.flush()  # the isolation's text wrappers buffer
            sys.stderr.flush()
            stdout = out.getvalue().decode()
            stderr = err.getvalue().decode()
        return CliResult(code, stdout, stderr)

    return run


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    from deniedwatch import lambda_handler
    from live_support import LAMBDA_ENV_VARS

    for name in LAMBDA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    lambda_handler.reset()
    yield monkeypatch
    lambda_handler.reset()
