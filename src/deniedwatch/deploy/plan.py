"""What a deploy will do, as plain data: the template text, the stack parameters, checks.

Pure functions only; deploy/stack.py and deploy/aws.py do the talking to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from deniedwatch.deploy import names
from deniedwatch.deploy.names import ALARM_PERIODS, LOG_RETENTION_DAYS
from deniedwatch.deploy.triage_template import (  # re-exported: plan is where deploy looks
    NO_FUNCTION_URLS as NO_FUNCTION_URLS,
)
from deniedwatch.deploy.triage_template import with_triage as with_triage
from deniedwatch.livesource import DEFAULT_LIVE_SOURCE, LIVE_SOURCES, Path
from deniedwatch.rules import DenialRule
from deniedwatch.urls import https_or_loopback

if TYPE_CHECKING:
    from deniedwatch.pipeline import SecretNeed

EVENTBRIDGE_ONLY = Path.EVENTBRIDGE.value

TEMPLATE_RESOURCE = "template.yaml"
FILTER_PATTERN_LIMIT = 1024  # CloudWatch Logs subscription filter pattern limit
# "Event pattern: 2048 characters maximum"
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
EVENT_PATTERN_LIMIT = 2048
# SQS event source mapping: batch size 1-10000, batching window 0-300 s, and a batch
# over 10 needs a window of at least 1 s.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
QUEUE_BATCH_SIZE_MAX = 10000
QUEUE_BATCH_WINDOW_MAX = 300
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_BUCKET_NAME = re.compile(r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


class PlanError(ValueError):
    """An input that cannot be deployed; the message says which and why."""


def template_text() -> str:
    """The CloudFormation template shipped in the package, as written."""
    return files("deniedwatch.deploy").joinpath(TEMPLATE_RESOURCE).read_text(encoding="utf-8")


def yaml_single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_FILTER_DEFAULT = re.compile(
    rf"^(?P<indent>\s*)Default: '.*'$(?=\n\s*MaxLength: {FILTER_PATTERN_LIMIT}\n)",
    flags=re.MULTILINE,
)
_EVENT_PATTERN_LINE = re.compile(r"^(?P<indent>\s*)EventPattern: \{.*\}$", flags=re.MULTILINE)


def yaml_flow_json(value: object) -> str:
    """JSON on one line that YAML reads back the same (ASCII, a space after ':' and ',')."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=True)


def render_template(
    rule: DenialRule,
    live_source: str = DEFAULT_LIVE_SOURCE,
    *,
    slack_interactivity: bool = False,
) -> str:
    """The template with the filter pattern's default and the EventBridge rule's pattern
    rendered from ``rule``, and the LiveSource default set to ``live_source``; with
    ``slack_interactivity``, the function URL of triage (docs/triage.md), else none.

    Deploy passes them as parameters anyway; this is for `deniedwatch template`, so a
    pipeline that deploys the printed text gets the settings' rule and live source too.
    """
    text = template_text()
    pattern = checked_filter_pattern(rule)
    fallback = rule.filter_pattern_regex()
    text, count = _FILTER_DEFAULT.subn(
        lambda m: (
            f"{m['indent']}# or, if CloudWatch Logs refuses this wildcard form, the same rule "
            f"as one regular expression (deploy tries both):\n{m['indent']}# "
            f"{yaml_single_quoted(fallback)}\n"
            f"{m['indent']}Default: {yaml_single_quoted(pattern)}"
        ),
        text,
        count=1,
    )
    if count != 1:  # the template lost its marker line: a packaging bug, not user error
        raise RuntimeError("template.yaml: DenialFilterPattern default line not found")
    # In the template, not a parameter: moto's CloudFormation re-encodes a string
    # EventPattern, and an object lets cfn-lint check the pattern's shape.
    event_pattern = yaml_flow_json(json.loads(checked_event_pattern(rule)))
    text, count = _EVENT_PATTERN_LINE.subn(
        lambda m: f"{m['indent']}EventPattern: {event_pattern}", text, count=1
    )
    if count != 1:
        raise RuntimeError("template.yaml: the rule's EventPattern line not found")
    if live_source not in LIVE_SOURCES:
        raise PlanError(f"live source {live_source!r}: one of {', '.join(LIVE_SOURCES)}")
    text, count = re.subn(
        r"^(  LiveSource:\n    Type: String\n    Default: )\S+$",
        lambda m: m[1] + live_source,
        text,
        count=1,
        flags=re.MULTILINE,
    )
    if count != 1:
        raise RuntimeError("template.yaml: LiveSource default line not found")
    return with_triage(text) if slack_interactivity else text


