"""What a deploy will do, as plain data: the template text, the stack parameters, checks.

Pure functions only; deploy/stack.py and deploy/aws.py do the talking to AWS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import urlsplit

from deniedwatch.deploy import names
from deniedwatch.deploy.names import ALARM_PERIODS, LOG_RETENTION_DAYS
from deniedwatch.rules import DenialRule

TEMPLATE_RESOURCE = "template.yaml"
FILTER_PATTERN_LIMIT = 1024  # CloudWatch Logs subscription filter pattern limit
_DEFAULT_LINE = re.compile(
    r"^(?P<indent>\s*)Default: '.*'$(?=\n\s*MaxLength: 1024)", flags=re.MULTILINE
)
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


def render_template(rule: DenialRule) -> str:
    """The template with DenialFilterPattern's default rendered from ``rule``.

    Deploy passes the pattern as a parameter anyway; this is for `deniedwatch template`,
    so a pipeline that deploys the printed text gets the settings' rule too.
    """
    text = template_text()
    pattern = checked_filter_pattern(rule)
    rendered, count = _DEFAULT_LINE.subn(
        lambda m: f"{m['indent']}Default: {yaml_single_quoted(pattern)}", text, count=1
    )
    if count != 1:  # the template lost its marker line: a packaging bug, not user error
        raise RuntimeError("template.yaml: DenialFilterPattern default line not found")
    return rendered


def checked_filter_pattern(rule: DenialRule) -> str:
    pattern = rule.filter_pattern()
    if len(pattern) > FILTER_PATTERN_LIMIT:
        raise PlanError(
            f"the denial filter pattern is {len(pattern)} characters, over CloudWatch Logs' "
            f"limit of {FILTER_PATTERN_LIMIT}: list fewer [denial] extra_codes/ignored_codes"
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
    trail_bucket: str | None = None  # None: CloudFormation generates a name
    trail_bucket_retention_days: int = 365
    # An organization trail made from a delegated administrator: the management account
    # id its ARN carries (None: this account is the management account, or no org trail).
    trail_owner_account_id: str | None = None

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
}


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
    if not _REGION.fullmatch(plan.region):
        raise PlanError(f"region {plan.region!r} does not look like an AWS region (eu-west-1)")
    for what, bucket in (("code bucket", plan.code_bucket), ("trail bucket", plan.trail_bucket)):
        if bucket is not None and (not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket):
            raise PlanError(f"{what} {bucket!r} is not a valid S3 bucket name")
    if plan.trail_bucket and plan.existing_log_group:
        raise PlanError("trail_bucket names a new trail's bucket; not with an existing log group")
    if plan.trail_bucket_retention_days < 1:
        raise PlanError("trail_bucket_retention_days must be at least 1")
    if plan.email and not _EMAIL.fullmatch(plan.email):
        raise PlanError(f"email {plan.email!r} is not an email address")
    if plan.log_retention_days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise PlanError(f"log_retention_days {plan.log_retention_days}: one of {allowed}")
    if plan.alarm_period_seconds not in ALARM_PERIODS:
        allowed = ", ".join(map(str, ALARM_PERIODS))
        raise PlanError(f"alarm_period_seconds {plan.alarm_period_seconds}: one of {allowed}")
    if plan.alarm_threshold < 1:
        raise PlanError("alarm_threshold must be at least 1")
    if plan.organization_trail and plan.existing_log_group:
        raise PlanError(
            "organization_trail makes a new trail; it cannot go with an existing log group"
        )
    return plan


def check_webhook_url(url: str) -> str:
    """A Slack incoming webhook URL: https, or http only to a loopback stand-in for tests."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise PlanError(
        "the Slack webhook URL must be an https URL (https://hooks.slack.com/services/…)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_slack_channel(settings_text: str, channel: str | None) -> str:
    """The settings text with ``[alerts] slack_channel`` set, for the zip's settings file.

    Edits one line (or adds it) instead of re-serialising the TOML, so the user's
    comments and layout reach the function unchanged.
    """
    if not channel:
        return settings_text
    line = f"slack_channel = {_toml_string(channel)}"
    lines = settings_text.splitlines()
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    in_alerts = False
    alerts_at: int | None = None
    for i, text in enumerate(lines):
        if m := header.match(text):
            in_alerts = m.group(1) == "alerts" and not text.lstrip().startswith("[[")
            if in_alerts:
                alerts_at = i
            continue
        if in_alerts and re.match(r"^\s*slack_channel\s*=", text):
            lines[i] = line
            return "\n".join(lines) + "\n"
    if alerts_at is not None:
        lines.insert(alerts_at + 1, line)
        return "\n".join(lines) + "\n"
    body = (
        settings_text if settings_text.endswith("\n") or not settings_text else settings_text + "\n"
    )
    return body + f"\n[alerts]\n{line}\n"


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
