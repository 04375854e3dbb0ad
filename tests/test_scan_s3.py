"""`deniedwatch scan s3://…` against a real moto S3 server on 127.0.0.1 (no AWS, no network)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from deniedwatch.rules import Ruleset
from deniedwatch.scan import ScanRequest, run
from deniedwatch.sources import trailfiles
from deniedwatch.sources.trailfiles import TrailFile
from dwtest import EXAMPLE_CONFIG, EXAMPLES, CliResult
from samples import CONFIG_IDS, RAW, ids

Cli = Callable[..., CliResult]
EXAMPLE_KEYS = sorted(
    p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file()
)


@pytest.fixture(autouse=True)
def _no_stray_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENIEDWATCH_CONFIG", raising=False)


@pytest.fixture
def s3(aws_env: str) -> Any:
    return boto3.client("s3")


@pytest.fixture
def trail_bucket(s3: Any, unique_name: Callable[[str], str]) -> str:
    """A bucket holding the sample export under AWSLogs/…, as a trail writes it."""
    bucket = unique_name("trail")
    s3.create_bucket(Bucket=bucket)
    for key in EXAMPLE_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=(EXAMPLES / key).read_bytes())
    return bucket


def test_s3_scan_gives_what_the_local_scan_gives(cli: Cli, trail_bucket: str) -> None:
    local = cli("scan", EXAMPLES, "--config", EXAMPLE_CONFIG)
    remote = cli("scan", f"s3://{trail_bucket}/AWSLogs/", "--config", EXAMPLE_CONFIG)
    assert remote.exit_code == 0, remote.stderr
    assert ids(remote) == CONFIG_IDS
    assert remote.stdout == local.stdout
    # the digest and the insight file were listed and knowingly skipped, not read
    assert "5 files read (1 digest, 1 insight skipped), 33 events, 20 findings" in remote.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_whole_bucket_and_jobs(cli: Cli, trail_bucket: str, jobs: str) -> None:
    result = cli("scan", f"s3://{trail_bucket}", "--config", EXAMPLE_CONFIG, "--jobs", jobs)
    assert result.exit_code == 0, result.stderr
    assert ids(result) == CONFIG_IDS


def test_account_prefix_and_date_pruning(cli: Cli, trail_bucket: str) -> None:
    prefix = f"s3://{trail_bucket}/AWSLogs/111122223333/"
    result = cli("scan", prefix, "--since", "2026-11-21", "--config", EXAMPLE_CONFIG)
    assert result.exit_code == 0, result.stderr
    assert ids(result) == {
        r["eventID"]
        for r in RAW
        if r["eventID"] in CONFIG_IDS
        and r["recipientAccountId"] == "111122223333"
        and r["eventTime"] >= "2026-11-21"
    }
    assert "2 files read" in result.stderr
    assert "2 outside the filters" in result.stderr


class _SmallPages:
    """Wraps a real S3 client so list_objects_v2 pages hold 2 keys (boto3 PageSize, sent
    to moto as MaxKeys): the listing must follow the continuation tokens across pages.
    Used instead of uploading 1,000+ objects, which takes seconds."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pages = 0

    def get_paginator(self, name: str) -> Any:
        real = self.client.get_paginator(name)
        outer = self

        class Paginator:
            def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
                kwargs["PaginationConfig"] = {"PageSize": 2}
                for page in real.paginate(**kwargs):
                    outer.pages += 1
                    yield page

        return Paginator()


def test_listing_follows_every_page(s3: Any, trail_bucket: str) -> None:
    client = _SmallPages(s3)
    listed = [tf.location for tf in trailfiles.list_s3(client, f"s3://{trail_bucket}/AWSLogs/")]
    assert listed == [f"s3://{trail_bucket}/{key}" for key in EXAMPLE_KEYS]
    assert client.pages == 4  # 7 objects, 2 a page


def test_bad_object_warns_with_its_s3_path(cli: Cli, s3: Any, trail_bucket: str) -> None:
    key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/22/broken.json.gz"
    body = gzip.compress(b'{"Records": []}')
    s3.put_object(Bucket=trail_bucket, Key=key, Body=body[:-9])
    result = cli("scan", f"s3://{trail_bucket}/AWSLogs/", "--config", EXAMPLE_CONFIG)
    assert result.exit_code == 3
    assert f"warning: s3://{trail_bucket}/{key}: corrupt gzip" in result.stderr
    assert ids(result) == CONFIG_IDS


def test_an_object_that_vanished_is_that_files_problem(s3: Any, trail_bucket: str) -> None:
    gone = TrailFile(f"s3://{trail_bucket}/AWSLogs/gone.json.gz")
    here = TrailFile(f"s3://{trail_bucket}/{EXAMPLE_KEYS[-1]}")
    request = ScanRequest((f"s3://{trail_bucket}",), jobs=1)
    results = list(run(request, Ruleset(), [gone, here], lambda: s3))
    assert results[0].error is not None and "NoSuchKey" in results[0].error
    assert results[1].error is None and results[1].events > 0


def test_missing_bucket(cli: Cli, aws_env: str, unique_name: Callable[[str], str]) -> None:
    result = cli("scan", f"s3://{unique_name('absent')}/AWSLogs/")
    assert result.exit_code == 2
    assert "NoSuchBucket" in result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials(cli: Cli, no_aws_credentials: str) -> None:
    result = cli("scan", "s3://any-bucket/AWSLogs/")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no AWS credentials found")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_s3_object_over_the_size_cap_is_named_from_its_listed_size(
    cli: Cli, s3: Any, unique_name: Callable[[str], str]
) -> None:
    """A huge object (or a bomb) in the bucket: refused by the size in the listing,
    before any download, and the scan goes on with the other objects."""
    bucket = unique_name("big")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="AWSLogs/big.json", Body=b" " * (2 * 2**20 + 1))
    s3.put_object(Bucket=bucket, Key="AWSLogs/ok.json", Body=b'{"Records": []}')
    result = cli("scan", f"s3://{bucket}/AWSLogs/", "--max-file-mb", "2", "--format", "jsonl")
    assert result.exit_code == 3
    warning = f"warning: s3://{bucket}/AWSLogs/big.json: too large: 2,097,153 bytes, over the 2 MiB"
    assert warning in result.stderr
    assert "2 files read" in result.stderr and "ok.json" not in result.stderr