def checked_filter_pattern(rule: DenialRule) -> str:
    pattern = rule.filter_pattern()
    if len(pattern) > FILTER_PATTERN_LIMIT:
        raise PlanError(
            f"the denial filter pattern is {len(pattern)} characters, over CloudWatch Logs' "
            f"limit of {FILTER_PATTERN_LIMIT}: list fewer [denial] extra_codes/ignored_codes"
        )
    return pattern


def checked_event_pattern(rule: DenialRule) -> str:
    """The EventBridge pattern as the compact JSON text the rule takes."""
    pattern = json.dumps(rule.event_pattern(), separators=(",", ":"), ensure_ascii=False)
    if len(pattern) > EVENT_PATTERN_LIMIT:
        raise PlanError(
            f"the denial event pattern is {len(pattern)} characters, over EventBridge's "
            f"limit of {EVENT_PATTERN_LIMIT}: list fewer [denial] extra_codes"
        )
    return pattern


def secret_name(stack_name: str) -> str:
    return names.secret_name(stack_name)


def default_code_bucket(account_id: str, region: str) -> str:
    return f"deniedwatch-code-{account_id}-{region}"


def code_key(stack_name: str, sha256: str) -> str:
    """Content-addressed: a changed zip gets a new key, so CloudFormation updates the code."""
    return f"{names.code_prefix(stack_name)}lambda-{sha256[:20]}.zip"


@dataclass(frozen=True)
class DeployPlan:
    """Everything `deniedwatch deploy` decided, before touching AWS."""

    stack_name: str
    region: str
    code_bucket: str
    filter_pattern: str
    email: str | None = None
    existing_log_group: str | None = None
    organization_trail: bool = False
    log_retention_days: int = 365
    alarm_threshold: int = 1
    alarm_period_seconds: int = 300
    decode_authorization_messages: bool = False
    security_hub: bool = False  # a "securityhub" destination: the function may import findings
    live_source: str = DEFAULT_LIVE_SOURCE
    event_pattern: str = ""  # checked_event_pattern(rule), for the TestEventPattern proof
    queue_batch_size: int = 10
    queue_batch_window_seconds: int = 1
    trail_bucket: str | None = None  # None: CloudFormation generates a name
    trail_bucket_retention_days: int = 365
    # An organization trail made from a delegated administrator: the management account
    # id its ARN carries (None: this account is the management account, or no org trail).
    trail_owner_account_id: str | None = None
    # `deploy --slack-interactivity`: the function URL for triage buttons (docs/triage.md)
    slack_interactivity: bool = False

    @property
    def uses_eventbridge(self) -> bool:
        return self.live_source != DEFAULT_LIVE_SOURCE

    @property
    def subscribes_to_logs(self) -> bool:
        """A subscription filter on the log group (every mode but eventbridge)."""
        return self.live_source != EVENTBRIDGE_ONLY

    def parameters(self, code_key: str) -> dict[str, str]:
        """CloudFormation parameters (strings, as the API wants them). Never the webhook."""
        return {
            "ExistingLogGroupName": self.existing_log_group or "",
            "OrganizationTrail": "true" if self.organization_trail else "false",
            "TrailOwnerAccountId": self.trail_owner_account_id or "",
            "TrailBucketName": self.trail_bucket or "",
            "LogRetentionDays": str(self.log_retention_days),
            "TrailBucketRetentionDays": str(self.trail_bucket_retention_days),
            "AlertEmail": self.email or "",
            "AlarmThreshold": str(self.alarm_threshold),
            "AlarmPeriodSeconds": str(self.alarm_period_seconds),
            "DenialFilterPattern": self.filter_pattern,
            "DecodeAuthorizationMessages": str(self.decode_authorization_messages).lower(),
            "SecurityHubFindings": str(self.security_hub).lower(),
            "LiveSource": self.live_source,
            "QueueBatchSize": str(self.queue_batch_size),
            "QueueBatchWindowSeconds": str(self.queue_batch_window_seconds),
            "CodeBucket": self.code_bucket,
            "CodeKey": code_key,
        }


