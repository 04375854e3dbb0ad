"""`deniedwatch destroy / set-secret / status / template`: the stack after its deploy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deniedwatch import awsclient
from deniedwatch.cli import stack_io
from deniedwatch.cli._app import WEBHOOK_ENV, app, err, fail, webhook_option
from deniedwatch.cli.stack_io import (
    EXIT_UNHEALTHY,
    ConfigOpt,
    LiveSourceOpt,
    RegionOpt,
    StackOpt,
    YesOpt,
)


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

    stack_name, region = stack_io.target(config, stack_name, region)
    with stack_io.clear_errors():
        session = stack_io.session(region)
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
        stack_io.confirm(what + "?", yes)
        if purge and stack is not None and kept:
            # Written before the stack goes: a purge interrupted after this point can be
            # finished without the stack (which no longer names these resources).
            resume = f"deniedwatch destroy --purge --stack-name {stack_name} --region {region}"
            resume += f" --trail-bucket {bucket}" * bool(bucket)
            resume += f" --trail-log-group {group}" * bool(group)
            # one line whatever the width: the command is copied from it
            err.print(f"if this is interrupted, finish with: {escape(resume)}", soft_wrap=True)
        if stack is not None:
            with stack_io.progress() as observer:
                stacks.observer = observer
                stacks.delete(stack_name)
            aws.delete_secret(session.client("secretsmanager"), names.secret_name(stack_name))
            err.print(f"[bold green]stack {stack_name} deleted[/]")
        if purge:
            s3, logs = session.client("s3"), session.client("logs")
            if bucket:  # a stand-in that ignores DeletionPolicy (moto) deleted it already
                done = aws.purge_bucket(s3, bucket)
                err.print(f"deleted bucket {bucket}" if done else f"bucket {bucket}: already gone")
            if group:
                done = aws.purge_log_group(logs, group)
                err.print(
                    f"deleted log group {group}" if done else f"log group {group}: already gone"
                )
            if code := params.get("CodeBucket"):
                removed = aws.delete_code(s3, code, names.code_prefix(stack_name))
                err.print(f"deleted {removed} function zip(s) from {code}")
        elif kept and (stand_in := awsclient.stand_in_endpoint()):
            # moto deletes them: it honours DeletionPolicy Retain, not RetainExceptOnCreate
            if lost := aws.gone(session.client("s3"), session.client("logs"), bucket, group):
                err.print(
                    f"warning: {stand_in} deleted {' and '.join(lost)} with the stack (it "
                    "ignores DeletionPolicy RetainExceptOnCreate; AWS keeps them)",
                    soft_wrap=True,
                )
            kept = [k for k in kept if k not in lost]
        if kept and not purge:
            kept_line = "kept " + " and ".join(kept) + " (CloudTrail history); --purge removes them"
            err.print(kept_line, soft_wrap=True)


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

    from deniedwatch import secrets
    from deniedwatch.pipeline import secret_needs, signing_secret_need

    settings = stack_io.settings_of(config)
    needs = {n.destination: n for n in secret_needs(settings)}
    need = needs.get(destination)
    if need is None and destination == signing_secret_need().destination:
        need = signing_secret_need()  # the Slack app's, for triage buttons (docs/triage.md)
    if need is None:
        known = ", ".join(needs) or "none"
        fail(f"no destination {destination!r} with a secret (destinations with one: {known})")
    # today's slack destination reads the one webhook name of every command first
    legacy = destination == secrets.LEGACY_DESTINATION and not settings.destinations
    names = [WEBHOOK_ENV, *([need.url_env] if need.url_env else [])] if legacy else [need.url_env]
    value = None
    if from_env:
        found = [os.environ[n] for n in names if n and os.environ.get(n)]
        if not found:
            fail(f"--from-env: destination {destination} has no url_env set in the environment")
        value = found[0]
    where = f"set {names[0]} and add --from-env" if names[0] else "run without --yes"
    if value is None and yes:
        fail(f"--yes asks nothing, so no new {need.what} for {destination}: {where}")
    value = value or stack_io.ask(
        f"New {need.what} of {destination}", None, yes=yes, hide=True, check=need.problem,
        instead=where,
    )  # fmt: skip
    _store_secret(config, stack_name, region, need, value)


def _store_secret(
    config: Path | None, stack_name: str | None, region: str | None, need: Any, value: str | None
) -> None:
    from deniedwatch import secrets
    from deniedwatch.deploy import names
    from deniedwatch.deploy.aws import SecretMissing
    from deniedwatch.deploy.run import store_secrets
    from deniedwatch.deploy.stack import Stacks

    if not value or not value.strip():
        fail(f"no {need.what} given for {need.destination}")
    value = value.strip()
    if problem := need.problem(value):
        fail(f"destination {need.destination}: the {need.what} {problem}")
    stack_name, region = stack_io.target(config, stack_name, region)
    with stack_io.clear_errors():
        secret = names.secret_name(stack_name)
        session = stack_io.session(region)
        stand_in = awsclient.stand_in_endpoint()
        try:
            version = store_secrets(
                session.client("secretsmanager"), stack_name, {need.destination: value}, stand_in
            )
        except SecretMissing:  # no secret: a mistyped stack or region first, then "deleted"
            if Stacks(session.client("cloudformation")).describe(stack_name) is None:
                fail(f"no stack {stack_name} in {region}: check --stack-name and --region")
            raise
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
        webhook_option("The new URL. Default: asked for, without echo."),
    ] = None,
    config: ConfigOpt = None,
    yes: YesOpt = False,
) -> None:
    """Today's name for `set-secret slack`: replace the default Slack webhook URL."""
    from deniedwatch import secrets
    from deniedwatch.pipeline import SecretNeed

    instead = f"set {WEBHOOK_ENV} (or pass --slack-webhook-url)"
    if not slack_webhook_url and yes:
        fail(f"--yes asks nothing, so no new webhook URL: {instead}")
    url = slack_webhook_url or stack_io.ask(
        "New Slack webhook URL", None, yes=yes, hide=True, check=secrets.url_problem,
        instead=instead,
    )  # fmt: skip
    if not url:
        fail(f"no webhook URL given: {instead}")
    need = SecretNeed(secrets.LEGACY_DESTINATION, "Slack webhook URL", None, secrets.url_problem)
    _store_secret(config, stack_name, region, need, url)


