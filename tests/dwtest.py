"""Plain helpers shared by test modules (import these from here, not from conftest:
with more than one conftest.py in the tree, ``import conftest`` may get another one)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "cloudtrail"
EXAMPLE_CONFIG = REPO / "examples" / "deniedwatch.toml"


@dataclass(frozen=True)
class CliResult:
    """What the ``cli`` fixture returns for one ``deniedwatch …`` run."""

    exit_code: int
    stdout: str
    stderr: str


# The JSON-lines schema, copied by hand from the README ("The Finding"), in that order.
DESIGN_FIELDS = [
    "event_id",
    "event_time",
    "account_id",
    "region",
    "principal_type",
    "principal_arn",
    "principal_name",
    "source_ip",
    "user_agent",
    "service",
    "event_name",
    "action",
    "error_code",
    "error_message",
    "denial_policy",
    "denial_policy_arn",
    "denial_explicit",
    "vpc_endpoint_id",
    "hint",
    "resource",
    "resource_id",
    "action_known",
    "console_url",
    "console_note",
]


LOCK = REPO / "requirements.lock"


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """{canonical name: version} that the lock pins for this interpreter (its markers
    evaluated here), so a test can tell the pinned release from whatever is installed."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        if not line or line[0] in " #-":
            continue
        req = Requirement(line.rstrip(" \\"))
        if req.marker is None or req.marker.evaluate():
            pins[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    return pins


def run_clean(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would (no stdin) and fail the test if it printed a
    traceback or an HTML page, whatever its exit code."""
    done = subprocess.run(
        list(argv),
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "<!doctype" not in out.lower(), out
    return done