# Each template condition, evaluated on the stack parameters (for the deploy summary).
# tests/test_names.py fails when the template has a condition this does not know.
CONDITIONS: dict[str, Callable[[Mapping[str, str]], bool]] = {
    "CreateTrail": lambda p: not p.get("ExistingLogGroupName"),
    "UseOrganizationTrail": lambda p: (
        not p.get("ExistingLogGroupName") and p.get("OrganizationTrail") == "true"
    ),
    "HasAlertEmail": lambda p: bool(p.get("AlertEmail")),
    "HasTrailOwnerAccountId": lambda p: bool(p.get("TrailOwnerAccountId")),
    "HasTrailBucketName": lambda p: bool(p.get("TrailBucketName")),
    "LogsPath": lambda p: p.get("LiveSource") != "eventbridge",
    "EventBridgePath": lambda p: p.get("LiveSource") != "cloudwatch-logs",
    "CreateTrailLogGroup": lambda p: (
        not p.get("ExistingLogGroupName") and p.get("LiveSource") != "eventbridge"
    ),
    "HasLogGroup": lambda p: (
        p.get("LiveSource") != "eventbridge" or bool(p.get("ExistingLogGroupName"))
    ),
    "DecodeMessages": lambda p: p.get("DecodeAuthorizationMessages") == "true",
    "ImportFindings": lambda p: p.get("SecurityHubFindings") == "true",
}


def check_region(region: str) -> str:
    if not _REGION.fullmatch(region):
        raise PlanError(f"region {region!r} does not look like an AWS region (eu-west-1)")
    return region


def check_bucket(bucket: str, what: str = "bucket") -> str:
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise PlanError(f"{what} {bucket!r} is not a valid S3 bucket name")
    return bucket


def check_email(email: str) -> str:
    if not _EMAIL.fullmatch(email):
        raise PlanError(f"email {email!r} is not an email address")
    return email


def problem_of(check: Callable[[str], object]) -> Callable[[str], str | None]:
    """A check that raises PlanError as one that returns the problem (for prompts)."""

    def problem(value: str) -> str | None:
        try:
            check(value)
        except PlanError as exc:
            return str(exc)
        return None

    return problem


def check_stack_name(stack_name: str) -> str:
    """Letters, digits, hyphens; short enough that every derived name fits its service."""
    if not _STACK_NAME.fullmatch(stack_name) or len(stack_name) > names.MAX_STACK_NAME:
        raise PlanError(
            f"stack name {stack_name[:80]!r}: letters, digits and hyphens, starting with a "
            f"letter, at most {names.MAX_STACK_NAME} characters (the function is named "
            f"{names.FUNCTION.of('<stack>')!r} and Lambda allows {names.FUNCTION.limit})"
        )
    return stack_name


def check_plan(plan: DeployPlan) -> DeployPlan:
    """Raise PlanError for the first input CloudFormation would reject (earlier, clearer)."""
    check_stack_name(plan.stack_name)
    check_region(plan.region)
    for what, bucket in (("code bucket", plan.code_bucket), ("trail bucket", plan.trail_bucket)):
        if bucket is not None:
            check_bucket(bucket, what)
    if plan.slack_interactivity and plan.region in NO_FUNCTION_URLS:
        raise PlanError(
            f"--slack-interactivity: Lambda has no function URLs in {plan.region}; deploy "
            "without it (alerts keep working, without buttons)"
        )
    if plan.trail_bucket and plan.existing_log_group:
        raise PlanError("trail_bucket names a new trail's bucket; not with an existing log group")
    if plan.trail_bucket_retention_days < 1:
        raise PlanError("trail_bucket_retention_days must be at least 1")
    if plan.email:
        check_email(plan.email)
    if plan.log_retention_days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise PlanError(f"log_retention_days {plan.log_retention_days}: one of {allowed}")
    if plan.alarm_period_seconds not in ALARM_PERIODS:
        allowed = ", ".join(map(str, ALARM_PERIODS))
        raise PlanError(f"alarm_period_seconds {plan.alarm_period_seconds}: one of {allowed}")
    if plan.alarm_threshold < 1:
        raise PlanError("alarm_threshold must be at least 1")
    if plan.live_source not in LIVE_SOURCES:
        raise PlanError(f"live_source {plan.live_source!r}: one of {', '.join(LIVE_SOURCES)}")
    if not 1 <= plan.queue_batch_size <= QUEUE_BATCH_SIZE_MAX:
        raise PlanError(f"queue_batch_size {plan.queue_batch_size}: 1 to {QUEUE_BATCH_SIZE_MAX}")
    if not 0 <= plan.queue_batch_window_seconds <= QUEUE_BATCH_WINDOW_MAX:
        raise PlanError(
            f"queue_batch_window_seconds {plan.queue_batch_window_seconds}: "
            f"0 to {QUEUE_BATCH_WINDOW_MAX}"
        )
    if plan.queue_batch_size > 10 and plan.queue_batch_window_seconds < 1:
        raise PlanError(
            "queue_batch_size over 10 needs queue_batch_window_seconds of at least 1 "
            "(an SQS event source mapping rule)"
        )
    if plan.organization_trail and plan.existing_log_group:
        raise PlanError(
            "organization_trail makes a new trail; it cannot go with an existing log group"
        )
    if plan.organization_trail and plan.live_source == "eventbridge":
        # CloudTrail puts each call on the default event bus of the account it was made
        # in; a rule here sees this account's calls only, and this mode has no log group
        # for the organization trail's events of the other accounts:
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
        raise PlanError(
            "an organization trail with live_source eventbridge would alert on this "
            "account's denials only (CloudTrail sends each call to the EventBridge bus of "
            "the account it was made in): use --live-source both or cloudwatch-logs"
        )
    return plan


