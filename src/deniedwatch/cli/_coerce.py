"""Typer's coercion of plain option values, without pydantic when the value is plainly
right.

Typer (0.2x) turns every parameter value through a pydantic ``TypeAdapter``: importing
pydantic and building the adapters cost each ``deniedwatch`` run ~50-70 ms of CPU, a
third of ``scan``'s start-up (docs/performance.md). Every parameter of this CLI is a
plain ``str``, ``int`` (``min``/``max`` at most), ``bool``, ``Path`` or ``list[str]``. For those,
a value that is plainly right (a string; decimal digits within the bounds) is taken
here, exactly as typer would take it; anything else (a wrong value, another kind of
parameter) goes to typer's own coercion, so every error reads as typer says it.
``tests/test_cli_startup.py`` compares the two over generated values.

This reads typer's private modules, as the locked typer (0.29) has them. A user who
``pip install``s deniedwatch may get another typer: then ``install`` does nothing and
typer coerces every value itself (slower to start, never wrong). The shortcut is taken
only on the typer minor version it was compared against (``CHECKED``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer._coercion import RuntimeParam, build_runtime_param, resolve_type_descriptor
from typer._param_types import coerce_cli_path

CHECKED = "0.29"  # typer's minor version whose coercion tests/test_cli_startup.py compared
_PLAIN = (str, int, bool, Path, list[str])


@dataclass(frozen=True)
class PlainParam(RuntimeParam):
    """A str/int/bool/Path/list[str] parameter: plain values here, the rest to typer."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        kind, info = self.annotation, self.parameter_info
        if (kind is str and type(value) is str) or (kind is bool and type(value) is bool):
            return value
        if kind == list[str] and isinstance(value, list | tuple):
            if all(type(v) is str for v in value):
                return list(value)
        elif kind is int and not info.clamp and _digits(value):
            number = int(value)
            if (info.min is None or number >= info.min) and (
                info.max is None or number <= info.max
            ):
                return number
        elif kind is Path and type(value) is str and value and "\0" not in value:
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        return typers(self)._coerce_value(value, param=param, ctx=ctx)


def _digits(value: Any) -> bool:
    """An int, or decimal ASCII digits (what int() and pydantic read alike)."""
    if type(value) is int:
        return True
    return type(value) is str and 0 < len(value) < 19 and value.isascii() and value.isdigit()


def typers(plain: PlainParam) -> RuntimeParam:
    """Typer's own coercion of the same parameter (pydantic)."""
    return build_runtime_param(resolve_type_descriptor(plain.annotation, plain.parameter_info))


def install(params: list[Any]) -> None:
    """Give each plain parameter a PlainParam (typer asks ``_runtime_param`` first)."""
    if not applies(typer.__version__):
        return
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if desc is None or getattr(param, "_runtime_param", 0) is not None:
            continue
        info = desc.parameter_info
        plain = desc.annotation in _PLAIN and desc.file_annotation is None
        if plain and info.parser is None and info.path_type is None:
            param._runtime_param = PlainParam(info, desc.annotation)


def applies(version: str) -> bool:
    """Is the shortcut for this typer (the minor version it was checked against)?"""
    return version == CHECKED or version.startswith(CHECKED + ".")
