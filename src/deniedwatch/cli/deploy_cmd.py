"""`deniedwatch deploy`: flags, settings and answers -> a deploy plan, then the run.

The work is in deniedwatch.deploy (plan: pure; package: the zip; stack: CloudFormation;
aws: the calls around the stack); the prompts and progress are in ``stack_io.py``; the
other stack commands (destroy, set-secret, status, template) in ``stack_cmds.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape

from deniedwatch.cli import stack_io
from deniedwatch.cli._app import WEBHOOK_ENV, WEBHOOK_FLAG_WARNING, app, err, fail, webhook_option
from deniedwatch.cli.stack_io import ConfigOpt, LiveSourceOpt, RegionOpt, StackOpt, YesOpt
from deniedwatch.config import DeploySettings, Settings


@app.command()
def deploy(
    stack_name: StackOpt = None,
    region: RegionOpt = None,
    slack_webhook_url: Annotated[
        str | None,
        webhook_option(
            "Without [[destinations]]: the Slack incoming webhook URL (stored in Secrets "
            "Manager, never in the stack). Without one on the first deploy, alerts go by "
            "email only (--email); later, omit it to keep the stored one. With "
            "[[destinations]], each secret comes from its url_env or a hidden prompt. "
            + WEBHOOK_FLAG_WARNING
            + " or the prompt.",
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
            "Default: [deploy] organization_trail.",
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
            help="Print the least-privilege IAM policy documents for deploy/status/destroy "
            "(a JSON array: attach each as a managed policy) and exit (no AWS call).",
        ),
    ] = False,
    live_source: LiveSourceOpt = None,
    decode_authorization_messages: Annotated[
        bool | None,
        typer.Option(
            "--decode-authorization-messages/--no-decode-authorization-messages",
            help="Let the function decode EC2's encoded denial messages "
            "(grants it sts:DecodeAuthorizationMessage). Default: [explain] in the settings.",
            show_default=False,
        ),
    ] = None,
    skip_preflight: Annotated[
        bool,
        typer.Option(
            "--skip-preflight",
            help="Make none of the checks that ask AWS first (TestMetricFilter, the secret, "
            "the organization); each is named as not checked. For a local stand-in.",
        ),
    ] = False,
    slack_interactivity: Annotated[
        bool,
        typer.Option(
            "--slack-interactivity",
            help="Add a public function URL for the Slack app's buttons (mute, escalate); "
            "it checks Slack's signature. Off by default. See docs/triage.md.",
        ),
    ] = False,
    config: ConfigOpt = None,
    yes: YesOpt = False,
) -> None:
    """Create or update the deniedwatch stack: trail, alarm, topic and the alerting function."""
    from deniedwatch import awsclient
    from deniedwatch.deploy import aws, names, plan
    from deniedwatch.deploy.run import deploy as run_deploy

    settings = stack_io.settings_of(config)
    wanted = settings.deploy
    if print_iam_policy:
        _print_iam_policy(stack_name or wanted.stack_name, region or wanted.region)
        return
    if not yes:
        err.print(
            "[bold]deniedwatch deploy[/]: asks only for what no flag, environment variable or "
            "setting gave; Enter keeps the value in brackets."
        )
    region = stack_io.region_of(region, settings, yes)
    defaults = DeploySettings()
    named = stack_name or (wanted.stack_name if wanted.stack_name != defaults.stack_name else None)
    stack_name = _given_or_ask(
        "Stack name", named, defaults.stack_name, yes, plan.problem_of(plan.check_stack_name)
    )
    with stack_io.clear_errors():
        plan.check_stack_name(stack_name)  # before any AWS call
        session = stack_io.session(region)
        secret = names.secret_name(stack_name)
        stored = plan.stored_secret_names(
            aws.secret_value(session.client("secretsmanager"), secret), secret
        )
        secret_values = _destination_secrets(settings, stored, slack_webhook_url, yes)
        # no [[destinations]], no webhook given and none stored: alerts by email only
        email_only = not settings.destinations and not stored and not secret_values
        channel = None
        if not email_only:
            channel = _given_or_ask(
                "Slack channel name (for the message text)",
                slack_channel or settings.alerts.slack_channel,
                None,
                yes,
            )
        email = _given_or_ask(
            "Alert email" + (" (needed: no Slack webhook)" if email_only else " (blank: none)"),
            email or wanted.email,
            None,
            yes,
            plan.problem_of(plan.check_email),
        )
        if email_only and not email:
            fail(
                "nothing to alert: give an email (--email or DENIEDWATCH_ALERT_EMAIL) or a Slack "
                "webhook (DENIEDWATCH_SLACK_WEBHOOK_URL), or [[destinations]] in the settings"
            )
        group = _given_or_ask(
            "Existing CloudTrail log group (blank: create a trail)",
            existing_log_group or wanted.existing_log_group,
            None,
            yes,
        )
        org = organization_trail if organization_trail is not None else wanted.organization_trail
        bucket_for_trail = trail_bucket or wanted.trail_bucket
        if not group:
            if not yes and organization_trail is None and not org:
                org = typer.confirm("Organization trail (all accounts)?", default=False)
            bucket_for_trail = _given_or_ask(
                "Trail bucket name (blank: generated)",
                bucket_for_trail,
                None,
                yes,
                plan.problem_of(plan.check_bucket),
            )
        account = session.client("sts").get_caller_identity()["Account"]
        bucket = _given_or_ask(
            "Code bucket (created if missing)",
            code_bucket or wanted.code_bucket,
            plan.default_code_bucket(account, region),
            yes,
            plan.problem_of(plan.check_bucket),
        )
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
            security_hub=any(d.type == "securityhub" for d in settings.destinations),
            slack_interactivity=slack_interactivity,
        )

        settings_text = stack_io.settings_text(settings)
        if email_only:
            settings_text = plan.with_email_only(settings_text)

        def confirm(summary: Any) -> bool:
            _show_plan(summary)
            return yes or typer.confirm("Deploy?", default=False)

        outcome = run_deploy(
            session.client,
            the_plan,
            settings.ruleset.denial,
            account=account,
            settings_text=settings_text,
            secret_values=secret_values,
            channel=channel,
            confirm=confirm,
            progress=stack_io.progress,
            say=lambda line: err.print(escape(line), soft_wrap=True),
            stand_in=awsclient.stand_in_endpoint(),
            skip_preflight=skip_preflight,
        )
    if outcome is None:
        raise typer.Exit(1)
    for note in outcome.notes:
        err.print(escape(note), soft_wrap=True)  # one line each, greppable
    _show_result(outcome.result, outcome.summary.plan)


def _given_or_ask(
    label: str,
    given: str | None,
    default: str | None,
    yes: bool,
    check: Callable[[str], str | None] | None = None,
) -> str | None:
    """What a flag, environment variable or setting gave, else the answer to a prompt
    (checked there, and asked again until it passes), else ``default``."""
    if given is not None:
        return given
    return stack_io.ask(label, default, yes=yes, check=check) or default


def _destination_secrets(
    settings: Settings, stored: set[str], slack_webhook_url: str | None, yes: bool
) -> dict[str, str]:
    """Each destination's secret for this deploy: today's flag for the default Slack
    webhook, else its url_env, else a hidden prompt (Enter keeps the stored one)."""
    import os

    from deniedwatch import secrets
    from deniedwatch.deploy import plan
    from deniedwatch.pipeline import secret_needs

    def ask(need: Any, is_stored: bool) -> str | None:
        legacy = need.destination == secrets.LEGACY_DESTINATION and not settings.destinations
        if legacy:
            given, label = slack_webhook_url, "Slack webhook URL"
            instead = f"set {WEBHOOK_ENV} (or pass --slack-webhook-url)"
            if not is_stored:
                label += " (blank: alerts by email only)"
        else:
            given = os.environ.get(need.url_env) if need.url_env else None
            label = f"{need.what} of destination {need.destination}"
            instead = (
                f"set {need.url_env}"
                if need.url_env
                else f"give destination {need.destination} a url_env in the settings and set it"
            )
        if given:  # a flag or the environment gave it: nothing to ask
            return given
        if is_stored:
            label += " (Enter keeps the stored one)"
        return stack_io.ask(label, None, yes=yes, hide=True, check=need.problem, instead=instead)

    needs = secret_needs(settings)
    if not settings.destinations and not stored:
        # the default Slack webhook is optional: without one, alerts go by email only
        (slack,) = needs
        given = (ask(slack, False) or "").strip()
        if not given:
            return {}
        if problem := slack.problem(given):
            fail(f"the {slack.what} {problem}")
        return {slack.destination: given}
    try:
        return plan.collect_secrets(needs, stored, ask)
    except plan.PlanError as exc:
        fail(str(exc))


def _print_iam_policy(stack_name: str, region: str | None) -> None:
    """A JSON array of policy documents on stdout; how to attach them on stderr."""
    import json

    from deniedwatch.deploy.permissions import MANAGED_POLICY_LIMIT, deployer_policies
    from deniedwatch.partition import partition_of

    documents = deployer_policies(stack_name, partition_of(region))
    typer.echo(json.dumps(documents, indent=2))
    err.print(
        f"{len(documents)} policy documents (each within IAM's {MANAGED_POLICY_LIMIT:,}-character "
        "limit for a managed policy): create one managed policy from each and attach them all; "
        "docs/deploy.md#iam shows the commands"
    )


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
        (
            "Slack buttons",
            "function URL (public, Slack-signed)" if the_plan.slack_interactivity else "off",
        ),
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
    from deniedwatch.secrets import SIGNING_SECRET_KEY

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
    if url := result.outputs.get("SlackInteractivityUrl"):
        # the two lines to paste into the Slack app's settings (docs/triage.md)
        typer.echo(f"Slack app > Interactivity & Shortcuts > Request URL: {url}")
        typer.echo(
            f"Slack app > Basic Information > Signing Secret: store it with "
            f"`deniedwatch set-secret {SIGNING_SECRET_KEY}`"
        )
    if the_plan.email:
        err.print(
            f"[yellow]AWS sent a confirmation email to {escape(the_plan.email)}: click its link, "
            "or no email alerts arrive.[/] `deniedwatch status` shows whether it is confirmed."
        )
