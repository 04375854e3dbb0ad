"""Fixtures of the reliability suites (helpers shared with other tests: ../live_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from deniedwatch import lambda_handler, secrets
from deniedwatch.alerts.channels.sns import ENV_TOPIC_ARN
from deniedwatch.alerts.dedup import ENV_TABLE
from deniedwatch.config import ENV_CONFIG
from live_support import create_dedup_table


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean Lambda environment (no channel, table or settings file) and container state."""
    for name in (
        secrets.ENV_SECRET_ARN,
        secrets.ENV_WEBHOOK_URL,
        secrets.ENV_SECRETS_ARN,
        ENV_TOPIC_ARN,
        ENV_TABLE,
        ENV_CONFIG,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    lambda_handler.reset()
    yield monkeypatch
    lambda_handler.reset()


@pytest.fixture
def dedup_table(aws_env: str, unique_name: Callable[[str], str], lambda_env) -> str:
    """A dedup table on the moto server, named in the Lambda's environment."""
    name = create_dedup_table(unique_name("dedup"))
    lambda_env.setenv(ENV_TABLE, name)
    return name
