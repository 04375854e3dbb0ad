"""Figures the reliability suites measure, collected for the runner's table.

A suite calls ``record`` once per check with what it tried, how many times and
what held, plus ``name: value`` figures. Outside the runner (plain ``make test``)
the env var is unset and ``record`` only returns; under the runner each call
appends one JSON line to the file it names (safe across xdist workers: one
short ``write`` per line in append mode).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

ENV_FIGURES = "DENIEDWATCH_FIGURES"

# Full sizes run in `make reliability` only; `make test` runs the small ones.
SMALL = "small"
FULL = "full"


def sizes(small: Any, full: Any) -> list[Any]:
    """``@pytest.mark.parametrize("size", sizes(...))``: the full size is marked slow.

    A tuple stands for several parameters (``parametrize(("a", "b"), sizes(...))``).
    """

    def values(v: Any) -> tuple[Any, ...]:
        return v if isinstance(v, tuple) else (v,)

    return [
        pytest.param(*values(small), id=SMALL),
        pytest.param(*values(full), id=FULL, marks=pytest.mark.slow),
    ]


def record(suite: str, check: str, *, tried: str, times: int, held: str, **figures: Any) -> None:
    path = os.environ.get(ENV_FIGURES)
    if not path:
        return
    line = json.dumps(
        {
            "suite": suite,
            "check": check,
            "tried": tried,
            "times": times,
            "held": held,
            "figures": figures,
        },
        default=str,
    )
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
