"""The layers of docs/architecture.md are a build rule: import-linter's contracts in
pyproject.toml pass on the tree, and a deliberately wrong import fails them with the chain."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The package and its contracts, copied so a test can break one import."""
    shutil.copytree(ROOT / "src" / "deniedwatch", tmp_path / "src" / "deniedwatch")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree_copy: Path) -> None:
    out = lint(tree_copy, tree_copy / "src")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "chain"),
    [
        # a source reaching up into the scan runner (what sources/athena.py used to do)
        (
            "sources/athena.py",
            "import deniedwatch.scan",
            "deniedwatch.sources.athena -> deniedwatch.scan",
        ),
        # alerts importing the settings (what the pipeline factory used to do from alerts/)
        (
            "alerts/deliver.py",
            "import deniedwatch.config",
            "deniedwatch.alerts.deliver -> deniedwatch.config",
        ),
        # the core importing an AWS SDK at module level
        ("finding.py", "import boto3", "deniedwatch.finding -> boto3"),
        # one channel importing another
        (
            "alerts/channels/teams.py",
            "import deniedwatch.alerts.channels.slack",
            "teams -> deniedwatch.alerts.channels.slack",
        ),
        # the function's import path pulling in the terminal UI
        (
            "lambda_handler.py",
            "import deniedwatch.termview",
            "deniedwatch.lambda_handler -> deniedwatch.termview",
        ),
    ],
)
def test_a_wrong_import_breaks_the_build_and_names_the_chain(
    tree_copy: Path, module: str, wrong_import: str, chain: str
) -> None:
    path = tree_copy / "src" / "deniedwatch" / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    out = lint(tree_copy, tree_copy / "src")
    assert out.returncode != 0
    assert "BROKEN" in out.stdout
    assert chain in " ".join(out.stdout.split()), out.stdout


def test_a_new_top_level_module_must_be_given_a_layer(tree_copy: Path) -> None:
    (tree_copy / "src" / "deniedwatch" / "stray.py").write_text('"""Nobody placed me."""\n')
    out = lint(tree_copy, tree_copy / "src")
    assert out.returncode != 0
    assert "deniedwatch.stray" in out.stdout


def test_no_source_file_passes_450_lines() -> None:
    """A file past ~450 lines holds more than one idea: split it by the ideas a reader
    looks for (docs/architecture.md). The template is data, not code."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "src").rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert long == {}


def test_architecture_names_every_contract_and_every_lazy_import() -> None:
    """docs/architecture.md is where a reader learns the rules: each contract by its id,
    and each place the function may import an SDK lazily."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    contracts = config["tool"]["importlinter"]["contracts"]
    for contract in contracts:
        assert contract["id"] in doc, contract["id"]
        for line in contract.get("ignore_imports", []):
            module = line.split("->")[0].strip().removeprefix("deniedwatch.")
            path = module.replace(".", "/")
            assert f"`{path}.py`" in doc or f"`{module}`" in doc, line
