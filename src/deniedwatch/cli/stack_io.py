"""What every stack command shares: its options, one clear line for every known error,
the settings, the AWS session, the region, the progress display and the prompts.

Commands call these through the module (``stack_io.session(...)``), so a test can swap the
session in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from deniedwatch.cli._app import err, fail, friendly, load_cli_settings, no_region
from deniedwatch.config import Settings

EXIT_UNHEALTHY = 1  # `status` found something to look at

ConfigOpt = Annotated[
    Path | None,
    typer.Option(help="Settings file (TOML). Default: $DENIEDWATCH_CONFIG or ./deniedwatch.toml."),
]
StackOpt = Annotated[
    str | None,
    typer.Option(
        envvar="DENIEDWATCH_STACK_NAME",
        help="Stack name. Default: [deploy] stack_name or deniedwatch.",
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        help="AWS region. Default: [deploy] region, then AWS_DEFAULT_REGION / your profile's."
    ),
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Ask nothing; fail if something is missing.")
]
LiveSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--live-source",
        envvar="DENIEDWATCH_LIVE_SOURCE",
        help="How denials reach the function: cloudwatch-logs (durable, minutes), "
        "eventbridge (EventBridge -> SQS: seconds, best effort, this region only) or both "
        "(EventBridge first, CloudWatch Logs as the backstop, one alert per event). "
        "Default: [deploy] live_source, else cloudwatch-logs. See docs/live-sources.md.",
        show_default=False,
    ),
]


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Known problems become one red line and exit code 2, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    from deniedwatch.deploy.package import PackageError
    from deniedwatch.deploy.plan import PlanError
    from deniedwatch.deploy.stack import StackError

    try:
        yield
    except (PlanError, StackError, PackageError) as exc:
        fail(escape(str(exc)))
    except (BotoCoreError, ClientError, OSError) as exc:
        fail(escape(friendly(exc) or f"{type(exc).__name__}: {exc}"))
    except Exception as exc:
        message = friendly(exc)
        if message is None:
            raise
        fail(escape(message))


def settings_of(config: Path | None) -> Settings:
    with clear_errors():
        return load_cli_settings(config)


def session(region: str | None) -> Any:
    """A boto3 session: AWS_PROFILE, the credential chain and AWS_ENDPOINT_URL apply as usual."""
    from deniedwatch import awsclient

    return awsclient.session(region)


def target(config: Path | None, stack: str | None, region: str | None) -> tuple[str, str]:
    """The stack name and region for status / destroy / set-webhook (no prompts)."""
    settings = settings_of(config)
    return stack or settings.deploy.stack_name, region_of(region, settings, yes=True)


def region_of(flag: str | None, settings: Settings, yes: bool) -> str:
    """The flag's region, else the settings', else asked (default: the profile's)."""
    from deniedwatch.deploy.plan import check_region, problem_of

    region = flag or settings.deploy.region
    if region is None and not yes:
        default = session(None).region_name or "us-east-1"
        region = ask("AWS region", default, yes=yes, check=problem_of(check_region))
    region = region or session(None).region_name
    if not region:
        fail(no_region("set [deploy] region in the settings"))
    return region


class RichObserver:
    """Stack events as coloured lines above a progress bar, on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def started(self, action: str, total_changes: int) -> None:
        verb = {"create": "Creating", "update": "Updating", "delete": "Deleting"}[action]
        self.task = self.progress.add_task(f"{verb} stack", total=total_changes or None)

    def event(self, event: Any) -> None:
        colour = "red" if "FAILED" in event.status or "ROLLBACK" in event.status else "green"
        if event.status.endswith("IN_PROGRESS"):
            colour = "yellow"
        when = event.timestamp.strftime("%H:%M:%S") if event.timestamp else "--:--:--"
        reason = f"  [dim]{escape(event.reason)}[/]" if event.reason else ""
        self.progress.console.print(
            f"{when} [{colour}]{event.status:<20}[/] {escape(event.logical_id)} "
            f"[dim]({event.resource_type})[/]{reason}"
        )
        done = event.status.endswith("_COMPLETE") and not event.is_stack
        if self.task is not None and done:
            self.progress.advance(self.task)


@contextlib.contextmanager
def progress() -> Iterator[RichObserver]:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err.real(), transient=True) as progress:
        yield RichObserver(progress)


def has_terminal() -> bool:
    """Can a hidden prompt read from a terminal? (getpass without one echoes, or fails.)"""
    import sys

    return sys.stdin.isatty()


def ask(
    label: str,
    current: str | None,
    *,
    yes: bool,
    hide: bool = False,
    check: Callable[[str], str | None] | None = None,
    instead: str | None = None,
) -> str | None:
    """Prompt like an installer: Enter keeps ``current``; blank means none. An answer
    ``check`` finds a problem with is said, and asked again (nothing typed is lost). A
    hidden prompt without a terminal fails with one line naming ``instead`` (the env var
    or flag that gives the value)."""
    if yes:
        return current
    if hide and not has_terminal():
        where = instead or "the flag or environment variable for it"
        fail(f"no terminal to ask for the {label} (hidden input): {where}")
    while True:
        answer = typer.prompt(
            label,
            default="" if hide else (current or ""),
            show_default=bool(current) and not hide,
            hide_input=hide,
        )
        value = answer.strip() or (current if hide else None)
        problem = check(value) if check and value else None
        if problem is None:
            return value
        err.print(f"  [yellow]{escape(problem)}[/]: try again")


def settings_text(settings: Settings) -> str:
    if settings.source is None:
        return "# deniedwatch settings: built-in defaults (no settings file was given)\n"
    return settings.source.read_text(encoding="utf-8")


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)
