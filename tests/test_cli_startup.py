"""`deniedwatch scan` starts without what it does not use (issue 25, docs/performance.md):
a run imports only its own command's module (``deniedwatch.cli.COMMANDS``), and a quiet
scan never imports rich. What is checked is which modules load, never a time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("args", [["--help"], ["no-such-command"]])
def test_help_and_a_typo_still_know_every_command(args: list[str]) -> None:
    loaded = _loaded(*args)
    assert {f"deniedwatch.cli.{m}" for m in cli.COMMANDS.values()} <= loaded
