"""`--output`: never overwrite an input, never follow a planted symlink, never a half file.

The report is written to a temporary file in the same folder and renamed over the
target only once complete (a rename within a folder is atomic on POSIX), so a scan
that fails or is interrupted leaves the old file, or none, never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO


class OutputRefused(ValueError):
    """The output path is unsafe to write; the message says why and what to do."""


# What a file's extension says it holds (``-o report.html`` writes HTML, not JSON Lines).
EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def format_for(output: Path | None, given: str | None, tty: bool) -> str:
    """--format, else what the output file's extension says, else table on a terminal and
    jsonl otherwise. OutputRefused when --format and the extension disagree."""
    implied = EXTENSIONS.get(output.suffix.lower()) if output is not None else None
    # OCSF is written as JSON lines too: a .jsonl name fits it
    if given and implied and given != implied and (given, implied) != ("ocsf", "jsonl"):
        raise OutputRefused(
            f"--output {output} ends in {output.suffix} ({implied}) but --format is {given}: "
            "make them agree, or leave out --format"
        )
    return given or implied or ("table" if output is None and tty else "jsonl")


def target(path: Path, *, force: bool) -> Path:
    """The file to write for ``--output path``: the path itself, or with ``force`` the
    target of a symlink. A symlink without ``force`` is refused (someone who can write
    the folder could point it at a file of yours)."""
    if path.is_symlink():
        if not force:
            raise OutputRefused(
                f"--output {path} is a symbolic link (to {os.readlink(path)}): not followed; "
                "pass --force to write to its target"
            )
        path = path.resolve()
    if path.is_dir():
        raise OutputRefused(f"--output {path} is a folder")
    return path


def refuse_inputs(out: Path, inputs: Iterable[str]) -> None:
    """OutputRefused when ``out`` is the same file as one of the inputs (by device and
    inode, so another spelling, a symlink or a hard link is caught too)."""
    try:
        mine = out.stat()
    except OSError:
        return  # it does not exist yet, so it is no input
    for location in inputs:
        try:
            theirs = os.stat(location)
        except OSError:
            continue
        if (theirs.st_dev, theirs.st_ino) == (mine.st_dev, mine.st_ino):
            raise OutputRefused(
                f"--output {out} is one of the inputs ({location}): "
                "refusing to overwrite a log file with the report"
            )


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only when the block ends without error.

    A path that exists and is not a regular file (/dev/null, a named pipe) is written
    in place: a rename would replace the device or pipe itself.
    """
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8", newline="") as out:
            yield out
        return
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, _mode_for(path))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, else what a plain open() would give (mkstemp's
    own 0600 would surprise whoever shares the report)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
