"""Bad input: malformed payloads and records through the handler, corrupt files through scan.

Records: each bad one sits in a batch between good denials of its own principals,
so a bad record that sank its neighbours would show as a good record lost. Handled
means: no exception out of the handler, and either a ``bad-record`` log line with a
reason, or the record read as CloudTrail (then it is a finding or not a denial).
Payloads: handled means the handler raises PayloadError (AWS retries, then the
dead-letter queue) with a message saying what is wrong; anything else is a crash.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from figures import record, sizes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockkit_limits import limit_problems
from deniedwatch import lambda_handler
from deniedwatch.alerts.dedup import MemoryStore
from deniedwatch.alerts.email import body, subject
from deniedwatch.alerts.slack import render
from deniedwatch.metrics import Metrics
from deniedwatch.pipeline import Pipeline
from deniedwatch.sources.cwlogs import PayloadError
from deniedwatch.sources.invocation import decode_invocation
from live_support import denial, envelope, subscription_payload
from strategies import json_values, log_messages

BIG = "x" * 262_144


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _mut(**changes: Any) -> str:
    r = denial(user="bad")
    r.update(changes)
    return json.dumps(r)


HAND_RECORDS: list[Any] = [
    "",
    " ",
    "not json {",
    "null",
    "[]",
    "42",
    '"a string"',
    "{}",
    "{'single': 'quotes'}",
    json.dumps(denial(user="bad"))[:57],
    json.dumps(denial(user="bad"))[:-1],
    '{"eventVersion": 1}',
    '{"eventSource": "s3.amazonaws.com"}',
    '{"eventName": 5}',
    nested(100_000),
    nested(900),
    "\ud800",
    '{"eventVersion": "1.08", "userAgent": "\\ud800"}',
    _mut(userIdentity="a string"),
    _mut(userIdentity=[1, 2]),
    _mut(userIdentity=None),
    _mut(userIdentity={"type": 5, "arn": [], "userName": {}}),
    _mut(errorCode=403),
    _mut(errorCode=["AccessDenied"]),
    _mut(errorCode=None),
    _mut(eventTime={"t": 1}),
    _mut(eventName=None),
    _mut(eventSource=7),
    _mut(awsRegion=[]),
    _mut(resources="arn"),
    _mut(resources=[1, None, "x"]),
    _mut(resources=[{"ARN": 5}]),
    _mut(errorMessage=5),
    _mut(errorMessage=BIG),
    _mut(userAgent=BIG),
    _mut(sourceIPAddress=BIG),
    _mut(requestParameters=json.loads(nested(200))),
    _mut(requestParameters=BIG),
    _mut(recipientAccountId=1234),
    _mut(eventID=None),
    _mut(eventID=["x"]),
    _mut(userAgent="\ud800\udfff\ud800"),
    _mut(eventName="Get\udfff"),
    _mut(userIdentity={"type": "IAMUser", "userName": "\ud800", "arn": "arn:\udc00"}),
    _mut(errorMessage="User: \udcff is not authorized"),
    _mut(userIdentity={"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/"}),
    None,
    5,
    ["list"],
    {"already": "an object"},
    True,
]


def reproducible(examples: int) -> Any:
    """Hypothesis settings for a figure: a fixed example count, derandomised, no database."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


class Capture:
    """A channel that renders both messages (as the real channels would) and keeps them."""

    name = "slack"

    def __init__(self) -> None:
        self.alerts: list[Any] = []

    def send(self, alert: Any) -> None:
        payload = render(alert, window_minutes=60)
        assert limit_problems(payload) == []
        json.dumps(payload).encode("utf-8")  # what slack_sdk sends
        (subject(alert) + body(alert)).encode("utf-8")  # what SNS is sent
        self.alerts.append(alert)


