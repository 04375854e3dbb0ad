"""`deniedwatch deploy`'s steps, as one function a test (or a script) calls without the CLI.

preflight -> summary and confirmation -> zip -> code bucket -> upload -> stack (change
set) -> destination secrets into the stack's secret. The CLI only gathers inputs and draws
progress.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from deniedwatch.deploy import aws, names, plan, preflight
from deniedwatch.deploy.resources import Resource, resources_for
from deniedwatch.deploy.stack import DeployResult, Observer, Stacks, is_dead, physical_ids
from deniedwatch.rules import DenialRule


@dataclass(frozen=True)
class Summary:
    """What the user confirms: the checked plan and every resource the stack will have."""

    plan: plan.DeployPlan
    account: str
    new_secrets: tuple[str, ...]  # destinations whose secret this deploy writes
    channel: str | None
    resources: list[Resource]
    stack_exists: bool


@dataclass
class DeployOutcome:
    result: DeployResult
    summary: Summary
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _quiet() -> Iterator[Observer]:
    yield Observer()


def summarise(the_plan: plan.DeployPlan) -> list[Resource]:
    """The stack's resources for this plan, from the template (one place)."""
    text = plan.with_triage(plan.template_text()) if the_plan.slack_interactivity else None
    return resources_for(the_plan.parameters("<code key>"), plan.CONDITIONS, text)


def deploy(
    clients: Callable[[str], Any],
    the_plan: plan.DeployPlan,
    rule: DenialRule,
    *,
    account: str,
    settings_text: str,
    secret_values: Mapping[str, str] | None = None,
    channel: str | None = None,
    confirm: Callable[[Summary], bool] = lambda summary: True,
    progress: Callable[[], AbstractContextManager[Observer]] | None = None,
    say: Callable[[str], None] = lambda line: None,
    checks: tuple[preflight.Check, ...] = preflight.PREFLIGHT_CHECKS,
    stand_in: str | None = None,
    skip_preflight: bool = False,
) -> DeployOutcome | None:
    """Deploy ``the_plan``; None when ``confirm`` said no (nothing was created).

    ``stand_in``: the local endpoint (AWS_ENDPOINT_URL) answering instead of AWS, whose
    missing operations skip a preflight check with a warning instead of stopping."""
    from deniedwatch.deploy.package import build_zip

    the_plan = plan.check_plan(the_plan)
    stacks = Stacks(clients("cloudformation"))
    existing = stacks.describe(the_plan.stack_name)
    leftover: frozenset[str] = frozenset()
    if is_dead(existing):
        # A failed first create: nothing to update and, its rollback having deleted the
        # secret, nothing to keep. Stacks.deploy deletes it before it creates the stack.
        assert existing is not None
        leftover = frozenset(physical_ids(stacks.cfn, existing["StackId"]))
        say(
            f"stack {the_plan.stack_name} is {existing['StackStatus']} from an earlier "
            "deploy that did not finish: it is deleted, then created again"
        )
        existing = None
    stack_exists = existing is not None
    proofs = preflight.Preflight(
        the_plan,
        rule,
        clients,
        account,
        stack_exists,
        failed_stack_resources=leftover,
        stand_in=stand_in,
    )
    the_plan = preflight.run_checks(proofs, checks, skip=skip_preflight)
    for note in proofs.notes:
        say(note)
    for line in proofs.skipped:
        say(f"warning: {line}")
    summary = Summary(
        plan=the_plan,
        account=account,
        new_secrets=tuple(secret_values or ()),
        channel=channel,
        resources=summarise(the_plan),
        stack_exists=stack_exists,
    )
    if not confirm(summary):
        return None

    s3 = clients("s3")
    settings_text = plan.with_slack_channel(settings_text, channel)
    # the function decodes exactly when its role may ([explain] <-> DecodeMessages condition)
    settings_text = plan.with_decoding(settings_text, the_plan.decode_authorization_messages)
    package = build_zip(settings_text)
    say(
        f"function zip: {package.size / 1024:.0f} KiB, {len(package.names)} files, "
        f"sha256 {package.sha256[:12]}"
    )
    plain_http = bool(stand_in and stand_in.startswith("http://"))
    if aws.ensure_code_bucket(
        s3, the_plan.code_bucket, the_plan.region, account, tls_only=not plain_http
    ):
        tls = "TLS only" if not plain_http else "NOT TLS only"
        say(f"created code bucket {the_plan.code_bucket} (encrypted, {tls}, not public)")
        if plain_http:
            say(
                f"warning: not applied: the code bucket's TLS-only policy ({stand_in} "
                "serves plain http, which the policy would refuse)"
            )
    key = plan.code_key(the_plan.stack_name, package.sha256)
    aws.upload_code(s3, the_plan.code_bucket, key, package.data)
    with (progress or _quiet)() as observer:
        stacks.observer = observer
        template = plan.render_template(
            rule, the_plan.live_source, slack_interactivity=the_plan.slack_interactivity
        )
        result = stacks.deploy(the_plan.stack_name, template, the_plan.parameters(key))
    outcome = DeployOutcome(result, summary)
    if secret_values:
        secret = names.secret_name(the_plan.stack_name)
        sm = clients("secretsmanager")
        if stand_in and aws.secret_state(sm, secret) == "missing":
            # moto's CloudFormation reports the stack complete without creating its
            # AWS::SecretsManager::Secret: say that, not "deleted outside the stack"
            outcome.notes.append(
                f"warning: {aws.secret_not_made(stand_in, secret)}: the destination "
                "secrets were not stored"
            )
            return outcome
        rotated = store_secrets(sm, the_plan.stack_name, secret_values)
        if rotated != "unchanged":
            named = ", ".join(secret_values)
            outcome.notes.append(f"stored the secret of {named} in {secret}")
    return outcome


def store_secrets(
    sm: Any, stack: str, values: Mapping[str, str], stand_in: str | None = None
) -> str:
    """Set destinations' secrets in the stack's secret, keeping the others (``deploy`` and
    ``set-secret``); "unchanged" or the new version id (the old one stays AWSPREVIOUS).
    ``stand_in``: the local endpoint (AWS_ENDPOINT_URL), to name a secret it never made."""
    from deniedwatch import secrets

    secret = names.secret_name(stack)
    merged = aws.secret_value(sm, secret)
    plan.stored_secret_names(merged, secret)  # a value of the wrong shape: a clear error
    for name, value in values.items():
        merged = secrets.merge_secrets(merged, name, value)
    return aws.rotate_secret(sm, secret, merged or "{}", stack, stand_in)
