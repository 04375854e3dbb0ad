"""`make reliability`: run every reliability suite at full size, then print the table.

Runs pytest in-process on tests/reliability (full sizes, the small ones deselected)
plus the template checks of tests/test_template.py (cfn-lint, checkov, no wildcard
action: called, not copied), with DENIEDWATCH_FIGURES pointing at a scratch file the
suites append their figures to. Prints one row per check (what was tried, how many
times, what held, pass/fail) and then every figure as a ``name: value`` line.
Exit status: pytest's.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
INFRA = [
    "test_cfn_lint_reports_no_errors_or_warnings",
    "test_cfn_lint_is_clean_for_the_template_rendered_from_custom_settings",
    "test_checkov_passes_except_the_skips_listed_with_reasons_in_the_template",
    "test_iam_role_policies_have_no_wildcard_action",
    "test_only_wildcard_action_anywhere_is_the_bucket_tls_deny",
    "test_function_role_grants_exactly_what_permissions_declares",
    "test_webhook_has_no_way_into_the_template",
]


class Outcomes:
    """A pytest plugin keeping each test's outcome."""

    def __init__(self) -> None:
        self.results: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":  # setup errors and skips too
            self.results.setdefault(report.nodeid, report.outcome)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.jsonl"
        os.environ["DENIEDWATCH_FIGURES"] = str(figures)
        outcomes = Outcomes()
        infra = [f"{TESTS / 'test_template.py'}::{name}" for name in INFRA]
        code = pytest.main(
            [
                "-q",
                "-p",
                "no:cacheprovider",
                "-k",
                "not small",
                str(HERE),
                *infra,
                *argv,
            ],
            plugins=[outcomes],
        )
        rows = [json.loads(x) for x in figures.read_text().splitlines()] if figures.exists() else []
    print_table(rows, outcomes.results)
    return int(code)


def print_table(rows: list[dict[str, Any]], results: dict[str, str]) -> None:
    infra = [(n, o) for n, o in results.items() if "test_template.py" in n]
    failed = [n for n, o in results.items() if o != "passed"]
    table = [("suite", "check", "tried", "times", "held")]
    table += [(r["suite"], r["check"], r["tried"], str(r["times"]), r["held"]) for r in rows]
    table += [
        (
            "infrastructure",
            n.split("::")[-1].removeprefix("test_").replace("_", " "),
            "tests/test_template.py",
            "1",
            o,
        )
        for n, o in infra
    ]
    widths = [min(max(len(row[i]) for row in table), 70) for i in range(5)]
    print()
    for i, row in enumerate(table):
        print("  ".join(cell[:70].ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for r in rows:
        prefix = f"{r['suite']}: {r['check']}"
        for name, value in r["figures"].items():
            print(f"{prefix}: {name}: {value}")
    print(f"tests passed: {sum(o == 'passed' for o in results.values())}")
    print(f"tests failed: {len(failed)}" + (f" ({', '.join(failed)})" if failed else ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
