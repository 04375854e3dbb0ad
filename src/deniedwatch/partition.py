"""AWS partitions: the ARN prefix and the console host for a region, in one place.

China and GovCloud regions have their own partitions (``arn:aws-cn:``, ``arn:aws-us-gov:``)
and consoles: https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html
"""

from __future__ import annotations

_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
_CONSOLE = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-cn": "https://console.amazonaws.cn",
    "aws-us-gov": "https://console.amazonaws-us-gov.com",
}


def partition_of(region: str | None) -> str:
    for prefix, partition in _PARTITIONS:
        if region and region.startswith(prefix):
            return partition
    return "aws"


def console_base(region: str) -> str:
    """The console's scheme and host for ``region`` (a validated region name)."""
    return _CONSOLE[partition_of(region)].format(region=region)


def arn(region: str | None, rest: str) -> str:
    """``arn:<partition>:`` + ``rest`` (``s3:::bucket``, ``logs:eu-west-1:…``)."""
    return f"arn:{partition_of(region)}:{rest}"