def check_webhook_url(url: str) -> str:
    """A Slack incoming webhook URL: https, or http only to a loopback stand-in for tests."""
    url = url.strip()
    if https_or_loopback(url):
        return url
    raise PlanError(
        "the Slack webhook URL must be an https URL (https://hooks.slack.com/services/…)"
    )


def with_slack_channel(settings_text: str, channel: str | None) -> str:
    """The settings text with ``[alerts] slack_channel`` set, for the zip's settings file."""
    if not channel:
        return settings_text
    return with_setting(settings_text, "alerts", "slack_channel", _toml_string(channel))


# The function's settings when a deploy has no Slack webhook (and no [[destinations]]):
# email only, through the stack's topic (the sns type reads DENIEDWATCH_SNS_TOPIC_ARN).
# Without it the function would count a Slack destination with nothing in the secret.
EMAIL_ONLY_DESTINATIONS = (
    "\n# written by `deniedwatch deploy`: no Slack webhook was given, so alerts go by email\n"
    '[[destinations]]\nname = "email"\ntype = "sns"\n'
)


def with_email_only(settings_text: str) -> str:
    """The settings text with the one email destination (see EMAIL_ONLY_DESTINATIONS)."""
    return settings_text.rstrip("\n") + "\n" + EMAIL_ONLY_DESTINATIONS


def with_decoding(settings_text: str, on: bool) -> str:
    """The settings text with ``[explain] decode_authorization_messages`` as deployed."""
    return with_setting(
        settings_text, "explain", "decode_authorization_messages", "true" if on else "false"
    )


def with_setting(settings_text: str, table: str, key: str, value: str) -> str:
    """The settings text with ``[table] key = value`` (value already TOML).

    Edits one line (or adds it) instead of re-serialising the TOML, so the user's
    comments and layout reach the function unchanged.
    """
    line = f"{key} = {value}"
    lines = settings_text.splitlines()
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    assign = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    inside = False
    table_at: int | None = None
    for i, text in enumerate(lines):
        if m := header.match(text):
            inside = m.group(1) == table and not text.lstrip().startswith("[[")
            if inside:
                table_at = i
            continue
        if inside and assign.match(text):
            lines[i] = line
            return "\n".join(lines) + "\n"
    if table_at is not None:
        lines.insert(table_at + 1, line)
        return "\n".join(lines) + "\n"
    body = (
        settings_text if settings_text.endswith("\n") or not settings_text else settings_text + "\n"
    )
    return body + f"\n[{table}]\n{line}\n"


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def collect_secrets(
    needs: Sequence[SecretNeed],
    stored: Collection[str],
    ask: Callable[[SecretNeed, bool], str | None],
) -> dict[str, str]:
    """The destination secrets this deploy writes: ``ask(need, is_stored)`` gives a value
    (from a flag, the env or a hidden prompt) or None to keep the stored one. A value of
    the wrong shape, or none for a destination with nothing stored, is a PlanError."""
    values: dict[str, str] = {}
    for need in needs:
        given = (ask(need, need.destination in stored) or "").strip()
        if given:
            if problem := need.problem(given):
                raise PlanError(f"destination {need.destination}: the {need.what} {problem}")
            values[need.destination] = given
        elif need.destination not in stored:
            where = f"set {need.url_env} or " if need.url_env else ""
            raise PlanError(
                f"destination {need.destination} needs its {need.what} on the first deploy: "
                f"{where}answer the prompt"
            )
    return values


def stored_secret_names(text: str | None, secret: str) -> set[str]:
    """The destinations the stack's secret holds a value for (its names, never the values)."""
    from deniedwatch import secrets

    if not text or not text.strip():
        return set()
    try:
        return set(secrets.parse_secrets(text, secret))
    except secrets.SecretError as exc:
        raise PlanError(f"{exc}: fix or delete its value, then deploy again") from None
