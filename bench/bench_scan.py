"""Scan benchmark: `deniedwatch scan` against the decompress floor, jq, DuckDB and a
naive loop, on two shapes of the same events (bench/generate.py): ``real`` (files as
CloudTrail delivers them, denials in bursts in 20% of them) and ``worst`` (every file
2,000 events with ~10 denials spread evenly, so every file must be parsed).

Every figure is the wall time of a whole process reading the same log files (the
page cache warm), so start-up counts everywhere. The fast runs are repeated and
the best kept (these machines are shared); jq, DuckDB and the naive loop run once.

    python bench/bench_scan.py [--data bench/data] [--events N] [--repeat 5] [--profile]
        [--shapes real,worst]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (bench/generate.py, beside this file)


def jq_filter() -> str:
    """The jq spelling of deniedwatch.rules' denial codes, rendered from the same lists."""
    from deniedwatch.rules import DENIAL_EXACT, DENIAL_PREFIXES, DENIAL_SUFFIXES

    terms = [f'(.errorCode | startswith("{p}"))' for p in DENIAL_PREFIXES]
    terms += [f'(.errorCode | endswith("{s}"))' for s in DENIAL_SUFFIXES]
    terms += [f'.errorCode == "{c}"' for c in DENIAL_EXACT]
    return f".Records[] | select(.errorCode != null and ({' or '.join(terms)}))"


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float  # wall
    cpu: float  # user + system of the process and its children


# ---- the peers, each run as its own process (python bench_scan.py --peer NAME) ---------


def peer_floor(files: list[str]) -> int:
    """Decompress only, with the fastest gzip the project has (ISA-L, one buffer of the
    announced size, as the scan does); returns the bytes produced."""
    from isal import igzip_lib

    total = 0
    for name in files:
        with open(name, "rb") as fh:
            data = fh.read()
        size = int.from_bytes(data[-4:], "little") + 1
        total += len(igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP).decompress(data, size))
    return total


def peer_naive(files: list[str]) -> int:
    """What one writes first: stdlib gzip + json, a loop over every record."""
    import gzip

    from deniedwatch.rules import DEFAULT_DENIAL_RULE

    denials = 0
    for name in files:
        with gzip.open(name, "rb") as fh:
            body = json.load(fh)
        for record in body["Records"]:
            if DEFAULT_DENIAL_RULE.is_denial(record.get("errorCode")):
                denials += 1
    return denials


def peer_duckdb(files: list[str], threads: int) -> int:
    """DuckDB's read_json over the same .json.gz files (its schema detection, as a user
    would write it), the denial rule as the SQL rules_sql.py renders for Athena."""
    import duckdb

    from deniedwatch.rules import DEFAULT_DENIAL_RULE
    from deniedwatch.rules_sql import denial_sql

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    query = (
        "SELECT count(*) FROM (SELECT unnest(Records) AS r FROM read_json(?, "
        f"maximum_object_size = {2**30})) WHERE {denial_sql(DEFAULT_DENIAL_RULE, 'r.errorCode')}"
    )
    return int(con.execute(query, [files]).fetchone()[0])  # type: ignore[index]


PEERS = {
    "floor": peer_floor,
    "naive": peer_naive,
    "duckdb1": lambda files: peer_duckdb(files, 1),
    "duckdb2": lambda files: peer_duckdb(files, 2),
}


# ---- measuring ---------------------------------------------------------------------


