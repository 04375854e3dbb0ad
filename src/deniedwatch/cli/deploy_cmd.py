"""`deniedwatch deploy / destroy / status / template`: inputs, prompts and display.

The work is in deniedwatch.deploy (plan: pure; package: the zip; stack: CloudFormation;
aws: the calls around the stack).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
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
from rich.table import Table

from deniedwatch.cli._app import (
    WEBHOOK_FLAG_WARNING,
    app,
    err,
    fail,
    friendly,
    load_cli_settings,
    webhook_option,
)
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
        help="Stack name. Default: \\[deploy] stack_name or deniedwatch.",
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(help="AWS region. Default: \\[deploy] region, then AWS_REGION / your profile's."),
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
        "Default: \\[deploy] live_source, else cloudwatch-logs. See docs/live-sources.md.",
        show_default=False,
    ),
]


@contextlib.contextmanager
def _clear_errors() -> Iterator[None]:
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


def _settings(config: Path | None) -> Settings:
    with _clear_errors():
        return load_cli_settings(config)


def _session(region: str | None) -> Any:
    """A boto3 session: AWS_PROFILE, the credential chain and AWS_ENDPOINT_URL apply as usual."""
    import boto3

    return boto3.session.Session(region_name=region)


def _target(config: Path | None, stack: str | None, region: str | None) -> tuple[str, str]:
    """The stack name and region for status / destroy / set-webhook (no prompts)."""
    settings = _settings(config)
    return stack or settings.deploy.stack_name, _region(region, settings, yes=True)


def _region(flag: str | None, settings: Settings, yes: bool) -> str:
    region = flag or settings.deploy.region or _session(None).region_name
    if not yes:
        region = typer.prompt("AWS region", default=region or "us-east-1")
    if not region:
        fail("no AWS region: pass --region, set AWS_REGION or [deploy] region")
    return region


class _RichObserver:
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
def _progress() -> Iterator[_RichObserver]:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        yield _RichObserver(progress)


def _ask(label: str, current: str | None, *, yes: bool, hide: bool = False) -> str | None:
    """Prompt like an installer: Enter keeps ``current``; blank means none."""
    if yes:
        return current
    answer = typer.prompt(
        label,
        default="" if hide else (current or ""),
        show_default=bool(current) and not hide,
        hide_input=hide,
    )
    return answer.strip() or (current if hide else None)


def _settings_text(settings: Settings) -> str:
    if settings.source is None:
        return "# deniedwatch settings: built-in defaults (no settings file was given)\n"
    return settings.source.read_text(encoding="utf-8")


@app.command()
def deploy(
    stack_name: StackOpt = None,
    region: RegionOpt = None,
    slack_webhook_url: Annotated[
        str | None,
        webhook_option(
            "DENIEDWATCH_SLACK_WEBHOOK_URL",
            "Without [[destinations]]: the Slack incoming webhook URL (stored in Secrets "
            "Manager, never in the stack). Needed on the first deploy; later, omit it to keep "
            "the stored one. With [[destinations]], each secret comes from its url_env "
            "or a hidden prompt. " + WEBHOOK_FLAG_WARNING + " or the prompt.",
        ),
    ] = None,
    slack_channel: Annotated[
        str | None,
        typer.Option(envvar="DENIEDWATCH_SLACK_CHANNEL", help="Channel named in the message text."),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(envvar="DENIEDWATCH_ALERT_EMAIL", help="Address for email alerts (optional)."),
    ] = None,
    code_bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DENIEDWATCH_CODE_BUCKET",
            help="S3 bucket for the function zip; created if missing. "
            "Default: deniedwatch-code-<account>-<region>.",
        ),
    ] = None,
    existing_log_group: Annotated[
        str | None,
        typer.Option(
            envvar="DENIEDWATCH_EXISTING_LOG_GROUP",
            help="Attach to this CloudTrail log group instead of creating a trail.",
        ),
    ] = None,
    organization_trail: Annotated[
        bool | None,
        typer.Option(
            "--organization-trail/--account-trail",
            help="Make the new trail an organization trail (management account or CloudTrail "
            "delegated administrator; trusted access is checked first). "
            "Default: \\[deploy] organization_trail.",
            show_default=False,
        ),
    ] = None,
    trail_bucket: Annotated[
        str | None,
        typer.Option(help="Name for the new trail bucket. Default: one CloudFormation generates."),
    ] = None,
    print_iam_policy: Annotated[
        bool,
        typer.Option(
            "--print-iam-policy",
            help="Print the least-privilege IAM policy for deploy/status/destroy and exit "
            "(no AWS call).",
        ),
    ] = False,
    live_source: LiveSourceOpt = None,
    decode_authorization_messages: Annotated[
        bool | None,
        typer.Option(
            "--decode-authorization-messages/--no-decode-authorization-messages",
            help="Let the function decode EC2's encoded denial messages "
            "(grants it sts:DecodeAuthorizationMessage). Default: \\[explain] in the settings.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    yes: YesOpt = False,
) -> None:
    """Create or update the deniedwatch stack: trail, alarm, topic and the alerting function."""
    from deniedwatch.deploy import aws, names, plan
    from deniedwatch.deploy.run import deploy as run_deploy

    settings = _settings(config)
    wanted = settings.deploy
    if print_iam_policy:
        _print_iam_policy(stack_name or wanted.stack_name, region or wanted.region)
        return
    if not yes:
        err.print("[bold]deniedwatch deploy[/]: Enter keeps the value in brackets.")
    region = _region(region, settings, yes)
    stack_name = _ask("Stack name", stack_name or wanted.stack_name, yes=yes) or "deniedwatch"
    with _clear_errors():
        plan.check_stack_name(stack_name)  # before any AWS call
        session = _session(region)
        secret = names.secret_name(stack_name)
        stored = plan.stored_secret_names(
            aws.secret_value(session.client("secretsmanager"), secret), secret
        )
        secret_values = _destination_secrets(settings, stored, slack_webhook_url, yes)
        channel = _ask(
            "Slack channel name (for the message text)",
            slack_channel or settings.alerts.slack_channel,
            yes=yes,
        )
        email = _ask("Alert email (blank: none)", email or wanted.email, yes=yes)
        group = _ask(
            "Existing CloudTrail log group (blank: create a trail)",
            existing_log_group or wanted.existing_log_group,
            yes=yes,
        )
        org = wanted.organization_trail if organization_trail is None else organization_trail
        bucket_for_trail = trail_bucket or wanted.trail_bucket
        if not group:
            if not yes:
                org = typer.confirm("Organization trail (all accounts)?", default=org)
            bucket_for_trail = _ask(
                "Trail bucket name (blank: generated)", bucket_for_trail, yes=yes
            )
        account = session.client("sts").get_caller_identity()["Account"]
        bucket = code_bucket or wanted.code_bucket or plan.default_code_bucket(account, region)
        bucket = _ask("Code bucket (created if missing)", bucket, yes=yes) or bucket
        the_plan = plan.DeployPlan(
            stack_name=stack_name,
            region=region,
            code_bucket=bucket,
            filter_pattern=plan.checked_filter_pattern(settings.ruleset.denial),
            email=email,
            existing_log_group=group,
            organization_trail=bool(org),
            log_retention_days=wanted.log_retention_days,
            alarm_threshold=wanted.alarm_threshold,
            alarm_period_seconds=wanted.alarm_period_seconds,
            trail_bucket=None if group else bucket_for_trail,
            trail_bucket_retention_days=wanted.trail_bucket_retention_days,
            live_source=live_source or wanted.live_source,
            event_pattern=plan.checked_event_pattern(settings.ruleset.denial),
            queue_batch_size=wanted.queue_batch_size,
            queue_batch_window_seconds=wanted.queue_batch_window_seconds,
            decode_authorization_messages=settings.explain.decode_authorization_messages
            if decode_authorization_messages is None
            else decode_authorization_messages,
        )

        def confirm(summary: Any) -> bool:
            _show_plan(summary)
            return yes or typer.confirm("Deploy?", default=False)

        outcome = run_deploy(
            session.client,
            the_plan,
            settings.ruleset.denial,
            account=account,
            settings_text=_settings_text(settings),
            secret_values=secret_values,
            channel=channel,
            confirm=confirm,
            progress=_progress,
            say=lambda line: err.print(escape(line)),
        )
    if outcome is None:
        raise typer.Exit(1)
    for note in outcome.notes:
        err.print(escape(note))
    _show_result(outcome.result, outcome.summary.plan)


def _destination_secrets(
    settings: Settings, stored: set[str], slack_webhook_url: str | None, yes: bool
) -> dict[str, str]:
    """Each destination's secret for this deploy: today's flag for the default Slack
    webhook, else its url_env, else a hidden prompt (Enter keeps the stored one)."""
    import os

    from deniedwatch import secrets
    from deniedwatch.alerts.pipeline import secret_needs
    from deniedwatch.deploy import plan

    def ask(need: Any, is_stored: bool) -> str | None:
        legacy = need.destination == secrets.LEGACY_DESTINATION and not settings.destinations
        if legacy:
            given, label = slack_webhook_url, "Slack webhook URL"
        else:
            given = os.environ.get(need.url_env) if need.url_env else None
            label = f"{need.what} of destination {need.destination}"
        if is_stored:
            label += " (Enter keeps the stored one)"
        return _ask(label, given, yes=yes, hide=True)

    try:
        return plan.collect_secrets(secret_needs(settings), stored, ask)
    except plan.PlanError as exc:
        if not settings.destinations and not stored:
            fail(
                "a Slack webhook URL is needed on the first deploy: pass --slack-webhook-url "
                "or set DENIEDWATCH_SLACK_WEBHOOK_URL"
                if "needs its" in str(exc)
                else str(exc)
            )
        fail(str(exc))


def _print_iam_policy(stack_name: str, region: str | None) -> None:
    import json

    from deniedwatch.deploy.permissions import deployer_policy
    from deniedwatch.partition import partition_of

    typer.echo(json.dumps(deployer_policy(stack_name, partition_of(region)), indent=2))


def _show_plan(summary: Any) -> None:
    the_plan = summary.plan
    source = the_plan.existing_log_group or "a new multi-region trail"
    if the_plan.organization_trail and not the_plan.existing_log_group:
        source = "a new organization trail"
        if the_plan.trail_owner_account_id:
            source += f" (delegated admin; owner {the_plan.trail_owner_account_id})"
    rows = [
        ("account / region", f"{summary.account} / {the_plan.region}"),
        ("stack", the_plan.stack_name + (" (update)" if summary.stack_exists else " (new)")),
        ("CloudTrail from", source),
        (
            "secrets",
            (f"new for {', '.join(summary.new_secrets)}" if summary.new_secrets else "stored")
            + (f"; Slack channel {summary.channel}" if summary.channel else ""),
        ),
        ("email", the_plan.email or "none"),
        ("code bucket", the_plan.code_bucket + " (created if missing)"),
        ("decode EC2 msgs", "yes" if the_plan.decode_authorization_messages else "no"),
        ("live source", the_plan.live_source),
    ]
    if the_plan.trail_bucket:
        rows.append(("trail bucket", the_plan.trail_bucket))
    for name, value in rows:
        err.print(f"  [dim]{name:>16}[/]  {escape(value)}")
    err.print(f"  [dim]{'resources':>16}[/]  {len(summary.resources)} in the stack:")
    for r in summary.resources:
        err.print(f"  {'':>16}  {escape(r.logical_id)} [dim]({escape(r.type)})[/]")
    if the_plan.live_source == "eventbridge":
        err.print(
            "[yellow]note:[/] the EventBridge rule sees this region's CloudTrail events only, "
            "on a best-effort basis; `--live-source both` keeps CloudWatch Logs (every region, "
            "durable) as the backstop. See docs/live-sources.md."
        )


# What deploy prints at the end: (label, logical id) of the resources people look for.
_SUMMARY = (
    ("alert topic", "AlertTopic"),
    ("function", "Function"),
    ("dedup table", "DedupTable"),
    ("dead-letter queue", "DeadLetterQueue"),
    ("events rule", "DenialEventsRule"),
    ("events queue", "DenialEventsQueue"),
    ("events dead-letter queue", "DenialEventsDeadLetterQueue"),
    ("trail bucket", "TrailBucket"),
    ("trail log group", "TrailLogGroup"),
)


def _show_result(result: Any, the_plan: Any) -> None:
    from deniedwatch.deploy.plan import secret_name

    words = {"create": "created", "update": "updated", "none": "already up to date"}
    done = words[result.action]
    err.print(f"[bold green]stack {the_plan.stack_name} {done}[/] ({result.status})")
    rows = {label: result.resources[key] for label, key in _SUMMARY if key in result.resources}
    rows["webhook secret"] = secret_name(the_plan.stack_name)
    if the_plan.existing_log_group:
        rows["watched log group"] = the_plan.existing_log_group
    for label, value in rows.items():
        typer.echo(f"{label}: {value}")
    for key, value in sorted(result.outputs.items()):
        typer.echo(f"output {key}: {value}")
    if the_plan.email:
        err.print(
            f"[yellow]AWS sent a confirmation email to {escape(the_plan.email)}: click its link, "
            "or no email alerts arrive.[/] `deniedwatch status` shows whether it is confirmed."
        )


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)


@app.command()
def destroy(
    stack_name: StackOpt = None,
    region: RegionOpt = None,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge", help="Also delete the trail bucket (all log files) and the trail log group."
        ),
    ] = False,
    trail_bucket: Annotated[
        str | None,
        typer.Option(help="With --purge: the trail bucket to delete (to finish a purge)."),
    ] = None,
    trail_log_group: Annotated[
        str | None,
        typer.Option(help="With --purge: the trail log group to delete (to finish a purge)."),
    ] = None,
    config: ConfigOpt = None,
    yes: YesOpt = False,
) -> None:
    """Delete the stack. The trail bucket and log group stay unless --purge."""
    from deniedwatch.deploy import aws, names
    from deniedwatch.deploy.stack import Stacks, physical_ids

    stack_name, region = _target(config, stack_name, region)
    with _clear_errors():
        session = _session(region)
        stacks = Stacks(session.client("cloudformation"))
        stack = stacks.describe(stack_name)
        ids: dict[str, str] = {}
        params: dict[str, str] = {}
        if stack is not None:
            ids = physical_ids(stacks.cfn, stack["StackId"])
            params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
        bucket = trail_bucket or ids.get("TrailBucket")
        group = trail_log_group or ids.get("TrailLogGroup")
        if stack is None and not (purge and (bucket or group)):
            err.print(f"no stack {stack_name} in {region}: nothing to delete")
            return
        kept = [f"bucket {bucket}"] * bool(bucket) + [f"log group {group}"] * bool(group)
        what = f"Delete stack {stack_name} in {region}" if stack else "Delete"
        if purge and kept:
            what += (" and " if stack else " ") + " and ".join(kept) + " with every log file"
        _confirm(what + "?", yes)
        if purge and stack is not None and kept:
            # Written before the stack goes: a purge interrupted after this point can be
            # finished without the stack (which no longer names these resources).
            resume = f"deniedwatch destroy --purge --stack-name {stack_name} --region {region}"
            resume += f" --trail-bucket {bucket}" * bool(bucket)
            resume += f" --trail-log-group {group}" * bool(group)
            err.print(f"if this is interrupted, finish with: {escape(resume)}")
        if stack is not None:
            with _progress() as observer:
                stacks.observer = observer
                stacks.delete(stack_name)
            aws.delete_secret(session.client("secretsmanager"), names.secret_name(stack_name))
            err.print(f"[bold green]stack {stack_name} deleted[/]")
        if purge:
            s3, logs = session.client("s3"), session.client("logs")
            if bucket and aws.purge_bucket(s3, bucket):
                err.print(f"deleted bucket {bucket}")
            if group and aws.purge_log_group(logs, group):
                err.print(f"deleted log group {group}")
            if code := params.get("CodeBucket"):
                removed = aws.delete_code(s3, code, names.code_prefix(stack_name))
                err.print(f"deleted {removed} function zip(s) from {code}")
        elif kept:
            err.print("kept " + " and ".join(kept) + " (CloudTrail history); --purge removes them")


@app.command("set-secret")
def set_secret(
    destination: Annotated[
        str,
        typer.Argument(
            help="The [[destinations]] name whose secret to replace (without destinations: slack).",
            show_default=False,
        ),
    ],
    stack_name: StackOpt = None,
    region: RegionOpt = None,
    from_env: Annotated[
        bool,
        typer.Option(
            "--from-env",
            help="Read the new secret from the destination's url_env instead of a prompt.",
        ),
    ] = False,
    config: ConfigOpt = None,
    yes: YesOpt = False,
) -> None:
    """Replace one destination's secret in the stack's secret (the old version stays as
    AWSPREVIOUS); the others are kept."""
    import os

    from deniedwatch.alerts.pipeline import secret_needs

    settings = _settings(config)
    needs = {n.destination: n for n in secret_needs(settings)}
    need = needs.get(destination)
    if need is None:
        known = ", ".join(needs) or "none"
        fail(f"no destination {destination!r} with a secret (destinations with one: {known})")
    value = None
    if from_env:
        if not need.url_env or not os.environ.get(need.url_env):
            fail(f"--from-env: destination {destination} has no url_env set in the environment")
        value = os.environ[need.url_env]
    value = value or _ask(f"New {need.what} of {destination}", None, yes=yes, hide=True)
    _store_secret(config, stack_name, region, need, value)


def _store_secret(
    config: Path | None, stack_name: str | None, region: str | None, need: Any, value: str | None
) -> None:
    from deniedwatch import secrets
    from deniedwatch.deploy import names
    from deniedwatch.deploy.run import store_secrets

    if not value or not value.strip():
        fail(f"no {need.what} given for {need.destination}: answer the prompt")
    value = value.strip()
    if problem := need.problem(value):
        fail(f"destination {need.destination}: the {need.what} {problem}")
    stack_name, region = _target(config, stack_name, region)
    with _clear_errors():
        secret = names.secret_name(stack_name)
        sm = _session(region).client("secretsmanager")
        version = store_secrets(sm, stack_name, {need.destination: value})
    if version == "unchanged":
        err.print(f"{secret} already holds that {need.what}: nothing to do")
        return
    minutes = secrets.CACHE_SECONDS // 60
    err.print(
        f"[bold green]stored[/] the new {escape(need.what)} of {escape(need.destination)} in "
        f"{secret} (version {escape(version)}); running functions pick it up within "
        f"{minutes} minutes"
    )


@app.command("set-webhook", hidden=True)
def set_webhook(
    stack_name: StackOpt = None,
    region: RegionOpt = None,
    slack_webhook_url: Annotated[
        str | None,
        webhook_option(
            "DENIEDWATCH_SLACK_WEBHOOK_URL", "The new URL. Default: asked for, without echo."
        ),
    ] = None,
    config: ConfigOpt = None,
    yes: YesOpt = False,
) -> None:
    """Today's name for `set-secret slack`: replace the default Slack webhook URL."""
    from deniedwatch import secrets
    from deniedwatch.alerts.pipeline import SecretNeed

    url = slack_webhook_url or _ask("New Slack webhook URL", None, yes=yes, hide=True)
    if not url:
        fail("no webhook URL given: pass --slack-webhook-url or answer the prompt")
    need = SecretNeed(secrets.LEGACY_DESTINATION, "Slack webhook URL", None, secrets.url_problem)
    _store_secret(config, stack_name, region, need, url)


