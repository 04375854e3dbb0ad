"""The storm's handler over its decode floor, counted in instructions (callgrind).

CPU times on a shared machine swing with the load (and count the kernel's work for the
Slack posts); an instruction count does not: the same code and input give the same
count. This runs bench_lambda's storm (10,000 denials, 20 payloads) through the
function as ``deniedwatch deploy`` packs it, with python3.12 (Lambda's runtime) when
this machine has it, in three fresh interpreters under ``valgrind --tool=callgrind``:
set-up only (imports, the runtime, one warm-up payload), set-up + the floor (base64,
gunzip and ``json.loads`` of every message, as bench_lambda's), set-up + the handler.
Each figure is its run minus the set-up run. Slack is a local stand-in in this process,
not counted. Takes ~10-20 minutes (callgrind runs Python ~50x slower).

    python bench/lambda_instructions.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_lambda  # noqa: E402  (bench/bench_lambda.py, beside this file)

_RUN = """
import base64, contextlib, gzip, io, json, sys
events = json.loads(open(sys.argv[2]).read())
from deniedwatch import lambda_handler as lh
with contextlib.redirect_stdout(io.StringIO()):
    lh._runtime = lh.build_runtime(sleep=lambda seconds: None)
    lh.handler(events[0], None)  # first-call set-up: not the storm's
    lh.reset()
    lh._runtime = lh.build_runtime(sleep=lambda seconds: None)
    if sys.argv[1] == "floor":
        for event in events:
            body = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
            for log_event in body["logEvents"]:
                json.loads(log_event["message"])
    elif sys.argv[1] == "handler":
        for event in events:
            lh.handler(event, None)
"""


def instructions(python: str, folder: Path, mode: str, storm: Path, slack_url: str) -> int:
    """Instructions callgrind counts for one fresh interpreter running ``mode``."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(folder),
        "PYTHONHASHSEED": "0",
        "AWS_REGION": "eu-west-1",
        "SLACK_WEBHOOK_URL": slack_url,
    }
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={storm.parent / mode}.cg"]
    out = subprocess.run(
        [*valgrind, python, "-S", "-c", _RUN, mode, str(storm)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing counted")
        return 1
    python = bench_lambda.find_python312() or sys.executable
    with tempfile.TemporaryDirectory(prefix="dw-count-") as tmp_name:
        tmp = Path(tmp_name)
        folder, _ = bench_lambda.build_function(tmp)
        storm = tmp / "storm.json"
        storm.write_text(json.dumps(bench_lambda.storm()))
        slack = bench_lambda.SlackStandIn()
        try:
            counts = {m: instructions(python, folder, m, storm, slack.url) for m in _MODES}
        finally:
            slack.close()
    floor = counts["floor"] - counts["setup"]
    handler = counts["handler"] - counts["setup"]
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    ).stdout.strip()
    print(f"lambda.count.python: {version}")
    print(f"lambda.count.floor_instructions: {floor / 1e9:.2f} G")
    print(f"lambda.count.handler_instructions: {handler / 1e9:.2f} G")
    print(f"lambda.count.handler_vs_floor: {handler / floor:.2f}  (goal <= 2.0)")
    return 0


_MODES = ("setup", "floor", "handler")

if __name__ == "__main__":
    sys.exit(main())