class Tally:
    def __init__(self) -> None:
        self.c: Counter[str] = Counter()
        self.crashes: list[str] = []
        self.good_lost = 0
        self.good = 0

    def record_in_a_batch(self, message: Any, n: int) -> None:
        good = [denial(user=f"good{n}a"), denial(user=f"good{n}b")]
        events = [
            {"id": "1", "timestamp": 1, "message": json.dumps(good[0])},
            {"id": "2", "timestamp": 1, "message": message},
            {"id": "3", "timestamp": 1, "message": json.dumps(good[1])},
        ]
        lines: list[str] = []
        channel = Capture()
        rt = lambda_handler.Runtime(
            lambda_handler.load_runtime_settings(), MemoryStore(), Pipeline.fixed([channel])
        )
        metrics = Metrics(write=lines.append)
        lambda_handler_log = lambda_handler.log
        try:
            lambda_handler.log = lambda kind, **kw: lines.append(
                json.dumps({"kind": kind, **kw}, default=str)
            )  # type: ignore[assignment]
            lambda_handler.process(
                decode_invocation(subscription_payload([], events=events)), rt, metrics, now=1e9
            )
        except Exception as exc:  # a crash: counted, reported by the test
            self.crashes.append(f"{type(exc).__name__}: {exc}"[:200])
            self.c["crashed"] += 1
            return
        finally:
            lambda_handler.log = lambda_handler_log  # type: ignore[assignment]
        got = {a.sample.principal_name: a.count for a in channel.alerts}
        self.good += 2
        self.good_lost += sum(got.get(f"good{n}{s}") != 1 for s in "ab")
        bad = [json.loads(x) for x in lines if '"bad-record"' in x]
        if bad and all(b.get("reason") for b in bad):
            self.c["logged as bad-record"] += 1
        elif "bad" in got or len(channel.alerts) == 3:
            self.c["read as a finding"] += 1
        else:
            self.c["read, not a denial"] += 1


def test_hand_picked_and_generated_records_in_mixed_batches(lambda_env) -> None:
    tally = Tally()
    for i, message in enumerate(HAND_RECORDS):
        tally.record_in_a_batch(message, i)
    _record_tally(tally, "hand-picked", len(HAND_RECORDS))


@pytest.mark.parametrize("examples", sizes(small=40, full=300))
def test_generated_records_in_mixed_batches(examples: int, lambda_env) -> None:
    tally = Tally()
    n = iter(range(10**9))

    @reproducible(examples)
    @given(log_messages(lambda: denial(user="bad"), damaged=True))
    def one(message: Any) -> None:
        tally.record_in_a_batch(message, next(n))

    one()
    _record_tally(tally, "hypothesis-generated", sum(tally.c.values()))


def _record_tally(tally: Tally, how: str, tried: int) -> None:
    record(
        "bad-input",
        f"{how} malformed records, each between 2 good denials",
        tried="handler.process on a mixed batch",
        times=tried,
        held="crashed == 0, good records lost == 0",
        records=tried,
        **{k.replace(" ", "_"): v for k, v in sorted(tally.c.items()) if k != "crashed"},
        crashed=tally.c["crashed"],
        good_records=tally.good,
        good_records_lost=tally.good_lost,
    )
    assert tally.crashes == []
    assert tally.good_lost == 0


def _b64(raw: bytes) -> dict[str, Any]:
    return {"awslogs": {"data": base64.b64encode(raw).decode()}}


GOOD_GZ = gzip.compress(json.dumps({"messageType": "DATA_MESSAGE", "logEvents": []}).encode())
HAND_PAYLOADS: list[Any] = [
    None,
    {},
    [],
    "text",
    5,
    {"awslogs": None},
    {"awslogs": {}},
    {"awslogs": {"data": None}},
    {"awslogs": {"data": 5}},
    {"awslogs": {"data": ["x"]}},
    {"awslogs": {"data": "%%%"}},
    {"awslogs": {"data": "aGVsbG8"}},
    {"awslogs": {"data": ""}},
    _b64(b"hello"),
    _b64(GOOD_GZ[:-8]),
    _b64(GOOD_GZ[:10]),
    _b64(GOOD_GZ + b"trailing"),
    envelope(b"not json"),
    envelope(b"\xff\xfe{}"),
    envelope(b'{"messageType": "DATA_MESSAGE", "x": "\xff"}'),
    envelope([1, 2]),
    envelope("a string"),
    envelope({}),
    envelope({"messageType": 5}),
    envelope({"messageType": "DATA_MESSAGE", "logEvents": "x"}),
    envelope({"messageType": "DATA_MESSAGE", "logEvents": {"a": 1}}),
    envelope(nested(100_000).encode()),
    _b64(gzip.compress(b"\x00" * 1_000_000)),
]


