"""The lock (requirements.lock, written by `make lock`) agrees with pyproject.toml, and what
ships is what it pins: a fresh clone tests the same releases as every other machine."""

from __future__ import annotations

import io
import tomllib
import zipfile

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deniedwatch.deploy.package import build_zip
from dwtest import LOCK, REPO, locked_versions

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in reqs]


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    """Edit a range in pyproject.toml and forget `make lock`: this fails, naming it."""
    pins = locked_versions()
    wrong = {
        str(req): pins.get(canonicalize_name(req.name))
        for req in _declared()
        if not req.specifier.contains(pins.get(canonicalize_name(req.name), "0"), prereleases=True)
    }
    assert wrong == {}, "run `make lock`: the lock is outside these ranges"


def test_every_requirement_is_an_exact_pin_with_hashes() -> None:
    """What `--require-hashes` installs: one release per requirement, each wheel's hash."""
    tools = REPO / "tools"
    locks = ("requirements-checkov.lock", "requirements-uv.lock", "requirements-botocore-next.lock")
    for lock in (LOCK, *(tools / name for name in locks)):
        lines = lock.read_text().splitlines()
        reqs = [(i, line) for i, line in enumerate(lines) if line and line[0] not in " #"]
        assert reqs, lock
        for i, line in reqs:
            spec = Requirement(line.rstrip(" \\")).specifier
            assert len(spec) == 1 and next(iter(spec)).operator == "==", f"{lock.name}: {line}"
            assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{lock.name}: {line}"


def test_the_lambda_zip_carries_the_locked_slack_sdk() -> None:
    """`deploy` builds the zip from what is installed, and `make` installs the lock."""
    built = build_zip("")
    with zipfile.ZipFile(io.BytesIO(built.data)) as zf:
        meta = next(
            n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and "slack_sdk" in n
        )
        version = next(
            line.split(": ", 1)[1]
            for line in zf.read(meta).decode().splitlines()
            if line.startswith("Version: ")
        )
    assert version == locked_versions()["slack-sdk"]


def test_what_is_installed_is_exactly_what_the_lock_pins() -> None:
    """A fresh clone's `make test` on an index with newer releases than the lock (this
    machine's has them: tools/requirements-botocore-next.lock, resolved from the same index,
    pins a newer botocore than requirements.lock's) installs the lock's releases and nothing
    else: `uv pip sync --require-hashes` does not pick up what the index has since. Besides
    the lock: the package itself (editable) and the venv's own pip."""
    from importlib.metadata import distributions

    pins = locked_versions()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    extra = installed.keys() - pins.keys() - {"deniedwatch", "pip"}
    wrong = {n: (v, pins[n]) for n, v in installed.items() if n in pins and pins[n] != v}
    missing = pins.keys() - installed.keys()
    assert (extra, wrong, missing) == (set(), {}, set())
