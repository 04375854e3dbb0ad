"""Scan benchmark: `deniedwatch scan` against the decompress floor, jq and a naive loop.

Every figure is the wall time of a whole process reading the same log files (the
page cache warm), so start-up counts everywhere. The fast runs are repeated and
the best kept (these machines are shared); jq and the naive loop run once.

    python bench/bench_scan.py [--data bench/data] [--events N] [--repeat 5] [--profile]
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


PEERS = {"floor": peer_floor, "naive": peer_naive}


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


def measure(root: Path, repeat: int) -> tuple[list[Timing], dict[str, int]]:
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
        runs = {
            "floor": [*peer, "floor", str(listing)],
            "scan_jobs1": [*scan, "scan", str(root), "--format", "jsonl", "--quiet", "-j", "1"],
            "scan_jobs2": [*scan, "scan", str(root), "--format", "jsonl", "--quiet", "-j", "2"],
        }
        _timed(runs["floor"], cwd=tmp)  # warm the page cache
        for _ in range(repeat):
            for name, cmd in runs.items():
                timing, _ = _timed(cmd, cwd=tmp)
                if name not in timings or timing.seconds < timings[name].seconds:
                    timings[name] = timing
        counts["scan_denials"] = _scan_denials(scan, root, Path(tmp))
        timings["naive"], out = _timed([*peer, "naive", str(listing)], cwd=tmp, capture=True)
        counts["naive_denials"] = int(out)
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


def report(timings: list[Timing], counts: dict[str, int]) -> tuple[list[str], dict[str, str]]:
    """The table lines and the `name: value` figures."""
    by = {t.name: t.seconds for t in timings}
    cpu = {t.name: t.cpu for t in timings}
    events = counts["events"]
    floor = by["floor"]
    rows = [("decompress floor (ISA-L, 1 process)", "floor")]
    rows += [
        ("deniedwatch scan --jobs 1", "scan_jobs1"),
        ("deniedwatch scan --jobs 2", "scan_jobs2"),
    ]
    rows += [("naive: stdlib gzip + json loop", "naive"), ("jq (zcat | jq -c select)", "jq")]
    lines = [f"{'':38} {'seconds':>8} {'events/s':>11} {'x floor':>8} {'cpu s':>7}"]
    for label, key in rows:
        if key not in by:
            lines.append(f"{label:38} {'skipped (jq not installed)':>30}")
            continue
        s = by[key]
        lines.append(f"{label:38} {s:8.2f} {events / s:11,.0f} {floor / s:8.2f} {cpu[key]:7.2f}")
    figures: dict[str, str] = {
        "scan.events": str(events),
        "scan.files": str(counts["files"]),
    }
    for key in ("floor", "scan_jobs1", "scan_jobs2", "naive", "jq"):
        if key in by:
            figures[f"scan.{key}.seconds"] = f"{by[key]:.2f}"
            figures[f"scan.{key}.events_per_s"] = f"{events / by[key]:.0f}"
            figures[f"scan.{key}.cpu_seconds"] = f"{cpu[key]:.2f}"
    j1, j2 = by["scan_jobs1"], by["scan_jobs2"]
    figures["scan.jobs1_vs_floor"] = _goal(floor / j1, 0.50)
    figures["scan.jobs2_vs_jobs1"] = f"{j1 / j2:.2f}  (goal >= 1.70)"
    figures["scan.jobs1_vs_naive"] = f"{by['naive'] / j1:.1f}"
    if "jq" in by:
        figures["scan.jobs1_vs_jq"] = _goal(by["jq"] / j1, 20, digits=1)
        figures["scan.jq_denials"] = str(counts["jq_denials"])
    else:
        figures["scan.jobs1_vs_jq"] = "skipped: jq not installed"
    figures["scan.denials"] = str(counts["scan_denials"])
    figures["scan.naive_denials"] = str(counts["naive_denials"])
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
    """'0.41  (goal >= 0.5: not reached, 82% of it)'."""
    verdict = "reached" if value >= goal else f"not reached, {value / goal:.0%} of it"
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
    prof = cProfile.Profile()
    prof.enable()
    for result in run(request, Ruleset(), discover(request, lambda: None, summary), lambda: None):
        summary.add(result)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
    return [line for line in out.getvalue().splitlines() if line.strip()][-10:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--events", type=int, default=1_000_000, help="generate this many if missing")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of --jobs 1")
    ap.add_argument("--peer", nargs=2, metavar=("NAME", "FILE_LIST"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer:
        name, listing = args.peer
        print(PEERS[name](Path(listing).read_text().split()))
        return 0
    generate.generate(generate.Params(args.events, args.seed), args.data, os.cpu_count() or 1)
    timings, counts = measure(args.data, args.repeat)
    lines, figures = report(timings, counts)
    print("\n".join(lines))
    for name, value in figures.items():
        print(f"{name}: {value}")
    denials = counts["scan_denials"]
    for name, value in render_figures(
        args.data, float(figures["scan.scan_jobs1.seconds"]), denials
    ).items():
        print(f"{name}: {value}")
    if args.profile:
        print("\nprofile of --jobs 1 (in-process, cProfile):")
        print("\n".join(profile(args.data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