@app.command()
def status(stack_name: StackOpt = None, region: RegionOpt = None, config: ConfigOpt = None) -> None:
    """Is the stack healthy? Stack, trail, email subscription, function errors, dead letters,
    held denials."""
    from deniedwatch.deploy.names import HEALTHY_STACK_STATUSES
    from deniedwatch.deploy.preflight import filter_pattern_form
    from deniedwatch.deploy.status import gather_status, health_problems, where_else

    region_flag = region
    stack_name, region = stack_io.target(config, stack_name, region)
    with stack_io.clear_errors():
        session = stack_io.session(region)
        report = gather_status(
            session.client, stack_name, region=region, stand_in=awsclient.stand_in_endpoint()
        )
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
    if report.filter_pattern:
        denial = stack_io.settings_of(config).ruleset.denial
        table.add_row(
            "filter pattern", show(filter_pattern_form(denial, report.filter_pattern), None)
        )
    if report.trail_name:
        logging = {True: "logging", False: "NOT logging", None: "unknown"}[report.trail_logging]
        logging = "not created by the stand-in" if report.not_made_by_stand_in else logging
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
    if report.active_mutes is not None:
        n = report.active_mutes
        table.add_row("active mutes", show(f"{n} (`deniedwatch mutes list`)" if n else 0, None))
    if report.events_dead_letters is not None:
        n = report.events_dead_letters
        table.add_row("events dead-letter queue", show(n, n == 0))
    from rich.console import Console

    Console(highlight=False).print(table)
    for line in report.not_made_by_stand_in:
        err.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)
    problems = health_problems(report)
    for problem in problems:
        err.print(f"[yellow]![/] {escape(problem)}", soft_wrap=True)
    if report.stack_status is None:
        where = where_else(region, stack_io.settings_of(config).deploy.region, region_flag)
        err.print(f"  {escape(where)}")
    if problems:
        raise typer.Exit(EXIT_UNHEALTHY)


@app.command()
def template(live_source: LiveSourceOpt = None, config: ConfigOpt = None) -> None:
    """Print the CloudFormation template (patterns and live source from your settings)."""
    from deniedwatch.deploy.plan import render_template

    settings = stack_io.settings_of(config)
    with stack_io.clear_errors():
        text = render_template(settings.ruleset.denial, live_source or settings.deploy.live_source)
    sys.stdout.write(text)