@app.command()
def status(stack_name: StackOpt = None, region: RegionOpt = None, config: ConfigOpt = None) -> None:
    """Is the stack healthy? Stack, trail, email subscription, function errors, dead letters,
    held denials."""
    from deniedwatch.deploy.aws import gather_status, health_problems, where_else
    from deniedwatch.deploy.names import HEALTHY_STACK_STATUSES

    region_flag = region
    stack_name, region = _target(config, stack_name, region)
    with _clear_errors():
        session = _session(region)
        report = gather_status(session.client, stack_name, region=region)
    table = Table(show_header=False, box=None)

    def show(value: object, good: bool | None) -> str:
        colour = {True: "green", False: "red", None: "dim"}[good]
        return f"[{colour}]{escape(str(value))}[/]"

    table.add_row(
        "stack",
        show(
            report.stack_status or f"{stack_name}: missing in {region}",
            report.stack_status in HEALTHY_STACK_STATUSES,
        ),
    )
    if report.trail_name:
        logging = {True: "logging", False: "NOT logging", None: "unknown"}[report.trail_logging]
        table.add_row("trail", show(f"{report.trail_name}: {logging}", report.trail_logging))
    elif report.stack_status:
        table.add_row("trail", show("existing log group (not ours to check)", None))
    for endpoint, ok in report.email_subscriptions.items():
        table.add_row("email", show(f"{endpoint}: {'confirmed' if ok else 'pending'}", ok))
    if report.function_errors_24h is not None:
        n = report.function_errors_24h
        table.add_row("function errors (24 h)", show(n, n == 0))
    if report.dead_letters is not None:
        table.add_row("dead-letter queue", show(report.dead_letters, report.dead_letters == 0))
    if report.held_denials is not None:
        held = f"{report.held_denials} in {report.held_groups} groups"
        held += " (summarised when their dedup window closes)" if report.held_denials else ""
        table.add_row("held denials", show(held, report.held_overdue == 0))
    if report.events_dead_letters is not None:
        n = report.events_dead_letters
        table.add_row("events dead-letter queue", show(n, n == 0))
    from rich.console import Console

    Console(highlight=False).print(table)
    problems = health_problems(report)
    for problem in problems:
        err.print(f"[yellow]![/] {escape(problem)}")
    if report.stack_status is None:
        where = where_else(region, _settings(config).deploy.region, region_flag)
        err.print(f"  {escape(where)}")
    if problems:
        raise typer.Exit(EXIT_UNHEALTHY)


@app.command()
def template(live_source: LiveSourceOpt = None, config: ConfigOpt = None) -> None:
    """Print the CloudFormation template (patterns and live source from your settings)."""
    from deniedwatch.deploy.plan import render_template

    settings = _settings(config)
    with _clear_errors():
        text = render_template(settings.ruleset.denial, live_source or settings.deploy.live_source)
    sys.stdout.write(text)
