"""`make bench` keeps working (its timings are not tested): on a small generated trail of
each shape, every peer of bench/bench_scan.py runs and finds the denials the scan finds,
and the report prints each ratio against its goal. A module the bench imports that moves
(as ``denial_sql`` did) fails here, not in the lead's quiet run."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from deniedwatch.rules import Ruleset
from deniedwatch.scan import ScanRequest, ScanSummary, discover, run
from dwtest import REPO

sys.path.insert(0, str(REPO / "bench"))
import bench_scan  # bench/, put on the path above
import generate


@pytest.mark.parametrize("shape", generate.SHAPES)
def test_every_peer_runs_and_finds_what_the_scan_finds(tmp_path, shape: str) -> None:
    root = tmp_path / shape
    generate.generate(generate.Params(6000, 7, shape=shape), root, 1)
    files = [str(f) for f in generate.log_files(root)]
    request = ScanRequest((str(root),), include_suppressed=True, jobs=1)
    found = 0
    for result in run(request, Ruleset(), discover(request, lambda: None, ScanSummary()), None):
        found += len(result.findings) + len(result.suppressed_findings)
    assert found > 0
    assert bench_scan.peer_floor(files) > 0
    assert bench_scan.peer_naive(files) == found
    assert bench_scan.peer_duckdb(files, 1) == found
    if jq := shutil.which("jq"):
        command = f"zcat {' '.join(files)} | {jq} -c '{bench_scan.jq_filter()}' | wc -l"
        out = subprocess.run(command, shell=True, capture_output=True, text=True, check=True)
        assert int(out.stdout) == found


@pytest.mark.parametrize("shape", generate.SHAPES)
def test_the_report_prints_every_ratio_with_its_goal(shape: str) -> None:
    names = ["floor", "scan_jobs1", "scan_jobs2", "naive", "duckdb1", "duckdb2", "jq"]
    timings = [bench_scan.Timing(n, 1.0 + i, 0.5 + i) for i, n in enumerate(names)]
    counts = {"events": 1000, "files": 3}
    counts |= {f"{k}_denials": 7 for k in ("scan", "naive", "duckdb1", "duckdb2", "jq")}
    _, figures = bench_scan.report(timings, counts, shape)
    for ratio in bench_scan.GOALS[shape]:
        assert "(goal >= " in figures[f"scan.{shape}.{ratio}"], ratio
