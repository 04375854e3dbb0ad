"""`make bench`: both benchmarks, one report. Prints the tables, then one `name: value`
line per figure, and writes the same to bench/results/latest.txt.

    python bench/run.py [--events 1000000] [--repeat 5] [--skip-lambda] [--no-profile]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    return [
        f"machine.nproc: {os.cpu_count()}",
        f"machine.cpu: {cpu}",
        f"machine.python: {platform.python_version()}",
        f"machine.load_average_at_start: {_load()}",
        f"machine.date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"machine.commit: {commit or 'unknown'}",
    ]


def compile_bytecode() -> str:
    """Byte-compile what the timed processes import, as ``pip install`` does: uv installs
    without it, and with PYTHONDONTWRITEBYTECODE set (as on the shared machine) every run
    recompiled ~200 modules, 0.4-0.6 s of CPU that no installed deniedwatch pays
    (docs/performance.md). Up-to-date files are left as they are."""
    paths = {sysconfig.get_paths()["purelib"], str(HERE.parent / "src"), str(HERE)}
    cmd = [sys.executable, "-m", "compileall", "-q", "-j", "0", *sorted(paths)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return f"compiled ({time.perf_counter() - started:.1f} s): {', '.join(sorted(paths))}"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-lambda", action="store_true")
    ap.add_argument("--no-profile", action="store_true", help="leave out the cProfile listings")
    args = ap.parse_args(argv)
    lines = machine()
    lines.append(f"machine.bytecode: {compile_bytecode()}")
    print("\n".join(lines), flush=True)
    scan = [sys.executable, str(HERE / "bench_scan.py"), "--events", str(args.events)]
    profile = [] if args.no_profile else ["--profile"]
    scan += ["--repeat", str(args.repeat), *profile]
    steps = [("scan", scan)]
    if not args.skip_lambda:
        steps.append(("lambda", [sys.executable, str(HERE / "bench_lambda.py"), *profile]))
    for name, cmd in steps:
        print(f"\n== {name} ==", flush=True)
        done = subprocess.run(cmd, capture_output=True, text=True)
        sys.stderr.write(done.stderr)
        print(done.stdout, end="", flush=True)
        lines += ["", f"== {name} ==", *done.stdout.splitlines()]
        if done.returncode != 0:
            print(f"{name} benchmark failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
    lines.append(f"machine.load_average_at_end: {_load()}")
    print(lines[-1])
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.txt").write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {results / 'latest.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
