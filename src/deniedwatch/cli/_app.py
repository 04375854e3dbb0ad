"""The Typer app, the stderr console, and the one place errors become messages."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

try:  # typer's private coercion, as the locked typer has it (cli/_coerce.py)
    from deniedwatch.cli import _coerce
except ImportError:  # another typer: it coerces every value itself
    _coerce = None  # type: ignore[assignment]


class _Group(TyperGroup):
    """Help that never loses a word: plain text (Rich markup ate ``[[destinations]]``
    and narrow Rich columns cut option and variable names), wrapped to the terminal, and
    an option's value named after the option (``--stack-name STACK_NAME``) instead of a
    type tag (``<str>``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if _coerce is not None:  # the root's own options (--version, --help)
            _coerce.install(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and _coerce is not None:
            _coerce.install(command.get_params(ctx))  # plain values without pydantic
        for param in command.params if command is not None else ():
            # typer vendors click (typer._click): options are known by their kind
            kind = getattr(param, "param_type_name", "")
            if param.metavar is not None or getattr(param, "is_flag", False):
                continue
            if kind == "argument":  # its name already says it: no type after it
                param.display_type_rich = lambda ctx: None
            elif kind == "option":
                longest = max(param.opts, key=len).lstrip("-")
                param.metavar = longest.upper().replace("-", "_")
        return command


app = typer.Typer(
    name="deniedwatch",
    help="Catch unauthorised AWS API calls (AccessDenied & co.) and tell the right people fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=_Group,
    context_settings={"max_content_width": 200},
)


class _Stderr:
    """The stderr console (rich), made on first use: a quiet scan prints nothing and so
    never imports rich (a tenth of its start-up, docs/performance.md)."""

    _console: Any = None

    def real(self) -> Any:
        """The rich ``Console`` itself (what rich's Progress and Status take)."""
        if self._console is None:
            from rich.console import Console

            type(self)._console = Console(stderr=True, highlight=False)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


err: Any = _Stderr()


def _version(value: bool) -> None:
    if value:
        from deniedwatch import __version__

        typer.echo(f"deniedwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Catch unauthorised AWS API calls (AccessDenied & co.) and tell the right people fast."""


# Ends every --slack-webhook-url help: the URL is a credential, and a flag's value is
# readable by every local user while the command runs.
WEBHOOK_FLAG_WARNING = (
    "Avoid the flag: its value is readable by any local user in /proc/PID/cmdline "
    "(and stays in your shell history); prefer the environment variable"
)


# The one environment variable for the Slack webhook in every command (deploy,
# set-webhook, test-alert, scan --notify); SLACK_WEBHOOK_URL, what test-alert and scan
# read before, stays an alias (and is what the function reads when run locally).
WEBHOOK_ENV = "DENIEDWATCH_SLACK_WEBHOOK_URL"
WEBHOOK_ENV_ALIAS = "SLACK_WEBHOOK_URL"


def webhook_option(help: str) -> Any:
    """The one ``--slack-webhook-url`` option (deploy, set-webhook, test-alert, scan)."""
    return typer.Option(
        "--slack-webhook-url",
        envvar=[WEBHOOK_ENV, WEBHOOK_ENV_ALIAS],
        show_default=False,
        help=f"{help} Environment: {WEBHOOK_ENV} (or {WEBHOOK_ENV_ALIAS}).",
    )


# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FINDINGS = 1  # --fail-on-findings and something was found
EXIT_USAGE = 2  # bad flags, bad settings, missing credentials, AWS refused
EXIT_BAD_INPUT = 3  # the scan finished but some input could not be read


class CliError(Exception):
    """A problem the user can fix; shown as one line, never as a traceback."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    # soft_wrap: one line whatever the width, so scripts and CI logs can grep it
    err.print(f"[bold red]error:[/] {_escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_cli_settings(config: object = None) -> Any:
    """The settings (``--config``, env, ./deniedwatch.toml), each warning on stderr."""
    from deniedwatch.config import load_settings

    settings = load_settings(config)  # type: ignore[arg-type]
    for warning in settings.warnings:
        err.print(f"[yellow]warning:[/] {_escape(warning)}", highlight=False, soft_wrap=True)
    return settings


# The variable botocore reads for the region (botocore.configprovider's session variables:
# "region" <- AWS_DEFAULT_REGION; AWS_REGION only picks its "auto" defaults mode inside AWS's
# own runtimes, never a client's region).
REGION_ENV = "AWS_DEFAULT_REGION"


def no_region(*also: str) -> str:
    """The line for "no region found": every place one could come from, and, when the user
    set AWS_REGION (what most AWS SDKs read), that botocore does not read it."""
    places = ("pass --region", f"set {REGION_ENV}", *also, "set region in your AWS profile")
    line = f"no AWS region: {', '.join(places[:-1])} or {places[-1]}"
    if os.environ.get("AWS_REGION") and not os.environ.get(REGION_ENV):
        line += f"; AWS_REGION is set, but boto3 reads {REGION_ENV}"
    return line


def friendly(exc: BaseException) -> str | None:
    """A one-line explanation for errors a user can act on; None for real bugs."""
    from deniedwatch.config import ConfigError

    if type(exc).__name__ == "AthenaError":  # deniedwatch.sources.athena, not imported here
        return str(exc)
    if isinstance(exc, CliError | ConfigError | FileNotFoundError):
        return str(exc)
    module = type(exc).__module__ or ""
    if module.startswith(("botocore", "boto3", "deniedwatch.awsclient")):
        name = type(exc).__name__
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            return (
                "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or run `aws sso login` / `aws configure`"
            )
        if name == "NoRegionError":
            return no_region()
        if name == "ProfileNotFound":
            return f"{exc} (check AWS_PROFILE and ~/.aws/config)"
        return _aws_line(exc)
    return None


def _aws_line(exc: BaseException) -> str:
    """One line for an AWS SDK error; a page from something that is not AWS (a stand-in's
    404, a proxy's 500) is named as such, never printed."""
    from deniedwatch.alerts.text import looks_like_html
    from deniedwatch.awsclient import NOT_AWS_CODE, stand_in_endpoint

    where = stand_in_endpoint() or "the endpoint"
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        op = getattr(exc, "operation_name", "the call")
        code, message = str(error.get("Code")), str(error.get("Message") or "")
        if code == NOT_AWS_CODE:
            return str(exc)
        if looks_like_html(message):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", code)
            return f"{op}: HTTP {status} from {where} (not an AWS response)"
        return f"AWS refused {op}: {code}: {message}"
    text = str(exc)
    if type(exc).__name__ == "ResponseParserError" or "<html" in text.lower():
        return f"an answer from {where} that is not an AWS response (unreadable as AWS's format)"
    return f"AWS: {text}"


def main() -> None:
    """Console-script entry: run the app, turning known errors into one clear line."""
    try:
        app()
    except KeyboardInterrupt as exc:
        err.print(f"interrupted{': ' + str(exc) if str(exc) else ''}", highlight=False)
        sys.exit(130)
    except Exception as exc:
        message = friendly(exc)
        if message is None:
            raise
        err.print(f"[bold red]error:[/] {_escape(message)}", soft_wrap=True)
        sys.exit(EXIT_USAGE)


def _escape(text: str) -> str:
    """Markup-escaped and cleaned: an error may quote a path or a value from a record."""
    from rich.markup import escape

    from deniedwatch.alerts.text import clean

    return escape(clean(text))
