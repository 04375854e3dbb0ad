"""Fixtures of the reliability suites. ``lambda_env`` and the rest come from ../conftest.py;
helpers shared with other tests are in ../live_support.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deniedwatch.alerts.dedup import ENV_TABLE
from live_support import create_dedup_table


@pytest.fixture
def dedup_table(aws_env: str, unique_name: Callable[[str], str], lambda_env) -> str:
    """A dedup table on the moto server, named in the Lambda's environment."""
    name = create_dedup_table(unique_name("dedup"))
    lambda_env.setenv(ENV_TABLE, name)
    return name
