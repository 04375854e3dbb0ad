"""The README's five-minute try, run as written: every line of its shell block runs from
the repository (``make demo`` as the Makefile's command) and gives what the README says
it gives (issue 23). Only the Slack webhook is a loopback stand-in, typed at the hidden
prompt as a person would."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from live_support import SlackStandIn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def try_block() -> list[str]:
    """The commands of the README's "A five-minute local try" shell block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A five-minute local try", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]


def run(command: str, tmp: Path, stdin: str = "", env: dict[str, str] | None = None):
    if command == "make demo":  # what the Makefile runs, with this test's interpreter
        makefile = (ROOT / "Makefile").read_text()
        command = re.search(r"^demo:.*\n\t(.+)$", makefile, re.M)[1].replace("$(BIN)", ".venv/bin")
    command = command.replace(".venv/bin/", f"{BIN}/")
    full = {**os.environ, **(env or {})}
    for name in ("COLUMNS", "SLACK_WEBHOOK_URL", "DENIEDWATCH_SNS_TOPIC_ARN"):
        full.pop(name, None)  # a pipe: the table's own width (160), the prompt for the URL
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=tmp,
        input=stdin,
        capture_output=True,
        text=True,
        env=full,
        check=False,
        timeout=300,
    )


def test_every_line_of_the_five_minute_try_does_what_the_readme_says(
    tmp_path: Path, httpserver
) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("examples", "Makefile"):
        (work / name).symlink_to(ROOT / name)
    commands = try_block()
    assert [c.split()[0] for c in commands][:1] == ["make"] and len(commands) == 6
    slack = SlackStandIn(httpserver)
    for command in commands:
        args = shlex.split(command)
        if "test-alert" in args:  # asks for the webhook URL, hidden
            done = run(command, work, stdin=slack.url + "\n")
            assert done.returncode == 0, done.stderr
            assert len(slack.bodies) == 1 and slack.url not in done.stdout + done.stderr
            continue
        done = run(command, work)
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr, command
        if command == "make demo":  # the findings as a table
            assert done.stdout.startswith("When (UTC)"), done.stdout[:300]
        elif "-o report.html" in command:  # charts + table
            page = (work / "report.html").read_text()
            assert page.lstrip().lower().startswith("<!doctype html") and "<table" in page
        elif "| head -1" in command:  # one Finding
            (line,) = done.stdout.splitlines()
            assert json.loads(line)["event_id"]
            assert "scan: " in done.stderr  # the summary is still shown
        elif "--suggest-suppressions" in command:  # noise rules (TOML)
            # the bundled examples hold no routine noise worth a rule: the TOML says so
            assert done.stdout.startswith("# deniedwatch scan --suggest-suppressions")
            assert re.search(r"^# \d+ rules? for \d+ of \d+ denials", done.stdout, re.M)
        elif args[1] == "routes":  # where alerts go
            assert done.stdout.strip()
