"""`deniedwatch scan` on local files, run in-process through the real entry point.

Expectations are computed here from the raw sample records with the rules as the issue
states them, not with deniedwatch's own code, so a bug in the rules cannot hide itself.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import deniedwatch
from deniedwatch.rules import Ruleset
from deniedwatch.scan import FindingFilter, scan_bytes
from dwtest import DESIGN_FIELDS, EXAMPLE_CONFIG, EXAMPLES, CliResult
from samples import (
    ALL_DENIAL_IDS,
    CONFIG_IDS,
    DENIALS,
    FOLDER_REGION,
    NO_CONFIG_IDS,
    RAW,
    ids,
    jsonl,
)
from strategies import random_records

Cli = Callable[..., CliResult]


def test_the_sample_holds_what_the_readme_says() -> None:
    assert (len(RAW), len(DENIALS), len(NO_CONFIG_IDS), len(CONFIG_IDS)) == (33, 24, 21, 20)


@pytest.fixture(autouse=True)
def _no_stray_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./deniedwatch.toml or $DENIEDWATCH_CONFIG from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENIEDWATCH_CONFIG", raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)


def scan(cli: Cli, *args: Any, config: bool = True) -> CliResult:
    extra = ["--config", EXAMPLE_CONFIG] if config else []
    return cli("scan", EXAMPLES, *extra, *args)


# ---- the main job ------------------------------------------------------------------


def test_jsonl_is_one_object_per_unsuppressed_denial(cli: Cli) -> None:
    result = scan(cli, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    findings = jsonl(result)
    assert len(findings) == len(CONFIG_IDS) == 20
    assert {f["event_id"] for f in findings} == CONFIG_IDS
    for f in findings:
        assert list(f) == DESIGN_FIELDS
    times = [f["event_time"] for f in findings]
    assert times == sorted(times)
    # standard output carries only data; the summary goes to standard error
    assert "scan:" not in result.stdout
    assert "5 files read (1 digest, 1 insight skipped), 33 events, 20 findings, 4 suppressed" in (
        result.stderr
    )


def test_findings_carry_the_explanation(cli: Cli) -> None:
    by_name = {(f["event_name"], f["principal_name"]): f for f in jsonl(scan(cli))}
    scp = by_name[("LeaveOrganization", "root")]
    assert (scp["denial_policy"], scp["denial_explicit"]) == ("service-control-policy", True)
    assert scp["account_id"] == "111122223333"
    assert scp["console_url"].startswith("https://us-east-1.console.aws.amazon.com/cloudtrailv2/")
    boundary = by_name[("CreateLogGroup", "deploy-pipeline/build-4711")]
    assert (boundary["denial_policy"], boundary["denial_explicit"]) == (
        "permissions-boundary",
        False,
    )
    assert boundary["resource"].endswith("log-group:/aws/lambda/orders-api")
    assert by_name[("GetRestApis", "dave@example.com")]["denial_policy"] is None
    policies = {f["denial_policy"] for f in by_name.values()} - {None}
    assert len(policies) == 7


def test_jsonl_is_the_default_when_stdout_is_not_a_terminal(cli: Cli) -> None:
    assert scan(cli).stdout == scan(cli, "--format", "jsonl").stdout


def test_without_settings_only_the_defaults_apply(cli: Cli) -> None:
    result = scan(cli, config=False)
    assert result.exit_code == 0
    assert ids(result) == NO_CONFIG_IDS


def test_settings_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DENIEDWATCH_CONFIG", str(EXAMPLE_CONFIG))
    assert ids(scan(cli, config=False)) == CONFIG_IDS


def test_include_suppressed(cli: Cli) -> None:
    result = scan(cli, "--include-suppressed")
    assert ids(result) == ALL_DENIAL_IDS
    assert "suppressed by: default:head-bucket 1" in result.stderr


def test_defaults_can_be_turned_off(cli: Cli, tmp_path: Path) -> None:
    settings = tmp_path / "off.toml"
    settings.write_text("[suppress]\ndefaults = false\n")
    assert ids(cli("scan", EXAMPLES, "--config", settings)) == ALL_DENIAL_IDS


def test_extra_and_ignored_codes_from_settings(cli: Cli, tmp_path: Path) -> None:
    settings = tmp_path / "codes.toml"
    settings.write_text(
        '[denial]\nextra_codes = ["NoSuchKey"]\nignored_codes = ["ForbiddenException"]\n'
    )
    found = {(f["error_code"]) for f in jsonl(cli("scan", EXAMPLES, "--config", settings))}
    assert "NoSuchKey" in found
    assert "ForbiddenException" not in found


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_other_formats(cli: Cli, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # stacked: every value whole on its line
    result = scan(cli, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt == "json":
        findings = json.loads(result.stdout)
        assert [list(f) for f in findings] == [DESIGN_FIELDS] * 20
        assert {f["event_id"] for f in findings} == CONFIG_IDS
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert list(rows[0]) == DESIGN_FIELDS
        assert {r["event_id"] for r in rows} == CONFIG_IDS
    else:
        for text in ["mallory", "deploy-pipeline", "explicit deny", "(prod)", "root"]:
            assert text in result.stdout
        assert "scan:" not in result.stdout


def test_table_says_so_when_nothing_is_found(cli: Cli) -> None:
    result = scan(cli, "--format", "table", "--account", "000000000000")
    assert result.stdout.strip() == "No denied API calls found."


def test_unknown_format(cli: Cli) -> None:
    result = scan(cli, "--format", "yaml")
    assert result.exit_code == 2
    assert "--format must be one of" in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_output_file(cli: Cli, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"findings.{fmt}"
    result = scan(cli, "--format", fmt, "--output", out)
    assert result.exit_code == 0
    assert result.stdout == ""
    text = out.read_text()
    assert "mallory" in text
    if fmt == "jsonl":
        assert len(text.splitlines()) == 20


def test_fail_on_findings(cli: Cli) -> None:
    assert scan(cli, "--fail-on-findings").exit_code == 1
    assert scan(cli, "--fail-on-findings", "--account", "000000000000").exit_code == 0


def test_quiet_has_no_summary(cli: Cli) -> None:
    result = scan(cli, "--quiet")
    assert result.stderr == ""
    assert len(jsonl(result)) == 20


# ---- filters -------------------------------------------------------------------------


def _expected(pred: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["eventID"] for r in RAW if r["eventID"] in CONFIG_IDS and pred(r)}


@pytest.mark.parametrize(
    ("args", "pred"),
    [
        (["--since", "2026-11-21"], lambda r: r["eventTime"] >= "2026-11-21"),
        (["--until", "2026-11-20T23:59:59Z"], lambda r: r["eventTime"] < "2026-11-21"),
        (["--until", "2026-11-20"], lambda r: r["eventTime"] < "2026-11-21"),  # the whole day
        (
            ["--since", "2026-11-21", "--until", "2026-11-21"],
            lambda r: r["eventTime"].startswith("2026-11-21"),
        ),
        (
            ["--since", "2026-11-20T10:00:00Z", "--until", "2026-11-21T05:00Z"],
            lambda r: "2026-11-20T10:00:00Z" <= r["eventTime"] <= "2026-11-21T05:00:00Z",
        ),
        (["--since", "100000d"], lambda r: True),
        (["--until", "100000d"], lambda r: False),
        (["--account", "444455556666"], lambda r: r["recipientAccountId"] == "444455556666"),
        (
            ["--account", "444455556666", "--account", "111122223333"],
            lambda r: True,
        ),
        (["--region", "us-west-2"], lambda r: r["awsRegion"] == "us-west-2"),
        # --region also prunes files by the region folder in their path; as in real
        # CloudTrail, every sample record sits in the folder of its own awsRegion.
        (
            ["--region", "eu-west-1", "--account", "111122223333", "--since", "2026-11-20T10:00Z"],
            lambda r: (
                r["awsRegion"] == FOLDER_REGION[r["eventID"]] == "eu-west-1"
                and r["eventTime"] >= "2026-11-20T10:00"
            ),
        ),
    ],
    ids=[
        "since-date",
        "until-time",
        "until-date",
        "one-day",
        "window",
        "since-span",
        "until-span",
        "account",
        "accounts",
        "region",
        "combined",
    ],
)
def test_filters(cli: Cli, args: list[str], pred: Callable[[dict[str, Any]], bool]) -> None:
    result = scan(cli, *args)
    assert result.exit_code == 0, result.stderr
    assert ids(result) == _expected(pred)


def test_since_prunes_files_by_the_date_in_their_path(cli: Cli) -> None:
    result = scan(cli, "--since", "2026-11-21")
    assert "2 outside the filters" in result.stderr
    assert "3 files read" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since/--until"),
        (["--until", "2026-13-01"], "--since/--until"),
        (["--since", "2026-11-21", "--until", "2026-11-20"], "--since is after --until"),
        # past timedelta's range, and past datetime's year 1: OverflowError once, exit 1
        (["--since", "999999999d"], "before the year 1"),
        (["--since", "99999999999999999999h"], "before the year 1"),
        (["--until", "800000d"], "before the year 1"),
    ],
)
def test_bad_time_options(cli: Cli, args: list[str], message: str) -> None:
    result = scan(cli, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_one_job_and_two_jobs_give_identical_output(cli: Cli) -> None:
    one = scan(cli, "--jobs", "1", "--include-suppressed")
    two = scan(cli, "--jobs", "2", "--include-suppressed")
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    assert one.stderr == two.stderr
    assert len(jsonl(one)) == 24


# ---- bad input -----------------------------------------------------------------------


@pytest.fixture
def messy_tree(tmp_path: Path) -> Path:
    """The sample export plus every kind of bad or foreign file."""
    root = tmp_path / "export"
    shutil.copytree(EXAMPLES, root)
    day = root / "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/22"
    day.mkdir(parents=True)
    good = gzip.compress(json.dumps({"Records": RAW[:1]}).encode(), mtime=0)
    (day / "corrupt.json.gz").write_bytes(good[: len(good) // 2])
    (day / "empty.json.gz").write_bytes(b"")
    (day / "empty.json").write_bytes(b"")
    (day / "text.json").write_text("<html>not json</html>")
    (day / "other.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": []}))
    (day / "odd-records.json").write_text(json.dumps({"Records": ["x", 1, RAW[2]]}))
    (day / "README.txt").write_text("not a log file")
    return root


BAD = ["corrupt.json.gz", "empty.json.gz", "empty.json", "text.json", "other.json"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bad_files_warn_and_the_scan_goes_on(cli: Cli, messy_tree: Path, jobs: str) -> None:
    result = cli("scan", messy_tree, "--jobs", jobs)
    assert result.exit_code == 3
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    odd = str(messy_tree / "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/22/odd-records.json")
    assert [w for w in warnings if odd in w] == [
        f"warning: {odd}: record 0: not a JSON object (str)",
        f"warning: {odd}: record 1: not a JSON object (int)",
    ]
    warnings = [w for w in warnings if odd not in w]
    assert len(warnings) == len(BAD)
    for name in BAD:
        assert any(name in w and str(messy_tree) in w for w in warnings), name
    assert "Traceback" not in result.stderr
    # everything readable was still scanned: the sample's findings and odd-records.json's one
    assert ids(result) == NO_CONFIG_IDS | {RAW[2]["eventID"]}
    assert "5 bad files" in result.stderr
    assert "2 bad records" in result.stderr
    assert f"bad records in: {odd}" in result.stderr
    assert "1 not a log file" in result.stderr


def test_findings_outrank_bad_input_for_ci(cli: Cli, messy_tree: Path) -> None:
    assert cli("scan", messy_tree, "--fail-on-findings").exit_code == 1


def test_a_single_bad_file(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "x.json.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = cli("scan", bad)
    assert (result.exit_code, result.stdout) == (3, "")
    assert f"warning: {bad}: corrupt gzip" in result.stderr


# ---- usage errors: one line, exit 2, never a traceback ----------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("[alerts]\nthreshold = = 1\n", "bad.toml:2: not valid TOML"),
        ("[alerts]\n\nthresold = 1\n", "bad.toml:3: alerts.thresold: unknown key"),
        ('[alerts]\nthreshold = "1"\n', "bad.toml:2: alerts.threshold: must be a whole number"),
        (
            '[[suppress.rule]]\nsource_ip = "10.0.0.0/40"\n',
            "bad.toml:2: suppress.rule[0].source_ip",
        ),
        ('[accounts]\n"1234" = "prod"\n', "bad.toml:2: accounts.1234: account ids are 12 digits"),
    ],
)
def test_bad_settings(cli: Cli, tmp_path: Path, settings: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(settings)
    result = cli("scan", EXAMPLES, "--config", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scan", "no/such/dir"], "no/such/dir: no such file or folder"),
        (["scan", EXAMPLES, "--config", "missing.toml"], "missing.toml: settings file not found"),
        (["scan", "s3://"], "no bucket name"),
    ],
)
def test_usage_errors(cli: Cli, args: list[Any], expected: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unknown_option_is_a_usage_error(cli: Cli) -> None:
    result = cli("scan", EXAMPLES, "--bogus")
    assert result.exit_code == 2
    assert "--bogus" in result.stderr


# ---- the installed console script ------------------------------------------------------


def test_console_script_runs_as_a_real_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("deniedwatch")
    assert exe.exists(), "the package is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DENIEDWATCH_"))}
    done = subprocess.run(
        [exe, "scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "--format", "jsonl"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {json.loads(line)["event_id"] for line in done.stdout.splitlines()} == CONFIG_IDS
    assert len(done.stdout.splitlines()) == 20
    bad = tmp_path / "bad.toml"
    bad.write_text("[nope]\n")
    failed = subprocess.run(
        [exe, "scan", EXAMPLES, "--config", bad],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 2
    assert failed.stderr.strip() == (
        f"error: {bad}:1: nope: unknown section (known: accounts, alerts, denial, deploy, "
        "destinations, explain, ous, routes, severity, suppress, triage)"
    )


# ---- --since / --until values ------------------------------------------------------------


def test_time_values() -> None:
    from datetime import UTC, datetime

    from deniedwatch.timespec import parse_when

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now) == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert parse_when("90m", now) == datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    assert parse_when("2w", now) == datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
    assert parse_when("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)
    until = parse_when("2026-11-20", now, end_of_day=True)
    assert until == datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_when("2026-11-20T10:00Z", now, end_of_day=True) == datetime(
        2026, 11, 20, 10, tzinfo=UTC
    )
    assert parse_when("2026-11-20T12:00+02:00", now) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    for bad in ["", "yesterday", "7x", "-7d", "2026-02-30"]:
        with pytest.raises(ValueError, match="is not a date"):
            parse_when(bad, now)


# ---- crafted files: attacker-written text and odd values never crash the scan ----------

CRAFTED = [
    {  # a time without CloudTrail's Z: not a time (issue 24), never a crash
        "eventID": "naive",
        "eventTime": "2026-11-20T09:01:10",
        "awsRegion": "us-east-1",
        "errorCode": "AccessDenied",
        "eventName": "GetObject",
        "eventSource": "s3.amazonaws.com",
        "userAgent": '[bold red]x[/] =HYPERLINK("http://example.invalid")',
        "userIdentity": {"type": "IAMUser", "userName": "[link=http://example.invalid]me[/]"},
    },
    {"eventID": "unreadable-time", "eventTime": "yesterday", "errorCode": "AccessDenied"},
    {"eventID": "old", "eventTime": "2020-01-01T00:00:00Z", "errorCode": "AccessDenied"},
]


def test_crafted_records(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "crafted.json").write_text(json.dumps({"Records": CRAFTED}))
    result = cli("scan", tmp_path / "crafted.json", "--since", "2026-11-01")
    # the two times that are not CloudTrail's are bad fields of their records (exit 3)...
    assert result.exit_code == 3 and result.stderr.count("eventTime is not a CloudTrail") == 2
    # ...and a denial whose time cannot be read is never hidden by a time filter
    assert ids(result) == {"naive", "unreadable-time"}
    table = cli("scan", tmp_path / "crafted.json", "--format", "table")
    assert table.exit_code == 3, table.stderr
    # shown as text, not markup (the Who cell may fold the name: the hint column takes room)
    assert "[link=http://" in table.stdout
    assert "\x1b]8;" not in table.stdout  # no terminal hyperlink was made of it


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(random_records, max_size=4))
def test_random_files_never_crash_the_scan(records: list[dict[str, Any]]) -> None:
    try:
        data = json.dumps({"Records": records}, allow_nan=False).encode()
    except ValueError:
        assume(False)
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    for wanted in (
        FindingFilter(),
        FindingFilter(since, until, frozenset({"111122223333"}), frozenset({"us-east-1"})),
    ):
        result = scan_bytes(data, "random.json", Ruleset(), wanted, include_suppressed=True)
        assert result.error is None
        assert result.events == len(records)


@pytest.mark.parametrize("where", ["a-folder", "no/such/folder/out.jsonl"])
def test_unwritable_output(cli: Cli, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-folder").mkdir()
    result = scan(cli, "--output", tmp_path / where)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --output {tmp_path / where}")
    assert "Traceback" not in result.stderr


def test_digest_and_insight_files_named_directly_are_skipped_not_bad(cli: Cli) -> None:
    digest = next(EXAMPLES.rglob("*CloudTrail-Digest_*.json.gz"))
    insight = next(EXAMPLES.rglob("*CloudTrail-Insight_*.json.gz"))
    result = cli("scan", digest, insight)
    assert (result.exit_code, result.stdout) == (0, "")
    assert "0 files read (1 digest, 1 insight skipped)" in result.stderr
    assert "warning" not in result.stderr


REPORT_SAMPLE_RECORD = Path(deniedwatch.__file__).parent / "data" / "sample_record.json"


def test_a_reader_that_leaves_early_is_not_a_crash(tmp_path: Path) -> None:
    # `deniedwatch scan … | head -1`, with a real pipe: the console script must not
    # print a BrokenPipeError traceback when the reader closes the pipe (click turns EPIPE
    # into a quiet exit). 2,000 findings
    # (~2 MB of JSON lines) overflow the pipe's buffer, so the writer does hit EPIPE.
    sample = json.loads((REPORT_SAMPLE_RECORD).read_text())
    records = [{**sample, "eventID": f"id-{i}"} for i in range(2000)]
    (tmp_path / "big.json.gz").write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    script = Path(sys.executable).with_name("deniedwatch")
    proc = subprocess.Popen(
        [str(script), "scan", str(tmp_path), "--format", "jsonl", "-q", "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert json.loads(first)["event_id"]
    assert "Traceback" not in stderr
