"""The ``deniedwatch`` command: wiring only. Each sub-command lives in its own module.

A run imports only the module of the command it runs (``COMMANDS``): importing every
command (deploy's stack prompts, the settings' destinations, test-alert's pipeline)
cost ``scan`` more CPU than reading 100,000 events (docs/performance.md). Help, an
unknown command, and ``from deniedwatch.cli import app`` register every command.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

# command name -> the module that registers it (tests/test_cli_startup.py keeps it whole)
COMMANDS = {
    "test-alert": "alert_cmd",
    "routes": "alert_cmd",
    "deploy": "deploy_cmd",
    "mutes": "mutes_cmd",
    "scan": "scan_cmd",
    "athena": "athena_cmd",
    "destroy": "stack_cmds",
    "set-secret": "stack_cmds",
    "set-webhook": "stack_cmds",
    "status": "stack_cmds",
    "template": "stack_cmds",
}
# the order `deniedwatch --help` lists them in
_MODULES = ("alert_cmd", "deploy_cmd", "mutes_cmd", "scan_cmd", "stack_cmds")


def register_all() -> Any:
    """Every command registered on the app; the app."""
    for name in _MODULES:
        import_module(f"deniedwatch.cli.{name}")
    from deniedwatch.cli._app import app

    return app


def main() -> None:
    """Console-script entry: register the command asked for (all of them when it is not
    one: help, a typo), then run the app (``_app.main``: errors as one line)."""
    asked = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    module = COMMANDS.get(asked or "")
    if module is None:
        register_all()
    else:
        import_module(f"deniedwatch.cli.{module}")
    from deniedwatch.cli import _app

    _app.main()


def __getattr__(name: str) -> Any:
    if name == "app":  # `from deniedwatch.cli import app`: the whole command
        return register_all()
    raise AttributeError(name)


__all__ = ["COMMANDS", "app", "main", "register_all"]
