"""deniedwatch's Athena commands under the newest botocore, which speaks REST-JSON to Athena.

The lock keeps botocore below 1.44 because moto 5.2 cannot serve 1.44's REST-JSON Athena;
users who `pip install deniedwatch` get the newest botocore. `.venv-botocore-next` (built by
`make test` from tools/requirements-botocore-next.lock, the newest boto3/botocore when `make
lock` last ran, with hashes) runs `deniedwatch athena create-table` and `scan --engine
athena` as processes. S3 and Glue go straight to moto server; Athena goes through
tests/athena_rest_json.py, a loopback stand-in that speaks REST-JSON as that botocore's own
model describes it (paths, methods, members, errors in ``x-amzn-ErrorType``) and forwards
each call to moto's Athena. Simulated: the wire translation (not AWS's servers), and, as in
tests/test_athena_api.py, the query results (moto runs no SQL).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.loaders import Loader
from packaging.version import Version

from athena_rest_json import Translator, serve
from dwtest import EXAMPLE_CONFIG, EXAMPLES, REPO, locked_versions
from moto_athena import athena_example_rows, put_trail, queue_results
from samples import CONFIG_IDS

NEXT = REPO / ".venv-botocore-next"
NEXT_LOCK = REPO / "tools" / "requirements-botocore-next.lock"
ATHENA_MODULE = REPO / "src" / "deniedwatch" / "sources" / "athena.py"
# Every Athena operation deniedwatch calls: the input members it sends, the output members it
# reads. test_this_list_is_every_athena_call_the_code_makes keeps it whole.
ATHENA_CALLS = {
    "StartQueryExecution": (
        {"QueryString", "QueryExecutionContext", "WorkGroup", "ResultConfiguration"},
        {"QueryExecutionId"},
    ),
    "GetQueryExecution": ({"QueryExecutionId"}, {"QueryExecution"}),
    "StopQueryExecution": ({"QueryExecutionId"}, set()),
    "GetWorkGroup": ({"WorkGroup"}, {"WorkGroup"}),
    "GetQueryResults": ({"QueryExecutionId", "NextToken", "MaxResults"}, {"ResultSet"}),
}
_PROBE = """
import json, sys, boto3, botocore
from botocore.loaders import Loader
loader = Loader()
print(json.dumps({
    "botocore": botocore.__version__, "boto3": boto3.__version__,
    "model": loader.load_service_model("athena", "service-2"),
    "paginators": loader.load_service_model("athena", "paginators-1")["pagination"],
}))
"""


def _next(*argv: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = NEXT / "bin" / str(argv[0])
    if not command.exists():
        pytest.skip(f"{command} missing: `make test` (or `make .venv-botocore-next/.installed`)")
    return subprocess.run(
        [str(command), *map(str, argv[1:])],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    """The newer botocore's versions, Athena model and paginators, read by that botocore."""
    run = _next("python", "-c", _PROBE)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_venv_runs_the_newer_botocore_its_lock_pins(probe: dict[str, Any]) -> None:
    pins = locked_versions(NEXT_LOCK)
    assert (probe["botocore"], probe["boto3"]) == (pins["botocore"], pins["boto3"])
    assert Version(pins["botocore"]) >= Version(locked_versions()["botocore"])
    # what this module exists for; if Athena moves again, the stand-in must follow
    assert probe["model"]["metadata"]["protocol"] == "rest-json"


def test_this_list_is_every_athena_call_the_code_makes() -> None:
    source = ATHENA_MODULE.read_text()
    called = set(re.findall(r"\b(?:client|athena)\.(\w+)\(", source)) - {"get_paginator"}
    called |= set(re.findall(r'\b(?:client|athena)\.get_paginator\("(\w+)"\)', source))
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in ATHENA_CALLS}
    assert called == snake


