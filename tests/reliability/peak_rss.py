"""Run one scenario in a fresh interpreter and write its peak RSS (resource.getrusage).

``python peak_rss.py OUT handler EVENT.json``: the Lambda handler on a payload.
``python peak_rss.py OUT scan ARGS...``: ``deniedwatch scan ARGS``.
OUT gets one JSON object: what happened, and ru_maxrss of this process and of its
waited-for children (the scan's pool workers), in MiB.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path


def main(out: str, kind: str, args: list[str]) -> None:
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
    peak = {
        who: resource.getrusage(flag).ru_maxrss / 1024  # KiB on Linux
        for who, flag in (("self", resource.RUSAGE_SELF), ("children", resource.RUSAGE_CHILDREN))
    }
    Path(out).write_text(json.dumps({"outcome": outcome, "peak_mib": peak, "pid": os.getpid()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