@pytest.mark.parametrize("examples", sizes(small=40, full=200))
def test_malformed_payloads_raise_payload_error_only(examples: int, lambda_env) -> None:
    rt = lambda_handler.Runtime(
        lambda_handler.load_runtime_settings(), MemoryStore(), Pipeline.fixed([])
    )
    c: Counter[str] = Counter()
    crashes: list[str] = []

    def try_one(event: Any) -> None:
        try:
            lambda_handler.process(
                decode_invocation(event), rt, Metrics(write=lambda _: None), now=1e9
            )
            c["decoded (no alert)"] += 1
        except PayloadError as exc:
            c["PayloadError with a reason" if str(exc) else "PayloadError without a reason"] += 1
        except Exception as exc:
            crashes.append(f"{type(exc).__name__}: {exc}"[:200])

    for event in HAND_PAYLOADS:
        try_one(event)

    @reproducible(examples)
    @given(st.one_of(st.binary(max_size=300), st.text(max_size=300), json_values))
    def generated(data: Any) -> None:
        candidates = [{"awslogs": {"data": data}}, data]
        if isinstance(data, bytes):
            candidates.append(envelope(data))
        for event in candidates:
            try_one(event)

    generated()
    tried = sum(c.values()) + len(crashes)
    record(
        "bad-input",
        "malformed subscription payloads (hand-picked + generated)",
        tried="handler.process on the whole event",
        times=tried,
        held="crashed == 0 (PayloadError -> AWS retry -> DLQ)",
        payloads=tried,
        hand_picked=len(HAND_PAYLOADS),
        **{k.replace(" ", "_").replace("(", "").replace(")", ""): v for k, v in c.items()},
        crashed=len(crashes),
    )
    assert crashes == []
    assert c["PayloadError without a reason"] == 0


# ---- scan: corrupt files next to good ones -------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cloudtrail"


def corrupt_files() -> dict[str, bytes]:
    good = json.dumps({"Records": [denial(user="x")]}).encode()
    gz = gzip.compress(good, mtime=0)
    return {
        "truncated.json.gz": gz[: len(gz) // 2],
        "header-only.json.gz": gz[:10],
        "not-gzip.json.gz": b"plain bytes, not gzip",
        "empty.json.gz": b"",
        "gzip-of-junk.json.gz": gzip.compress(b"<html>nope</html>"),
        "gzip-bad-utf8.json.gz": gzip.compress(b'{"Records": ["\xff\xfe"]}'),
        "gzip-crc.json.gz": gz[:-8] + b"\x00" * 8,
        "empty.json": b"",
        "text.json": b"<html>not json</html>",
        "bad-utf8.json": b'{"Records": [{"eventVersion": "\xff"}]}',
        "truncated.json": good[:-5],
        "array.json": b"[1, 2, 3]",
        "records-not-list.json": b'{"Records": {"a": 1}}',
        "deep.json": nested(100_000).encode(),
        "policy.json": json.dumps({"Version": "2012-10-17", "Statement": []}).encode(),
    }


def test_scan_reports_each_corrupt_file_and_keeps_every_good_finding(cli, tmp_path) -> None:
    clean = cli("scan", EXAMPLES, "--format", "jsonl")
    root = tmp_path / "export"
    shutil.copytree(EXAMPLES, root)
    day = root / "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/23"
    day.mkdir(parents=True)
    files = corrupt_files()
    for name, data in files.items():
        (day / name).write_bytes(data)
    messy = cli("scan", root, "--format", "jsonl")
    ids = lambda out: {json.loads(x)["event_id"] for x in out.splitlines() if x.strip()}  # noqa: E731
    warnings = [x for x in messy.stderr.splitlines() if x.startswith("warning:")]
    reported = [n for n in files if any(n in w for w in warnings)]
    lost = ids(clean.stdout) - ids(messy.stdout)
    record(
        "bad-input",
        f"scan: {len(files)} corrupt files among the sample export",
        tried="deniedwatch scan (CLI, in-process)",
        times=len(files),
        held="each corrupt file reported, good findings lost == 0, no traceback",
        corrupt_files=len(files),
        corrupt_files_reported=len(reported),
        good_findings=len(ids(clean.stdout)),
        good_findings_lost=len(lost),
        tracebacks=messy.stderr.count("Traceback"),
    )
    assert "Traceback" not in messy.stderr
    assert lost == set() and len(ids(clean.stdout)) == 21
    assert sorted(reported) == sorted(files), messy.stderr
