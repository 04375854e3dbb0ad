"""Partitions: ARNs and console links for the commercial, China and GovCloud regions."""

from __future__ import annotations

import json

import pytest

from deniedwatch.deploy.aws import tls_only_policy
from deniedwatch.finding import console_url
from deniedwatch.partition import console_base, partition_of


@pytest.mark.parametrize(
    ("region", "partition", "host"),
    [
        ("eu-west-1", "aws", "https://eu-west-1.console.aws.amazon.com"),
        ("cn-north-1", "aws-cn", "https://console.amazonaws.cn"),
        ("cn-northwest-1", "aws-cn", "https://console.amazonaws.cn"),
        ("us-gov-west-1", "aws-us-gov", "https://console.amazonaws-us-gov.com"),
    ],
)
def test_each_partition_gets_its_arns_and_console(region: str, partition: str, host: str) -> None:
    assert partition_of(region) == partition
    assert console_base(region) == host
    assert console_url(region, "e1") == f"{host}/cloudtrailv2/home?region={region}#/events/e1"
    (deny,) = json.loads(tls_only_policy("b", region))["Statement"]
    assert deny["Resource"] == [f"arn:{partition}:s3:::b", f"arn:{partition}:s3:::b/*"]


def test_no_literal_commercial_arn_in_what_deploy_builds() -> None:
    """The template, the deploy code and the console links (sample CloudTrail records for
    test-alert may carry commercial ARNs: they are data, not something deploy builds)."""
    from pathlib import Path

    import deniedwatch

    root = Path(deniedwatch.__file__).parent

    def code(path: Path) -> list[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if not line.lstrip().startswith("#")]

    for path in [*(root / "deploy").glob("*.py"), *(root / "deploy").glob("*.yaml")]:
        assert not [line for line in code(path) if "arn:aws:" in line], path
    for path in (root / "finding.py", root / "alerts" / "group.py"):  # via partition.py
        assert not [line for line in code(path) if "console.aws.amazon.com" in line], path
