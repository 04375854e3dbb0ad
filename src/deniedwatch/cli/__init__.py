"""The ``deniedwatch`` command: wiring only. Each sub-command lives in its own module."""

from __future__ import annotations

from deniedwatch.cli._app import app, main
from deniedwatch.cli import scan_cmd  # noqa: F401  (registers `scan`)

__all__ = ["app", "main"]