def _timed(
    cmd: list[str] | str, *, shell: bool = False, cwd: str | None = None, capture: bool = False
) -> tuple[Timing, str]:
    """(wall and CPU seconds, stdout if captured) of one whole process; output else to
    /dev/null. CPU time tells a busy machine (wall >> CPU / cores) from a slow run."""
    env = {k: v for k, v in os.environ.items() if k != "DENIEDWATCH_CONFIG"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        cmd,
        shell=shell,
        cwd=cwd,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing("", wall, cpu), done.stdout or ""


def deniedwatch_cmd() -> list[str]:
    script = Path(sys.executable).parent / "deniedwatch"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from deniedwatch.cli import main; main()"]


def _file_list(files: list[Path], where: Path) -> Path:
    listing = where / "files.txt"
    listing.write_text("\n".join(map(str, files)) + "\n")
    return listing


def measure(root: Path, repeat: int, shape: str) -> tuple[list[Timing], dict[str, int]]:
    files = generate.log_files(root)
    if not files:
        raise SystemExit(f"{root}: no log files (run bench/generate.py)")
    events = _count_events(root, files)
    scan = deniedwatch_cmd()
    timings: dict[str, Timing] = {}
    counts: dict[str, int] = {"events": events, "files": len(files)}
    with tempfile.TemporaryDirectory(prefix="dw-bench-") as tmp:  # cwd: no stray settings
        listing = _file_list(files, Path(tmp))
        peer = [sys.executable, str(Path(__file__).resolve()), "--peer"]
        scan_cmd = [*scan, "scan", str(root), "--format", "jsonl", "--quiet"]
        runs = {
            "floor": [*peer, "floor", str(listing)],
            "scan_jobs1": [*scan_cmd, "-j", "1"],
            "scan_jobs2": [*scan_cmd, "-j", "2"],
        }
        if shape == "real":  # what the skip buys: the same scan parsing every file
            runs["scan_jobs1_parse_all"] = [*scan_cmd, "-j", "1", "--parse-all"]
        _timed(runs["floor"], cwd=tmp)  # warm the page cache
        for _ in range(repeat):
            for name, cmd in runs.items():
                timing, _ = _timed(cmd, cwd=tmp)
                if name not in timings or timing.seconds < timings[name].seconds:
                    timings[name] = timing
        counts["scan_denials"] = _scan_denials(scan, root, Path(tmp))
        timings["naive"], out = _timed([*peer, "naive", str(listing)], cwd=tmp, capture=True)
        counts["naive_denials"] = int(out)
        for name in ("duckdb1", "duckdb2"):
            timings[name], out = _timed([*peer, name, str(listing)], cwd=tmp, capture=True)
            counts[f"{name}_denials"] = int(out)
        jq = shutil.which("jq")
        if jq:  # the count at the end costs nothing next to jq and checks the selection
            cmd = f"xargs -a {listing} zcat | {jq} -c '{jq_filter()}' | wc -l"
            timings["jq"], out = _timed(cmd, shell=True, cwd=tmp, capture=True)
            counts["jq_denials"] = int(out)
    return [replace(t, name=name) for name, t in timings.items()], counts


def _scan_denials(scan: list[str], root: Path, tmp: Path) -> int:
    """Every denial the scan finds, suppressed ones included: the same set jq selects."""
    out = tmp / "all.jsonl"
    subprocess.run(
        [*scan, "scan", str(root), "-q", "-f", "jsonl", "--include-suppressed", "-o", str(out)],
        cwd=tmp,
        check=True,
    )
    return sum(1 for _ in out.open())


def _count_events(root: Path, files: list[Path]) -> int:
    manifest = root / ".manifest"
    if manifest.exists():
        return int(json.loads(manifest.read_text())["events"])
    from deniedwatch.sources.trailfiles import decode_records

    return sum(len(decode_records(f.read_bytes())) for f in files)


# (figure, goal) per shape: issue 25's goals, printed with each ratio (not tested)
GOALS = {
    "real": {"jobs1_vs_floor": 0.6, "jobs1_vs_jq": 20.0, "jobs2_vs_jobs1": 1.7},
    "worst": {"jobs1_vs_floor": 0.25, "jobs1_vs_jq": 20.0, "jobs2_vs_jobs1": 1.7},
}
ROWS = (
    ("decompress floor (ISA-L, 1 process)", "floor"),
    ("deniedwatch scan --jobs 1", "scan_jobs1"),
    ("deniedwatch scan --jobs 1 --parse-all", "scan_jobs1_parse_all"),
    ("deniedwatch scan --jobs 2", "scan_jobs2"),
    ("naive: stdlib gzip + json loop", "naive"),
    ("DuckDB read_json, 1 thread", "duckdb1"),
    ("DuckDB read_json, 2 threads", "duckdb2"),
    ("jq (zcat | jq -c select)", "jq"),
)


def report(
    timings: list[Timing], counts: dict[str, int], shape: str
) -> tuple[list[str], dict[str, str]]:
    """The table lines and the `name: value` figures (``scan.<shape>.…``)."""
    by = {t.name: t.seconds for t in timings}
    cpu = {t.name: t.cpu for t in timings}
    events = counts["events"]
    floor = by["floor"]
    lines = [
        f"{shape} shape: {events:,} events in {counts['files']:,} files",
        f"{'':40} {'seconds':>8} {'events/s':>11} {'x floor':>8} {'cpu s':>7}",
    ]
    for label, key in ROWS:
        if key not in by:
            if key == "jq":
                lines.append(f"{label:40} {'skipped (jq not installed)':>30}")
            continue
        t = by[key]
        lines.append(f"{label:40} {t:8.2f} {events / t:11,.0f} {floor / t:8.2f} {cpu[key]:7.2f}")
    p = f"scan.{shape}"
    figures: dict[str, str] = {f"{p}.events": str(events), f"{p}.files": str(counts["files"])}
    for _, key in ROWS:
        if key in by:
            figures[f"{p}.{key}.seconds"] = f"{by[key]:.2f}"
            figures[f"{p}.{key}.events_per_s"] = f"{events / by[key]:.0f}"
            figures[f"{p}.{key}.cpu_seconds"] = f"{cpu[key]:.2f}"
    goals = GOALS[shape]
    j1, j2 = by["scan_jobs1"], by["scan_jobs2"]
    figures[f"{p}.jobs1_vs_floor"] = _goal(floor / j1, goals["jobs1_vs_floor"])
    figures[f"{p}.jobs1_vs_floor_cpu"] = f"{cpu['floor'] / cpu['scan_jobs1']:.2f}"
    figures[f"{p}.jobs2_vs_jobs1"] = _goal(j1 / j2, goals["jobs2_vs_jobs1"])
    if "scan_jobs1_parse_all" in by:
        figures[f"{p}.skip_vs_parse_all"] = f"{by['scan_jobs1_parse_all'] / j1:.2f}"
    figures[f"{p}.jobs1_vs_naive"] = f"{by['naive'] / j1:.1f}"
    figures[f"{p}.jobs1_vs_duckdb1"] = f"{by['duckdb1'] / j1:.1f}"
    figures[f"{p}.jobs2_vs_duckdb2"] = f"{by['duckdb2'] / j2:.1f}"
    if "jq" in by:
        figures[f"{p}.jobs1_vs_jq"] = _goal(by["jq"] / j1, goals["jobs1_vs_jq"], digits=1)
    else:
        figures[f"{p}.jobs1_vs_jq"] = "skipped: jq not installed"
    for key in ("scan_denials", "naive_denials", "duckdb1_denials", "duckdb2_denials"):
        figures[f"{p}.{key}"] = str(counts[key])
    if "jq_denials" in counts:
        figures[f"{p}.jq_denials"] = str(counts["jq_denials"])
    return lines, figures


RENDER_FINDINGS = 10_000


def render_figures(root: Path, scan_seconds: float, denials: int) -> dict[str, str]:
    """Rendering 10,000 findings (the bench's own denials, repeated with new event ids)
    in each terminal layout and as the HTML report, against the time the scan takes to
    find that many (scan --jobs 1 seconds per denial, times 10,000)."""
    import io
    from dataclasses import replace

    from deniedwatch import htmlreport, termview
    from deniedwatch.rules import Ruleset
    from deniedwatch.scan import ScanRequest, ScanSummary, discover, run

    request = ScanRequest((str(root),), include_suppressed=True, jobs=2)
    summary = ScanSummary()
    found = []
    for result in run(request, Ruleset(), discover(request, lambda: None, summary), lambda: None):
        found += result.findings + result.suppressed_findings
    findings = [
        replace(found[i % len(found)], event_id=f"{i:08d}-{found[i % len(found)].event_id}")
        for i in range(RENDER_FINDINGS)
    ]
    figures = {}
    runs = {
        "table_grouped_80": lambda: termview.render(findings, {}, 80),
        "table_rows_80": lambda: termview.render(findings, {}, 80, group=False),
        "table_rows_200": lambda: termview.render(findings, {}, 200, group=False),
        "html": lambda: htmlreport.render(findings, {}, ["bench"]),
    }
    for name, render in runs.items():
        started = time.perf_counter()
        out = io.StringIO()
        out.write(render())
        figures[f"render10k.{name}.seconds"] = f"{time.perf_counter() - started:.2f}"
        if name == "html":
            size = len(out.getvalue().encode())
            figures["render10k.html.bytes"] = f"{size}  ({size / 1e6:.1f} MB)"
    per_denial = scan_seconds / max(1, denials)
    figures["render10k.scan_seconds_for_10k_findings"] = f"{per_denial * RENDER_FINDINGS:.2f}"
    return figures


def _goal(value: float, goal: float, digits: int = 2) -> str:
    """'0.41  (goal >= 0.5: not met, 82% of it)'."""
    verdict = "met" if value >= goal else f"not met, {value / goal:.0%} of it"
    return f"{value:.{digits}f}  (goal >= {goal:g}: {verdict})"


def profile(root: Path) -> list[str]:
    """Where --jobs 1 spends its time (cProfile, in-process, top functions by own time)."""
    import cProfile
    import io
    import pstats

    from deniedwatch.rules import Ruleset
    from deniedwatch.scan import ScanRequest, ScanSummary, discover, run

    request = ScanRequest((str(root),), jobs=1)
    summary = ScanSummary()
    prof = cProfile.Profile(time.process_time)  # CPU: the machine is shared
    prof.enable()
    for result in run(request, Ruleset(), discover(request, lambda: None, summary), lambda: None):
        summary.add(result)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
    return [line for line in out.getvalue().splitlines() if line.strip()][-10:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=HERE / "data", help="holds <shape>/ trees")
    ap.add_argument("--events", type=int, default=1_000_000, help="generate this many if missing")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shapes", default="real,worst", help="comma-separated: real, worst")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of --jobs 1")
    ap.add_argument("--peer", nargs=2, metavar=("NAME", "FILE_LIST"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer:
        name, listing = args.peer
        print(PEERS[name](Path(listing).read_text().split()))
        return 0
    shapes = [s for s in args.shapes.split(",") if s]
    if unknown := set(shapes) - set(generate.SHAPES):
        ap.error(f"unknown shapes: {', '.join(sorted(unknown))}")
    for shape in shapes:
        root = args.data / shape
        params = generate.Params(args.events, args.seed, shape=shape)
        generate.generate(params, root, os.cpu_count() or 1)
        timings, counts = measure(root, args.repeat, shape)
        lines, figures = report(timings, counts, shape)
        print("\n".join(lines))
        for name, value in figures.items():
            print(f"{name}: {value}")
        if shape == "worst":  # the render figures, on the shape they were first measured on
            denials = counts["scan_denials"]
            seconds = float(figures["scan.worst.scan_jobs1.seconds"])
            for name, value in render_figures(root, seconds, denials).items():
                print(f"{name}: {value}")
        if args.profile:
            print(f"\nprofile of --jobs 1, {shape} shape (in-process, cProfile):")
            print("\n".join(profile(root)))
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