def _tree(shapes: dict[str, Any], name: str, depth: int = 0) -> Any:
    """A shape as its members and types only (no docs, no wire locations), recursively."""
    shape = shapes[name]
    if depth > 6:
        return shape["type"]
    if shape["type"] == "structure":
        return {m: _tree(shapes, s["shape"], depth + 1) for m, s in shape["members"].items()}
    if shape["type"] == "list":
        return [_tree(shapes, shape["member"]["shape"], depth + 1)]
    if shape["type"] == "map":
        return {"<map>": _tree(shapes, shape["value"]["shape"], depth + 1)}
    return shape["type"]


def _missing(old: Any, new: Any, path: str = "") -> list[str]:
    """What the locked shape has that the newer one lacks or types differently."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [p for k, v in old.items() for p in _missing(v, new.get(k), f"{path}.{k}")]
    if isinstance(old, list) and isinstance(new, list):
        return _missing(old[0], new[0], path + "[]")
    return [] if old == new else [f"{path}: {old} -> {new}"]


def test_every_call_has_the_same_members_in_the_newer_model(probe: dict[str, Any]) -> None:
    locked = botocore.session.get_session().get_service_model("athena")
    old_shapes = Loader().load_service_model("athena", "service-2")["shapes"]
    new = probe["model"]
    for name, (sent, read) in ATHENA_CALLS.items():
        new_op, old_op = new["operations"][name], locked.operation_model(name)
        new_in = _tree(new["shapes"], new_op["input"]["shape"])
        new_out = _tree(new["shapes"], new_op["output"]["shape"])
        assert sent <= set(new_in) and read <= set(new_out), name
        old_in = _tree(old_shapes, old_op.input_shape.name)
        old_out = _tree(old_shapes, old_op.output_shape.name)
        assert _missing(old_in, new_in) == [] and _missing(old_out, new_out) == [], name
    old_pages = botocore.session.get_session().get_paginator_model("athena")
    assert old_pages.get_paginator("GetQueryResults") == probe["paginators"]["GetQueryResults"]


# ---- the commands, as processes, through the REST-JSON stand-in ----------------------


@pytest.fixture
def rest_json(aws_env: str, probe: dict[str, Any]) -> Iterator[tuple[dict[str, str], Translator]]:
    """The environment a user's shell would have: every AWS call to moto, Athena's through
    the stand-in (AWS_ENDPOINT_URL_ATHENA, botocore's per-service endpoint variable)."""
    with serve(probe["model"], aws_env) as (endpoint, translator):
        yield {**os.environ, "AWS_ENDPOINT_URL_ATHENA": endpoint}, translator


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENIEDWATCH_CONFIG", raising=False)


def _ops(translator: Translator) -> list[tuple[str, str | None, int]]:
    return [(s.method, s.operation, s.status) for s in translator.seen]


def test_create_table_speaks_rest_json(
    rest_json: tuple[dict[str, str], Translator], unique_name: Callable[[str], str]
) -> None:
    env, translator = rest_json
    bucket = unique_name("trail")
    put_trail(boto3.client("s3"), bucket)
    run = _next("deniedwatch", "athena", "create-table", "--bucket", bucket, "--prefix", "logs",
                "--database", "dw_next", "--table", "trail", env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    # moto runs no DDL, and with AWS_ENDPOINT_URL set the line says so (the DDL is checked below)
    assert "not created by the stand-in: dw_next.trail over s3://" in run.stdout
    assert "accounts (2): 111122223333, 444455556666" in run.stdout
    ops = _ops(translator)
    assert ("POST", "StartQueryExecution", 200) in ops
    assert ("GET", "GetQueryExecution", 200) in ops
    assert all(op is not None and status == 200 for _, op, status in ops), ops
    # the DDL crossed REST-JSON intact (backticks, quotes, newlines): moto holds it as sent
    ids = re.findall(r"query id: (\S+)", run.stdout)
    athena = boto3.client("athena")  # the locked botocore, moto's own protocol
    queries = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
    assert queries[0]["Query"] == "CREATE DATABASE IF NOT EXISTS `dw_next`"
    assert queries[1]["Query"].startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `dw_next`.`trail`")
    assert "'projection.account.values'='111122223333,444455556666'" in queries[1]["Query"]


def test_scan_engine_athena_gives_the_file_scans_findings(
    rest_json: tuple[dict[str, str], Translator], aws_env: str
) -> None:
    env, translator = rest_json
    queue_results(aws_env, athena_example_rows())
    athena = _next("deniedwatch", "scan", "--engine", "athena", "--since", "2026-11-01",
                   "--format", "jsonl", "--config", EXAMPLE_CONFIG, env=env)  # fmt: skip
    assert athena.returncode == 0, athena.stderr
    files = _next("deniedwatch", "scan", EXAMPLES, "--format", "jsonl", "--config", EXAMPLE_CONFIG)
    assert athena.stdout == files.stdout
    assert {json.loads(line)["event_id"] for line in athena.stdout.splitlines()} == CONFIG_IDS
    assert "athena: query " in athena.stderr
    ops = {op for _, op, status in _ops(translator) if status == 200}
    assert {"StartQueryExecution", "GetQueryExecution", "GetQueryResults"} <= ops
    assert any(s.path.endswith("/results") for s in translator.seen)


def test_an_athena_error_is_read_from_the_header_as_before(
    rest_json: tuple[dict[str, str], Translator], cli: Callable[..., Any]
) -> None:
    """moto refuses an unknown workgroup with InvalidRequestException; the stand-in sends
    the type only in x-amzn-ErrorType, where REST-JSON puts it. The locked botocore,
    straight to moto's JSON protocol, must give the same line."""
    env, translator = rest_json
    args = ("scan", "--engine", "athena", "--since", "7d", "--workgroup", "no-such-group")
    newer = _next("deniedwatch", *args, env=env)
    locked = cli(*args)
    line = (
        "error: AWS refused StartQueryExecution: InvalidRequestException: WorkGroup does not exist"
    )
    assert newer.returncode == locked.exit_code == 2
    assert newer.stderr.strip().splitlines()[-1] == line == locked.stderr.strip().splitlines()[-1]
    assert ("POST", "StartQueryExecution", 400) in _ops(translator)
    assert "Traceback" not in newer.stderr


_CANCEL = """
import sys, boto3
from deniedwatch.sources.athena import AthenaError, AthenaTarget, cancel, start_query, wait_for
athena = boto3.client("athena")
target = AthenaTarget(workgroup=sys.argv[1])
query = start_query(athena, "SELECT 1", target)
cancel(athena, query)
try:
    wait_for(athena, query, target, sleep=lambda _: None)
except AthenaError as exc:
    print(exc)
"""


def test_a_cancelled_query_names_its_workgroups_limit(
    rest_json: tuple[dict[str, str], Translator], unique_name: Callable[[str], str]
) -> None:
    """Stop, poll and the workgroup's limit, all over REST-JSON (no answer replaced)."""
    env, translator = rest_json
    group = unique_name("capped")
    boto3.client("athena").create_work_group(
        Name=group, Configuration={"BytesScannedCutoffPerQuery": 10 * 1024**3}
    )
    run = _next("python", "-c", _CANCEL, group, env=env)
    assert run.returncode == 0, run.stderr
    assert " cancelled: " in run.stdout
    assert f"workgroup {group!r}'s per-query bytes-scanned limit of 10.0 GB" in run.stdout
    assert [op for _, op, _ in _ops(translator)] == [
        "StartQueryExecution", "StopQueryExecution", "GetQueryExecution", "GetWorkGroup"
    ]  # fmt: skip
    assert translator.seen[-1].path == f"/workgroups/{group}"


def test_without_the_stand_in_moto_cannot_answer_it(aws_env: str) -> None:
    """Why the stand-in exists, and the no-traceback rule under the newer botocore: moto
    answers REST-JSON Athena with a 404 page, which is one line."""
    run = _next("deniedwatch", "scan", "--engine", "athena", "--since", "7d", env=dict(os.environ))
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: athena StartQueryExecution: HTTP 404 from http://127.0.0.1:")
    assert "Traceback" not in run.stderr and "<html" not in run.stderr.lower()
