"""The ``deniedwatch`` command: wiring only. Each sub-command lives in its own module."""

from __future__ import annotations

from deniedwatch.cli import (
    alert_cmd,  # noqa: F401  (registers `test-alert`, `routes`)
    deploy_cmd,  # noqa: F401  (registers `deploy`)
    mutes_cmd,  # noqa: F401  (registers `mutes list`, `mutes revoke`)
    scan_cmd,  # noqa: F401  (registers `scan`)
    stack_cmds,  # noqa: F401  (registers `destroy`, `set-secret`, `status`, `template`)
)
from deniedwatch.cli._app import app, main

__all__ = ["app", "main"]
