"""The scan's fast paths behave like the plain ones: the one-buffer ISA-L inflate, and
local files handed to pool workers a few at a time (order and errors kept)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from deniedwatch.rules import Ruleset
from deniedwatch.scan import POOL_MIN_BYTES, ScanRequest, _batch_size, _pooled, run
from deniedwatch.sources import trailfiles
from deniedwatch.sources.trailfiles import BadFile, TrailFile


def _body(n: int, code: str | None = "AccessDenied") -> bytes:
    records = [{"eventID": f"e{i}", "errorCode": code if i % 3 == 0 else None} for i in range(n)]
    return json.dumps({"Records": records}).encode()


def test_inflate_matches_gzip_with_trailing_zero_padding() -> None:
    body = _body(50)
    assert trailfiles.inflate(gzip.compress(body) + b"\0" * 8) == body


@pytest.mark.parametrize("announced", [5, 2**32 - 1, 0])
def test_a_lying_size_in_the_gzip_trailer_is_a_bad_file(announced: int) -> None:
    packed = gzip.compress(_body(20))
    lying = packed[:-4] + announced.to_bytes(4, "little")
    with pytest.raises(BadFile, match="corrupt gzip"):
        trailfiles.decode_records(lying)


def test_the_default_jobs_start_a_pool_only_for_work_worth_sharing() -> None:
    small = [TrailFile(f"f{i}", 100_000) for i in range(5)]
    big = [TrailFile(f"f{i}", POOL_MIN_BYTES // 4) for i in range(5)]
    unknown = [TrailFile("a", 10), TrailFile("b")]  # a size not listed: assume big
    auto, two = ScanRequest(("x",)), ScanRequest(("x",), jobs=2)
    assert not _pooled(auto, 2, small)
    assert _pooled(auto, 2, big) and _pooled(auto, 2, unknown)
    assert _pooled(two, 2, small)  # --jobs 2 asked for: two processes
    assert not _pooled(two, 2, small[:1]) and not _pooled(auto, 1, big)


def test_batch_size_never_leaves_a_small_scan_on_one_worker() -> None:
    assert _batch_size(2, 10) == 1
    assert _batch_size(2, 500) == 4
    assert _batch_size(8, 100) == 1


def test_pool_batches_keep_file_order_and_per_file_errors(tmp_path: Path) -> None:
    files: list[TrailFile] = []
    for i in range(70):
        path = tmp_path / f"f{i:03d}.json.gz"
        if i == 33:
            path.write_bytes(b"\x1f\x8bnot gzip")  # a bad file inside a batch
        elif i != 51:  # 51 is listed but missing: a read error inside a batch
            path.write_bytes(gzip.compress(_body(i + 1)))
        files.append(TrailFile(str(path)))

    def scan(jobs: int) -> list[tuple[str, int, int, str | None]]:
        request = ScanRequest((str(tmp_path),), jobs=jobs)
        return [
            (r.location, r.events, len(r.findings), r.error)
            for r in run(request, Ruleset(), files, lambda: None)
        ]

    serial, pooled = scan(1), scan(2)
    assert _batch_size(2, len(files)) == 4  # the pooled run did batch
    assert pooled == serial
    assert [loc for loc, *_ in pooled] == [tf.location for tf in files]
    assert pooled[33][3] is not None and "corrupt gzip" in pooled[33][3]
    assert pooled[51][3] is not None and pooled[51][3].startswith("cannot read")
    assert pooled[69][1:3] == (70, 24)
