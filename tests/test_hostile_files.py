"""Hostile log files and payloads: gzip bombs, huge files, one bad record among good ones.

Each test is named after the attack. A bomb must end as a named bad file (scan) or a
PayloadError (Lambda) in bounded memory; one bad record must cost only itself, named
by file and index, while every good record of its file is still read.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from deniedwatch.rules import Ruleset
from deniedwatch.scan import FindingFilter, scan_bytes
from deniedwatch.sources import bounded, cwlogs, trailfiles
from deniedwatch.sources.bounded import MiB
from deniedwatch.sources.cwlogs import PayloadError
from deniedwatch.sources.recover import recover
from deniedwatch.sources.trailfiles import BadFile
from hostile import PAST_EVERY_PARSER, bomb, deep_denial, records_bomb
from live_support import denial

# ---- memory bounds -----------------------------------------------------------------


def test_gzip_bomb_stops_at_the_limit_in_bounded_memory() -> None:
    data = bomb(256 * MiB)  # ~250 KB of gzip
    with pytest.raises(bounded.TooLarge, match="inflates past 8 MiB"):
        bounded.gunzip(data, 8 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(bounded.TooLarge):
            bounded._inflate_members(data, 8 * MiB)  # the zlib path (no ISA-L) alike
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # zlib's output blocks plus the bytes they are joined into: twice the limit, never
    # the 256 MiB the bomb holds
    assert peak < 3 * 8 * MiB


def test_gzip_bomb_with_a_lying_size_trailer_still_stops_at_the_limit() -> None:
    data = bomb(32 * MiB)
    lying = data[:-4] + (5).to_bytes(4, "little")  # ISIZE says 5 bytes
    with pytest.raises(bounded.TooLarge):
        bounded.gunzip(lying, 4 * MiB)


def test_many_member_gzip_bomb_counts_every_member_against_one_limit() -> None:
    member = gzip.compress(b"x" * MiB)
    with pytest.raises(bounded.TooLarge):
        bounded.gunzip(member * 9, 8 * MiB)
    assert len(bounded.gunzip(member * 8, 8 * MiB)) == 8 * MiB


def test_gzip_followed_by_junk_is_corrupt_but_zero_padding_is_fine() -> None:
    packed = gzip.compress(b"abc")
    assert bounded.gunzip(packed + b"\0" * 16, MiB) == b"abc"
    with pytest.raises(bounded.CorruptGzip, match="after the end"):
        bounded.gunzip(packed + b"junk", MiB)


def _payload(raw_json: bytes) -> dict[str, Any]:
    return {"awslogs": {"data": base64.b64encode(raw_json).decode()}}


def test_lambda_payload_bomb_of_valid_json_is_a_payload_error() -> None:
    """12 MB of valid subscription JSON (one huge message) in 12 KB of gzip: no real
    CloudWatch Logs batch inflates past a few MB, so this is refused unread."""
    data = bomb(
        12 * MiB,
        b"A",
        prefix=b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "message": "',
        suffix=b'"}]}',
    )
    assert len(data) < 64 * 1024
    with pytest.raises(PayloadError, match="past 8 MiB: not a CloudWatch Logs batch"):
        cwlogs.decode_payload(_payload(data))


def test_lambda_payload_over_the_limit_before_decoding_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="over the 8 MiB limit"):
        cwlogs.decode_payload({"awslogs": {"data": "A" * (9 * MiB)}})


def test_scan_file_bomb_is_a_bad_file_not_a_memory_blowup() -> None:
    with pytest.raises(BadFile, match=r"too large: inflates past 2 MiB .*--max-file-mb"):
        trailfiles.decode_candidates(records_bomb(40 * MiB), 2 * MiB)


def test_scan_file_bomb_with_a_lying_trailer_is_a_bad_file() -> None:
    data = records_bomb(40 * MiB)
    with pytest.raises(BadFile, match="too large"):
        trailfiles.decode_candidates(data[:-4] + (7).to_bytes(4, "little"), 2 * MiB)


def test_huge_sparse_json_file_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(3 * 2**30)  # 3 GB of holes: no disk used, but read() would fill RAM
    with pytest.raises(BadFile, match=r"3,221,225,472 bytes, over the 64 MiB limit"):
        trailfiles.read_local(str(huge))


def test_file_that_grows_after_stat_is_still_capped() -> None:
    class Growing:
        def read(self, n: int) -> bytes:
            return b" " * n  # a size of 0 was reported, but the stream never ends

    with pytest.raises(bounded.TooLarge):
        bounded.read_capped(Growing(), MiB, size=0)


def test_scan_cli_names_the_bomb_and_exits_3_keeping_other_files(cli, tmp_path: Path) -> None:
    (tmp_path / "bomb.json.gz").write_bytes(records_bomb(8 * MiB))
    good = json.dumps({"Records": [denial(user="alice")]}).encode()
    (tmp_path / "good.json.gz").write_bytes(gzip.compress(good))
    result = cli("scan", tmp_path, "--format", "jsonl", "--max-file-mb", "2", "--jobs", "1")
    assert result.exit_code == 3
    assert [json.loads(x)["principal_name"] for x in result.stdout.splitlines()] == ["alice"]
    assert "bomb.json.gz: too large: inflates past 2 MiB" in result.stderr


# ---- one bad record must not lose its file -----------------------------------------


def _file_with(bad_text: bytes) -> bytes:
    """Two real denials with a damaged record between them, as CloudTrail lays it out."""
    first = json.dumps(denial(user="alice")).encode()
    last = json.dumps(denial(user="bob")).encode()
    return b'{"Records":[' + first + b"," + bad_text + b"," + last + b"]}"


def _scan(data: bytes) -> tuple[list[str | None], list[str], str | None]:
    result = scan_bytes(data, "f.json.gz", Ruleset(), FindingFilter())
    return (
        [f.principal_name for f in result.findings],
        [str(b) for b in result.bad_records],
        result.error,
    )


def deep(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_one_record_nested_past_the_parser_does_not_lose_its_file() -> None:
    names, bad, error = _scan(gzip.compress(_file_with(deep_denial(PAST_EVERY_PARSER))))
    assert error is None
    # the deep record is itself a denial: read without the field that is too deep
    assert names == ["alice", "mallory", "bob"]
    assert bad == ["record 1: nests too deeply (read without requestParameters)"]


def test_lambda_alerts_on_a_denial_nested_past_the_parser_and_counts_it_bad() -> None:
    """The same deep record through the handler: logged and counted as a bad record,
    and still alerted on, read without the field that is too deep."""
    from deniedwatch import lambda_handler
    from deniedwatch.alerts.dedup import MemoryStore
    from deniedwatch.metrics import Metrics
    from deniedwatch.pipeline import Pipeline
    from deniedwatch.sources.invocation import decode_invocation
    from live_support import subscription_payload

    sent: list[Any] = []

    class Capture:
        name = "capture"

        def send(self, alert: Any) -> None:
            sent.append(alert)

    lines: list[str] = []
    rt = lambda_handler.Runtime(
        lambda_handler.Settings(), MemoryStore(), Pipeline.fixed([Capture()])
    )
    deep = deep_denial(PAST_EVERY_PARSER).decode()
    payload = subscription_payload([json.dumps(denial(user="alice")), deep])
    metrics = Metrics(write=lines.append)
    result = lambda_handler.process(decode_invocation(payload), rt, metrics, now=1e9).summary
    metrics.flush()
    assert result["findings"] == 2
    assert sorted(a.sample.principal_name for a in sent) == ["alice", "mallory"]
    (totals,) = [json.loads(x) for x in lines if '"BadRecords"' in x]  # the totals line
    assert totals["BadRecords"] == 1


def test_one_invalid_utf8_byte_does_not_lose_its_file() -> None:
    damaged = json.dumps(denial(user="mallory", user_agent="curl/8")).encode()
    damaged = damaged.replace(b"curl/8", b"curl\xff8")
    names, bad, error = _scan(_file_with(damaged))
    assert error is None
    assert names == ["alice", "mallory", "bob"]
    assert bad == ["record 1: invalid UTF-8"]


def test_one_record_with_broken_syntax_costs_only_itself() -> None:
    names, bad, error = _scan(_file_with(b'{"eventVersion": "1.08", "errorCode": tru}'))
    assert error is None
    assert names == ["alice", "bob"]
    assert len(bad) == 1 and bad[0].startswith("record 1: not JSON")


def test_truncated_file_keeps_the_records_before_the_cut() -> None:
    whole = _file_with(json.dumps(denial(user="carol")).encode())
    names, bad, error = _scan(whole[: len(whole) - 40])
    assert error is None
    assert names[:2] == ["alice", "carol"]
    assert bad and bad[0].startswith("record 2: ")


def test_recovery_skips_strings_holding_brackets_and_escaped_quotes() -> None:
    tricky = json.dumps(denial(user='a"]},{[', user_agent='\\"}]')).encode()
    text = b'{"Records": [' + tricky + b', {"eventVersion": "x", "n": \xff}, ' + tricky + b"]}"
    got = recover(text)
    assert got is not None
    names = [r.get("userIdentity", {}).get("userName") for r in got.records]
    assert names == ['a"]},{[', None, 'a"]},{[']  # the middle one read without "n"
    assert got.count == 3 and [b.index for b in got.bad] == [1]
    assert got.bad[0].reason.startswith("invalid UTF-8, not JSON: Expecting value")
    assert got.bad[0].reason.endswith("(read without n)")


def test_file_with_nothing_readable_is_still_a_bad_file() -> None:
    with pytest.raises(BadFile, match="not JSON"):
        trailfiles.decode_candidates(b'{"Records": [{"a": \xff}]}')


def test_scan_cli_names_file_and_index_of_each_bad_record(cli, tmp_path: Path) -> None:
    (tmp_path / "mixed.json").write_bytes(_file_with(deep_denial(PAST_EVERY_PARSER)))
    result = cli("scan", tmp_path, "--format", "jsonl", "--jobs", "1")
    assert result.exit_code == 3  # some input could not be read whole
    names = [json.loads(x)["principal_name"] for x in result.stdout.splitlines()]
    assert sorted(names) == ["alice", "bob", "mallory"]
    location = str(tmp_path / "mixed.json")
    assert f"warning: {location}: record 1: nests too deeply" in result.stderr
    assert "1 bad record" in result.stderr and "1 bad records" not in result.stderr
    assert f"bad records in: {location}" in result.stderr


def test_pool_workers_apply_the_same_size_cap(cli, tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"big{i}.json").write_bytes(b" " * (2 * MiB + 1))
    result = cli("scan", tmp_path, "--format", "jsonl", "--max-file-mb", "2", "--jobs", "2")
    assert result.exit_code == 3
    assert result.stderr.count("over the 2 MiB limit") == 3, result.stderr


# ---- --output safety -----------------------------------------------------------------


def _export(tmp_path: Path) -> Path:
    src = tmp_path / "logs"
    src.mkdir()
    (src / "trail.json").write_text(json.dumps({"Records": [denial(user="alice")]}))
    return src / "trail.json"


def test_output_symlink_planted_at_a_victim_file_is_not_followed(cli, tmp_path: Path) -> None:
    log = _export(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "report.jsonl"
    link.symlink_to(victim)
    result = cli("scan", log, "--format", "jsonl", "-o", link)
    assert result.exit_code == 2
    assert f"--output {link} is a symbolic link (to {victim}): not followed" in result.stderr
    assert victim.read_text() == "precious" and link.is_symlink()
    forced = cli("scan", log, "--format", "jsonl", "-o", link, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert link.is_symlink() and json.loads(victim.read_text())["principal_name"] == "alice"


@pytest.mark.parametrize("how", ["same path", "other spelling", "hard link", "symlink + force"])
def test_output_pointing_at_an_input_log_is_refused(cli, tmp_path: Path, how: str) -> None:
    log = _export(tmp_path)
    before = log.read_bytes()
    out = {
        "same path": log,
        "other spelling": tmp_path / "logs" / ".." / "logs" / "trail.json",
        "hard link": tmp_path / "hard.json",
        "symlink + force": tmp_path / "soft.json",
    }[how]
    if how == "hard link":
        os.link(log, out)
    if how == "symlink + force":
        out.symlink_to(log)
    # --format json: the extension agrees, so the input check is what refuses it
    result = cli("scan", tmp_path / "logs", "--format", "json", "-o", out, "--force")
    assert result.exit_code == 2
    assert "is one of the inputs" in result.stderr and "refusing to overwrite" in result.stderr
    assert log.read_bytes() == before


def test_failed_scan_leaves_the_old_report_and_no_half_file(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deniedwatch import report

    log = _export(tmp_path)
    out = tmp_path / "out" / "report.jsonl"
    out.parent.mkdir()
    out.write_text("yesterday's report\n")

    def half_then_fail(findings: Any, stream: Any) -> None:
        stream.write('{"event_id": "half')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_jsonl", half_then_fail)
    result = cli("scan", log, "--format", "jsonl", "-o", out)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert out.read_text() == "yesterday's report\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.jsonl"]  # no temp left


def test_new_report_gets_the_usual_permissions_not_the_temp_files(cli, tmp_path: Path) -> None:
    log = _export(tmp_path)
    out = tmp_path / "report.jsonl"
    old = os.umask(0o022)
    try:
        assert cli("scan", log, "--format", "jsonl", "-o", out).exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    existing = tmp_path / "kept.jsonl"
    existing.write_text("")
    existing.chmod(0o600)
    assert cli("scan", log, "--format", "jsonl", "-o", existing).exit_code == 0
    assert existing.stat().st_mode & 0o777 == 0o600 and existing.read_text()


def test_output_to_a_named_pipe_is_written_in_place_not_replaced(cli, tmp_path: Path) -> None:
    """A rename would replace the pipe (or /dev/null, as root) with a regular file."""
    import threading

    log = _export(tmp_path)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    result = cli("scan", log, "--format", "jsonl", "-o", pipe)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert pipe.is_fifo() and json.loads(got[0])["principal_name"] == "alice"
