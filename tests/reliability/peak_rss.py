"""Run one scenario in a fresh interpreter and write its peak RSS (resource.getrusage).

``python peak_rss.py OUT handler EVENT.json``: the Lambda handler on a payload.
``python peak_rss.py OUT scan ARGS...``: ``deniedwatch scan ARGS``.

Linux counts in a process's ru_maxrss the resident size of the process it was forked
from (the old address space's high-water mark is kept across exec). So this script,
small and with nothing imported, starts the scenario as its child and reports
``getrusage(RUSAGE_CHILDREN)``: the largest of that child and its pool workers, plus
at most this launcher's own ~10 MB. OUT gets one JSON object: what happened and the
peak in MiB (and the child's own VmHWM from /proc, for comparison).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path


def measured(out: str, kind: str, args: list[str]) -> None:
    """The scenario itself (in the child)."""
    if kind == "handler":
        from deniedwatch import lambda_handler
        from deniedwatch.sources.cwlogs import PayloadError

        event = json.loads(Path(args[0]).read_text())
        try:
            outcome = f"ok: {lambda_handler.handler(event)}"
        except PayloadError as exc:
            outcome = f"PayloadError: {exc}"
        except MemoryError:
            outcome = "MemoryError"
    else:
        from deniedwatch.cli import main as cli

        sys.argv = ["deniedwatch", "scan", *args]
        try:
            cli()
            outcome = "exit 0"
        except SystemExit as exc:
            outcome = f"exit {exc.code}"
        except MemoryError:
            outcome = "MemoryError"
    status = Path("/proc/self/status").read_text()
    hwm = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:"))
    Path(out).write_text(json.dumps({"outcome": outcome, "vmhwm_mib": hwm / 1024}))


def launch(out: str, kind: str, args: list[str]) -> None:
    proc = subprocess.run([sys.executable, __file__, "--measured", out, kind, *args])
    result = json.loads(Path(out).read_text()) if proc.returncode == 0 else {"outcome": "crash"}
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB
    result["returncode"] = proc.returncode
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "--measured":
        measured(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        launch(sys.argv[1], sys.argv[2], sys.argv[3:])
