"""The scan table as a person sees it: in tmux at 80, 120, 160 and 200 columns, on the
bundled examples and on 300 denials of the bench generator (issue 23, item 9).

Each screen is captured from a real pty of that width (no COLUMNS), then checked: no
token (an ARN, an id, an action, a name) broken across lines, every header above its
data, the next-step hint written once per distinct reason (not per row), nothing
wider than the window.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deniedwatch.rules import DenialRule
from dwtest import EXAMPLE_CONFIG, EXAMPLES

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (80, 120, 160, 200)
END = "Event ids link to the CloudTrail console"
MARK = "=== deniedwatch-scan-done ==="

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def bench_denials(n: int = 300, seed: int = 23) -> list[dict]:
    """The first ``n`` denials the bench generator makes from ``seed`` (its real shapes)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    rng = random.Random(seed)
    when = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    out: list[dict] = []
    i = 0
    while len(out) < n:
        account = generate.ACCOUNTS[i % 3]
        region = generate.REGIONS[i // 3 % 3]
        record = generate.make_record(rng, account, region, when + timedelta(seconds=i))
        if DenialRule().is_denial(record.get("errorCode")):
            out.append(record)
        i += 1
    return out


def screens(runs: list[list[str]], width: int, tmp: Path) -> list[str]:
    """Each scan's whole output as tmux shows it in a window ``width`` columns wide: one
    tmux server of our own (a scrollback long enough for everything), the scans one after
    the other, split at a marker line."""
    script = Path(sys.executable).with_name("deniedwatch")
    sock = f"dw23-{width}-{time.monotonic_ns()}"
    conf = tmp / "tmux.conf"
    conf.write_text("set -g history-limit 200000\n")
    out = tmp / f"screen-{width}.txt"
    done = tmp / f"done-{width}"
    scans = [" ".join([str(script), "scan", *map(str, args), "-q"]) for args in runs]
    cmd = "; ".join(f"{scan}; echo {MARK}" for scan in scans) + f"; touch {done}; sleep 120"
    tmux = ["tmux", "-L", sock, "-f", str(conf)]
    env = ["env", "-u", "COLUMNS", "-u", "LINES", "-u", "TMUX"]
    subprocess.run(
        [*env, *tmux, "new-session", "-d", "-x", str(width), "-y", "50", cmd], check=True
    )
    try:
        deadline = time.monotonic() + 240  # a loaded machine starts slowly
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.2)
        time.sleep(0.3)
        with out.open("w") as fh:
            subprocess.run([*tmux, "capture-pane", "-p", "-S", "-"], stdout=fh, check=True)
        parts = out.read_text().split(MARK + "\n")
        assert len(parts) == len(runs) + 1, out.read_text()[-2000:]
        return parts[: len(runs)]
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


def scanned(args: list) -> list[dict]:
    """The findings the scan reports (its JSON lines): what the table must show."""
    script = Path(sys.executable).with_name("deniedwatch")
    jsonl = subprocess.run(
        [str(script), "scan", *map(str, args), "-f", "jsonl", "-q"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    findings = [json.loads(line) for line in jsonl.splitlines() if line.strip()]
    assert findings
    return findings


IDENTIFIERS = (
    "event_id",
    "resource",
    "action",
    "principal_name",
    "error_code",
    "account_id",
    "denial_policy_arn",
    "vpc_endpoint_id",
)


def tokens(findings: list[dict]) -> set[str]:
    """What must never be broken: ids, ARNs, actions, names, error codes."""
    return {
        v for f in findings for k in IDENTIFIERS if isinstance(v := f.get(k), str) and " " not in v
    }


def check(text: str, width: int, findings: list[dict], *, grouped: bool) -> None:
    lines = text.splitlines()
    assert grouped or END in text, text[-2000:]  # the whole output was captured
    assert max(len(line) for line in lines) <= width
    # no token broken: every identifier that is shown appears whole on one line
    flat = "\n".join(lines)
    for token in tokens(findings):
        if len(token) > width - 4:
            continue  # wider than the window: only the stacked view may fold it
        joined = flat.replace("\n", "")
        if token in joined:
            assert any(token in line for line in lines), (width, token)
    if not grouped:
        for f in findings:
            assert any(f["event_id"] in line for line in lines), (width, f["event_id"])
    # headers aligned: each title starts where its column's dashes start
    for i, line in enumerate(lines[:-1]):
        if re.fullmatch(r"-+(  -+)+", lines[i + 1]):
            starts = [m.start() for m in re.finditer(r"-+", lines[i + 1])]
            titles = [m.start() for m in re.finditer(r"(?<!\S)\S", line) if m.start() in starts]
            assert titles == starts, (width, line, lines[i + 1])
    # the hint once per distinct reason: only in the legend, each entry different
    body, _, legend = text.partition("Next steps:")
    assert "Open the " not in body and "check for an allow" not in body
    entries = [" ".join(e.split()) for e in re.split(r"^  \[\d+\] ", legend, flags=re.M)[1:]]
    entries[-1:] = [e.split(END)[0].strip() for e in entries[-1:]]
    assert len(entries) == len(set(entries)) and len(entries) <= 20, entries


@pytest.mark.parametrize("width", WIDTHS)
def test_examples_and_300_bench_findings_at_every_width(tmp_path: Path, width: int) -> None:
    records = bench_denials()
    path = tmp_path / "bench.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    examples = [EXAMPLES, "--config", EXAMPLE_CONFIG]
    found_examples, found_bench = scanned(examples), scanned([path])
    shown = screens([[*examples, "--no-group"], [path, "--no-group"], [path]], width, tmp_path)

    check(shown[0], width, found_examples, grouped=False)
    if width >= 160:  # a table: one row per finding, headers above their data
        assert shown[0].splitlines()[0].startswith("When (UTC)")
    assert "lambda:UpdateFunctionCode" in shown[0] and "deploy-pipeline/build-4711" in shown[0]

    check(shown[1], width, found_bench, grouped=False)
    check(shown[2], width, found_bench, grouped=True)
    assert f"{len(found_bench)} findings in" in shown[2]
