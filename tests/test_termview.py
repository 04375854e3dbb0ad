"""The terminal layouts: whole identifiers at any width, nothing wider than the terminal,
the grouped view above its threshold, attacker text that cannot drive the terminal."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import deniedwatch
from deniedwatch import termview
from deniedwatch.finding import Finding
from dwtest import EXAMPLE_CONFIG, EXAMPLES

SAMPLE = json.loads((Path(deniedwatch.__file__).parent / "data" / "sample_record.json").read_text())


def finding(i: int = 0, **record: object) -> Finding:
    base = {
        **SAMPLE,
        "eventID": f"{i:08d}-1111-2222-3333-444444444444",
        "eventTime": f"2026-11-20T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
    }
    return Finding.from_record({**base, **record})


LABELS = {"123456789012": "production-payments-eu"}


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 139, 140, 160, 200, 300])
@pytest.mark.parametrize("group", [False, True])
def test_no_line_wider_than_the_terminal_and_ids_whole(width: int, group: bool) -> None:
    long_name = "a-role-with-a-very-long-name-" * 4
    findings = [
        finding(1),
        finding(2, errorCode="Client.UnauthorizedOperation", recipientAccountId="123456789012"),
        finding(3, userIdentity={"type": "IAMUser", "userName": long_name, "arn": "arn:x"}),
    ]
    text = termview.render(findings, LABELS, width, group)
    assert widest(text) <= max(width, 36 + 4)  # an event id only folds below its own width
    lines = text.splitlines()
    if width >= 40:
        for f in findings:
            assert any(f.account_id in line for line in lines)  # whole, on one line
            assert any(f.error_code in line for line in lines)
            if not group:
                assert any(f.event_id in line for line in lines)


def test_wide_terminals_get_a_table_narrow_ones_blocks() -> None:
    findings = [finding(1), finding(2)]
    wide = termview.render(findings, {}, 200, group=False)
    assert wide.startswith("When (UTC)")
    assert len([ln for ln in wide.splitlines() if findings[0].event_id in ln]) == 1
    narrow = termview.render(findings, {}, 80, group=False)
    assert "  event id  " + findings[0].event_id in narrow
    assert "  who       " in narrow


def test_the_grouped_view_is_the_default_above_the_threshold() -> None:
    few = [finding(i) for i in range(termview.GROUP_ABOVE)]
    many = [finding(i) for i in range(termview.GROUP_ABOVE + 1)]
    assert "groups" not in termview.render(few, {}, 200).splitlines()[0]
    head = termview.render(many, {}, 200).splitlines()[0]
    assert head == f"{len(many)} findings in 1 groups (--no-group: one row per event)"
    assert "groups" not in termview.render(many, {}, 200, group=False).splitlines()[0]
    assert "groups" in termview.render(few, {}, 200, group=True).splitlines()[0]


def test_groups_count_resources_and_ips_and_show_first_and_last_seen() -> None:
    findings = [
        finding(10, sourceIPAddress="198.51.100.1"),
        finding(20, sourceIPAddress="198.51.100.2"),
        finding(30, sourceIPAddress="198.51.100.2"),
        # the action comes from the message when it names one (issue 12)
        finding(40, eventName="PutObject", errorMessage="Access Denied"),
    ]
    text = termview.render(findings, {}, 80, group=True)
    block = text.split("\n\n")[1]
    assert block.startswith("3 x  AccessDenied  s3:GetObject")
    assert "1 resource, 2 IPs" in block
    assert "2026-11-20 00:00:10 to 2026-11-20 00:00:30" in block
    table = termview.render(findings, {}, 200, group=True)
    row = next(ln for ln in table.splitlines() if ln.startswith("3 "))
    assert re.search(r"\s1\s+2\s+2026-11-20 00:00:10\s+2026-11-20 00:00:30$", row)


def test_attacker_text_cannot_reach_the_terminal_raw() -> None:
    evil = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\x1b[2J\u202eevil"
    f = finding(1, userAgent=evil, userIdentity={"type": "IAMUser", "userName": evil})
    for width in (80, 200):
        for group in (False, True):
            text = termview.render([f], {}, width, group)
            assert "\x1b" not in text and "\u202e" not in text
            assert "\\x1b" in text


def test_wide_characters_count_as_two_columns() -> None:
    name = "管理者" * 30
    f = finding(1, userIdentity={"type": "IAMUser", "userName": name})
    from rich.cells import cell_len

    for width in (60, 200):
        text = termview.render([f], {}, width, group=False)
        assert max(cell_len(line) for line in text.splitlines()) <= width
        assert text.count("管") == text.count("者") == 30  # wrapped, never cut


def test_fold_never_loses_text() -> None:
    text = "arn:aws:s3:::bucket/" + "x" * 200 + " tail words here"
    for width in (1, 5, 17, 80):
        parts = termview.fold(text, width)
        assert all(len(p) <= width for p in parts)
        assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_columns_is_respected_for_pipes_and_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    assert termview.terminal_width(False, lambda: 300) == 90
    monkeypatch.delenv("COLUMNS")
    assert termview.terminal_width(True, lambda: 111) == 111
    assert termview.terminal_width(False, lambda: 111) == termview.PIPE_WIDTH


def test_ten_thousand_findings_render_in_one_pass() -> None:
    # Not a timing assertion (bench/ measures speed); this checks the view stays linear
    # in practice: all 10,000 rows are there in every layout.
    findings = [finding(i) for i in range(10_000)]
    started = time.perf_counter()
    for width in (80, 200):
        text = termview.render(findings, {}, width, group=False)
        assert text.count("-1111-2222-3333-444444444444") == 10_000
    assert termview.render(findings, {}, 80).startswith("10000 findings in 1 groups")
    print(f"rendered 10,000 findings 2x in {time.perf_counter() - started:.2f} s")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("width", [80, 120])
def test_in_a_real_terminal(tmp_path: Path, width: int) -> None:
    """The scan in tmux (a real pty of that width, no COLUMNS): the captured screen has
    whole account ids and event ids, and no line wider than the window."""
    script = Path(sys.executable).with_name("deniedwatch")
    session = f"dw-termview-{width}-{time.monotonic_ns()}"
    out = tmp_path / "screen.txt"
    cmd = f"{script} scan {EXAMPLES} --config {EXAMPLE_CONFIG} -q --no-group; sleep 120"
    env = ["env", "-u", "COLUMNS", "-u", "LINES"]
    subprocess.run(
        [*env, "tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", "50", cmd],
        check=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
        while time.monotonic() < deadline:
            subprocess.run(
                ["tmux", "capture-pane", "-p", "-J", "-S", "-", "-t", session],
                stdout=out.open("w"),
                check=True,
            )
            if "Event ids link" in out.read_text():
                break
            time.sleep(0.2)
        screen = out.read_text()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    assert "Event ids link" in screen
    assert widest(screen) <= width
    assert "111122223333 (prod)" in screen
    assert "00000003-1111-2222-3333-444444444444" in screen
    assert "…" not in screen


def test_optional_fields_show_when_a_finding_has_them() -> None:
    from dataclasses import replace

    f = replace(finding(1), hint="check the bucket policy", denial_policy_arn=None)
    text = termview.render([f], {}, 80, group=False)
    # the hint is written once, in the legend under the blocks; the row points at it
    assert "  [1] check the bucket policy" in text and text.count("check the bucket") == 1
    assert "[1]" in text.split("Next steps:")[0]
    assert "Next steps" not in termview.render([replace(f, hint=None)], {}, 80, group=False)
    assert "policy  " not in text
