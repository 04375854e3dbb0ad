"""Build the Lambda zip from what is installed: deterministic, pure Python, no network.

Same inputs -> same bytes (fixed timestamps and permissions, sorted entries), so the
zip's SHA-256 names its S3 key and an unchanged deploy changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

import deniedwatch

# Pure-Python distributions the function needs beyond the Lambda runtime (which has boto3),
# each with the top-level packages taken from it (slack_sdk also ships the legacy `slack`).
RUNTIME_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {"slack_sdk": ("slack_sdk",)}
# Sub-packages of deniedwatch that only the CLI uses (they import typer and rich).
# htmlreport: the scan's page and its ~830 KB of chart library, never needed in the Lambda;
# report_ocsf.py: `scan -f ocsf` (py-ocsf-models and pydantic, which the zip does not ship)
CLI_ONLY: tuple[str, ...] = ("cli", "deploy", "htmlreport", "report_ocsf.py")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch
# The function's runtime (template.yaml: python3.12). Byte code compiled by this version
# ships in the zip, because Lambda's code folder is read-only: without it every cold
# start compiles deniedwatch and slack_sdk again (measured: 194 ms vs 101 ms to import).
LAMBDA_PYTHON = (3, 12)
LAMBDA_TASK_ROOT = "/var/task"
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


class PackageError(RuntimeError):
    """The zip cannot be built from this installation (missing or native dependency)."""


@dataclass(frozen=True)
class LambdaZip:
    data: bytes
    names: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


def _package_files() -> Iterator[tuple[str, Path]]:
    """(archive name, file) for the deniedwatch package minus the CLI-only parts."""
    root = Path(deniedwatch.__file__).parent
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix == ".pyc":
            continue
        if rel.parts[0] in CLI_ONLY:
            continue
        yield str(PurePosixPath("deniedwatch", *rel.parts)), path


def _distribution_files(name: str, packages: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """(archive name, file) for a distribution's ``packages`` plus its METADATA and licence."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise PackageError(f"{name} is not installed; `pip install {name}` first") from None
    for entry in dist.files or ():
        parts = PurePosixPath(str(entry)).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or entry.suffix == ".pyc":
            continue
        if entry.suffix in _NATIVE_SUFFIXES:
            raise PackageError(
                f"{name} contains native code ({entry}); the arm64 Lambda zip is built "
                "from pure-Python packages only"
            )
        if parts[0].endswith(".dist-info"):
            if not (entry.name == "METADATA" or "licen" in str(entry).lower()):
                continue
        elif parts[0] not in packages:
            continue
        path = Path(str(entry.locate()))
        if path.is_file():
            yield str(PurePosixPath(*parts)), path


def settings_arcname() -> str:
    """Where the handler looks for its bundled settings file (config.py owns the answer)."""
    from deniedwatch.config import BUNDLED_SETTINGS_ARCNAME

    return BUNDLED_SETTINGS_ARCNAME


def _zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o100644 << 16  # regular file, rw-r--r--
            info.create_system = 3  # Unix, whatever builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


ENV_RUNTIME_PYTHON = "DENIEDWATCH_LAMBDA_PYTHON"


def runtime_python() -> str | None:
    """A working interpreter of the Lambda's Python version, if this machine has one:
    $DENIEDWATCH_LAMBDA_PYTHON, this one, python3.12 on PATH, or a pyenv install."""
    version = "{}.{}".format(*LAMBDA_PYTHON)
    candidates = [os.environ.get(ENV_RUNTIME_PYTHON)]
    if sys.version_info[:2] == LAMBDA_PYTHON:
        candidates.append(sys.executable)
    candidates.append(shutil.which(f"python{version}"))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{version}*/bin/python{version}"))]
    check = f"import sys; sys.exit(sys.version_info[:2] != {LAMBDA_PYTHON!r})"
    for candidate in filter(None, candidates):
        try:
            ok = subprocess.run([candidate, "-c", check], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok.returncode == 0:
            return candidate
    return None


def compiled(sources: dict[str, bytes], python: str) -> dict[str, bytes]:
    """``__pycache__/*.pyc`` entries for the .py files, compiled by ``python``.

    Unchecked-hash pycs: loaded without looking at the source's timestamp (which a zip
    does not keep faithfully) and identical for identical sources, so the zip stays
    deterministic for a given interpreter version.
    """
    with tempfile.TemporaryDirectory(prefix="deniedwatch-pyc-") as tmp:
        root = Path(tmp)
        for name, data in sources.items():
            if name.endswith(".py"):
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
        try:
            subprocess.run(
                [python, "-m", "compileall", "-q", "-j", "1", "--invalidation-mode",
                 "unchecked-hash", "-s", str(root), "-p", LAMBDA_TASK_ROOT, str(root)],
                check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
        except (OSError, subprocess.CalledProcessError):
            return {}  # no byte code: the function still works, its cold start is slower
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("__pycache__/*.pyc")
        }


def build_zip(
    settings_text: str,
    distributions: dict[str, tuple[str, ...]] = RUNTIME_DISTRIBUTIONS,
    python: str | None = None,
) -> LambdaZip:
    """The function zip: deniedwatch (minus CLI-only parts), the settings, the runtime deps,
    and their byte code when an interpreter of the runtime's version is at hand
    (``python``, default: ``runtime_python()``)."""
    files: dict[str, Path] = dict(_package_files())
    for dist, packages in distributions.items():
        for name, path in _distribution_files(dist, packages):
            files.setdefault(name, path)
    entries = {name: path.read_bytes() for name, path in files.items()}
    entries[settings_arcname()] = settings_text.encode("utf-8")
    if python := python or runtime_python():
        entries.update(compiled(entries, python))
    data = _zip(entries.items())
    return LambdaZip(data=data, names=tuple(sorted(entries)))
