"""What `deniedwatch status` reads: the stack, its trail, email subscription, function
errors, dead letters, held denials and mutes, and what a person should look at.

Every function takes the boto3 clients it needs, so tests point them at moto server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from deniedwatch.deploy.aws import code_of, not_made_by_stand_in
from deniedwatch.deploy.names import HEALTHY_STACK_STATUSES


@dataclass
class StatusReport:
    stack_name: str
    region: str | None = None  # where `status` looked
    stack_status: str | None = None
    filter_pattern: str | None = None  # the subscription filter pattern deployed
    trail_name: str | None = None
    trail_logging: bool | None = None  # None: no trail of ours (existing-trail mode) or unknown
    email_subscriptions: dict[str, bool] = field(default_factory=dict)  # endpoint -> confirmed
    function_errors_24h: int | None = None
    dead_letters: int | None = None
    events_dead_letters: int | None = None  # the fast path's (live_source eventbridge / both)
    # denials the dedup table holds unannounced: in how many groups, and how many of them
    # sit in windows that closed long enough ago that the flush schedule should have run
    held_denials: int | None = None
    held_groups: int = 0
    held_overdue: int = 0
    active_mutes: int | None = None  # set from Slack's buttons (docs/triage.md)
    unreadable: list[str] = field(default_factory=list)  # what could not be checked, and why
    # what a local stand-in (AWS_ENDPOINT_URL) did not create, so could not be checked: said
    # as a warning, not a problem of the stack (moto's CloudFormation skips several types)
    not_made_by_stand_in: list[str] = field(default_factory=list)


# The flush schedule runs every 15 minutes; a window closed longer ago than this with
# denials still held means it is not running (or cannot post).
FLUSH_OVERDUE = timedelta(minutes=30)


def health_problems(report: StatusReport) -> list[str]:
    """What a person should look at; empty when all is well."""
    problems = []
    if report.stack_status is None:
        return [f"stack {report.stack_name} does not exist in {report.region or 'this region'}"]
    if report.stack_status not in HEALTHY_STACK_STATUSES:
        problems.append(f"stack is {report.stack_status}")
    if report.trail_name and report.trail_logging is False:
        problems.append(f"trail {report.trail_name} is not logging")
    pending = [e for e, ok in report.email_subscriptions.items() if not ok]
    if pending:
        problems.append("email subscription not confirmed: " + ", ".join(pending))
    if report.function_errors_24h:
        problems.append(f"the function failed {report.function_errors_24h} times in 24 h")
    if report.dead_letters:
        problems.append(f"{report.dead_letters} undelivered alerts in the dead-letter queue")
    if report.events_dead_letters:
        problems.append(
            f"{report.events_dead_letters} denials the fast path could not alert in the events "
            "dead-letter queue (docs/live-sources.md)"
        )
    if report.held_overdue:
        problems.append(
            f"{report.held_overdue} held denials in dedup windows that closed over 30 min ago "
            "were never summarised: is the FlushSchedule rule enabled, and the function healthy?"
        )
    return problems + [f"could not check {u}" for u in report.unreadable]


def where_else(region: str, settings_region: str | None, region_flag: str | None) -> str:
    """Where to look when `status` finds no stack in ``region``: the settings' region when
    the flag pointed elsewhere, else how to name another one."""
    if settings_region and settings_region != region:
        command = f"deniedwatch status --region {settings_region}"
        return f"the settings name {settings_region}: `{command}`"
    if region_flag:
        return "deployed in another region? pass that --region"
    return "deployed in another region? pass --region, or set [deploy] region in the settings"


def gather_status(
    clients: Any,
    stack_name: str,
    now: datetime | None = None,
    region: str | None = None,
    stand_in: str | None = None,
) -> StatusReport:
    """Read everything `deniedwatch status` shows; ``clients(name)`` returns a boto3 client.
    ``stand_in``: the local endpoint answering instead of AWS (AWS_ENDPOINT_URL), whose
    CloudFormation may report a resource created that it skipped (moto skips
    AWS::CloudTrail::Trail: tests/test_template.py MOTO_SKIPS, read from moto's model map)."""
    from deniedwatch.deploy.stack import physical_ids

    report = StatusReport(stack_name, region)
    cfn = clients("cloudformation")
    try:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return report
        raise
    report.stack_status = stack["StackStatus"]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    if parameters.get("LiveSource") != "eventbridge":  # else no subscription filter
        report.filter_pattern = parameters.get("DenialFilterPattern")
    ids = physical_ids(cfn, stack["StackId"])

    def probe(what: str, fn: Any) -> None:
        try:
            fn()
        except ClientError as exc:
            report.unreadable.append(f"{what} ({code_of(exc)})")

    if "TrailLogGroup" in ids:  # the stack made its own trail (not existing-trail mode)
        trail = report.trail_name = ids.get("Trail") or f"{stack_name}-trail"

        def trail_status() -> None:
            try:
                status = clients("cloudtrail").get_trail_status(Name=trail)
            except ClientError as exc:
                if not (stand_in and code_of(exc) == "TrailNotFoundException"):
                    raise
                report.not_made_by_stand_in.append(
                    not_made_by_stand_in(stand_in, f"trail {trail}", "AWS::CloudTrail::Trail")
                    + ": trail logging not checked"
                )
                return
            report.trail_logging = bool(status.get("IsLogging"))

        probe(f"trail {trail}", trail_status)
    if topic := ids.get("AlertTopic"):

        def subscriptions() -> None:
            sns = clients("sns")
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
                for sub in page.get("Subscriptions", []):
                    if sub.get("Protocol") == "email":
                        confirmed = sub.get("SubscriptionArn", "").startswith("arn:")
                        report.email_subscriptions[sub["Endpoint"]] = confirmed

        probe("the email subscription", subscriptions)
    if function := ids.get("Function"):

        def errors() -> None:
            end = now or datetime.now(UTC)
            stats = clients("cloudwatch").get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="Errors",
                Dimensions=[{"Name": "FunctionName", "Value": function}],
                StartTime=end - timedelta(hours=24),
                EndTime=end,
                Period=3600,
                Statistics=["Sum"],
            )
            report.function_errors_24h = int(sum(p["Sum"] for p in stats.get("Datapoints", [])))

        probe("the function's errors", errors)

    def depth(queue: str) -> int:
        attrs = clients("sqs").get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    if queue := ids.get("DeadLetterQueue"):

        def alerts_depth() -> None:
            report.dead_letters = depth(queue)

        probe("the dead-letter queue", alerts_depth)
    if events_queue := ids.get("DenialEventsDeadLetterQueue"):

        def events_depth() -> None:
            report.events_dead_letters = depth(events_queue)

        probe("the events dead-letter queue", events_depth)
    if table := ids.get("DedupTable"):

        def held() -> None:
            from deniedwatch.alerts.dedup import DedupStoreError, DynamoStore

            try:
                groups = DynamoStore(table, client=clients("dynamodb")).held_groups()
            except DedupStoreError as exc:  # the store's own error: it wraps ClientError
                report.unreadable.append(f"the held denials ({str(exc)[:120]})")
                return
            overdue = (now or datetime.now(UTC)) - FLUSH_OVERDUE
            report.held_denials = sum(g.held for g in groups)
            report.held_groups = len(groups)
            report.held_overdue = sum(g.held for g in groups if g.closes_at < overdue.timestamp())

        probe("the held denials", held)

        def mutes() -> None:
            from deniedwatch.alerts.dedup import DynamoStore
            from deniedwatch.triage.store import DynamoMutes, MuteStoreError

            store = DynamoMutes(DynamoStore(table, client=clients("dynamodb")))
            try:
                report.active_mutes = len(store.active((now or datetime.now(UTC)).timestamp()))
            except MuteStoreError as exc:
                report.unreadable.append(f"the mutes ({str(exc)[:120]})")

        probe("the mutes", mutes)
    return report
