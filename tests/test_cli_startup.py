"""`deniedwatch scan` starts without what it does not use (issue 25, docs/performance.md):
a run imports only its own command's module (``deniedwatch.cli.COMMANDS``), a quiet scan
never imports rich, and plain option values skip typer's pydantic (cli/_coerce.py) with
the very outcome typer's own coercion gives. What is checked is which modules load and
what values come out, never a time."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deniedwatch import cli
from dwtest import EXAMPLE_CONFIG, EXAMPLES

# Runs the CLI as the console script does, then says which modules it loaded.
_PROBE = """
import json, sys
sys.argv = ["deniedwatch", *json.loads(sys.argv[1])]
from deniedwatch.cli import main
try:
    main()
except SystemExit:
    pass
finally:
    sys.stderr.write("\\nLOADED " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _loaded(*args: object) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps([str(a) for a in args])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = done.stderr.rsplit("LOADED ", 1)[-1]
    return set(json.loads(line))


def test_every_command_is_in_the_table_with_the_module_that_registers_it() -> None:
    app = cli.register_all()
    found = {c.name or c.callback.__name__: c.callback.__module__ for c in app.registered_commands}
    found |= {g.name: g.typer_instance.__module__ for g in app.registered_groups}
    # a group's Typer() is made in its command module: find that module by its attribute
    for name, module in list(found.items()):
        if module.startswith("typer"):
            group = next(g for g in app.registered_groups if g.name == name)
            found[name] = next(
                m.__name__
                for m in list(sys.modules.values())
                if m.__name__.startswith("deniedwatch.cli.")
                and group.typer_instance in vars(m).values()
            )
    expected = {name: f"deniedwatch.cli.{module}" for name, module in cli.COMMANDS.items()}
    assert {n.replace("_", "-"): m for n, m in found.items()} == expected


def test_a_quiet_scan_loads_only_the_scan_command_and_no_rich(tmp_path) -> None:
    out = tmp_path / "out.jsonl"
    loaded = _loaded("scan", EXAMPLES, "--config", EXAMPLE_CONFIG, "-q", "-o", out)
    assert out.read_text().count("\n") > 5  # it did scan
    others = {f"deniedwatch.cli.{m}" for m in set(cli.COMMANDS.values()) - {"scan_cmd"}}
    assert loaded & others == {"deniedwatch.cli.athena_cmd"}  # scan's --engine athena
    assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}
    assert "pydantic" not in loaded


@pytest.mark.parametrize("args", [["--help"], ["no-such-command"]])
def test_help_and_a_typo_still_know_every_command(args: list[str]) -> None:
    loaded = _loaded(*args)
    assert {f"deniedwatch.cli.{m}" for m in cli.COMMANDS.values()} <= loaded


# ---- typer's coercion without pydantic (cli/_coerce.py) ------------------------------


@functools.cache
def _scan_params() -> tuple[object, list[tuple[object, object, object]]]:
    """scan's context and, per parameter, (the parameter, its PlainParam, typer's own)."""
    from typer.main import get_command

    from deniedwatch.cli._coerce import PlainParam, typers

    group = get_command(cli.register_all())
    ctx = group.make_context("deniedwatch", ["scan", "--help"], resilient_parsing=True)
    command = group.get_command(ctx, "scan")
    params = command.get_params(ctx)
    plain = [p for p in params if isinstance(p._runtime_param, PlainParam)]
    assert len(plain) == len(params)  # every scan parameter takes the plain path
    scan_ctx = command.make_context("scan", [], parent=ctx, resilient_parsing=True)
    return scan_ctx, [(p, p._runtime_param, typers(p._runtime_param)) for p in plain]


def _outcome(runtime: object, value: object, param: object, ctx: object) -> object:
    try:
        got = runtime._coerce_value(value, param=param, ctx=ctx)  # type: ignore[attr-defined]
    except Exception as exc:  # the error is what is compared
        return ("error", type(exc).__name__, str(exc))
    return ("value", type(got).__name__, got)


_VALUES = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\A[+-]?[0-9_ ]{0,22}\Z"),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.lists(st.text(max_size=6), max_size=3).map(tuple),
    st.just("/"),
    st.just("."),
    st.just("tests"),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_VALUES)
def test_plain_coercion_is_typers_own(value: object) -> None:
    """Every plain parameter of `scan` (str, int with bounds, bool, Path, list[str]) gives,
    for any value, what typer's pydantic coercion gives: the same value or the same error."""
    ctx, params = _scan_params()
    for param, mine, typers in params:
        assert _outcome(mine, value, param, ctx) == _outcome(typers, value, param, ctx)


def test_the_shortcut_is_taken_only_on_the_typer_it_was_checked_against() -> None:
    from deniedwatch.cli._coerce import CHECKED, applies

    assert applies(typer.__version__)  # the locked typer: the comparison above ran on it
    assert applies(CHECKED) and applies(CHECKED + ".9")
    assert not applies("0.30.0") and not applies("0.12.5") and not applies(CHECKED + "1.0")


@pytest.mark.parametrize(
    "other_typer",
    [
        "sys.modules['deniedwatch.cli._coerce'] = None",  # its private modules moved
        "import typer; typer.__version__ = '0.30.0'",  # a minor version not compared
    ],
    ids=["private-coercion-gone", "other-minor-version"],
)
def test_another_typer_still_runs_the_cli_through_its_own_coercion(other_typer: str) -> None:
    """Simulated: pip may install deniedwatch beside another typer. The CLI then starts,
    coerces through typer itself, and a bad value is still typer's one-line error."""
    env = {**os.environ, "NO_COLOR": "1"}

    def run(*args: str, before: str = other_typer) -> subprocess.CompletedProcess[str]:
        code = f"import sys; {before}\nfrom deniedwatch.cli import main\n"
        code += "sys.argv = ['deniedwatch', *sys.argv[1:]]\nmain()\n"
        argv = [sys.executable, "-c", code, *args]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)

    scan = ("scan", str(EXAMPLES), "--jobs", "1", "-q", "-f", "jsonl")
    ok, usual = run(*scan), run(*scan, before="pass")
    assert "Traceback" not in ok.stderr, ok.stderr
    assert (ok.returncode, ok.stdout) == (usual.returncode, usual.stdout) and ok.stdout
    bad = run("scan", str(EXAMPLES), "--jobs", "many")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert "Invalid value for '--jobs'" in bad.stderr
    assert bad.stderr == run("scan", str(EXAMPLES), "--jobs", "many", before="pass").stderr
