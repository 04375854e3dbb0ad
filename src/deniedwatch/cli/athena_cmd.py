"""`deniedwatch athena create-table`: wiring only; the work is in deniedwatch.sources.athena."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from deniedwatch.cli._app import app, err, fail

athena_app = typer.Typer(
    help="Organization history with Athena: the table `scan --engine athena` reads.",
    no_args_is_help=True,
)
app.add_typer(athena_app, name="athena")

DatabaseOpt = Annotated[str, typer.Option(help="Glue database of the CloudTrail table.")]
TableOpt = Annotated[str, typer.Option(help="The CloudTrail table's name.")]
WorkgroupOpt = Annotated[str, typer.Option(help="Athena workgroup to run queries in.")]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output-location",
        help="s3://… for query results (default: the workgroup's result location).",
        show_default=False,
    ),
]


def client_factory(service: str, region: str | None = None) -> Any:
    """One lazily built boto3 client (thread-safe, shared); AWS_PROFILE, the credential
    chain and AWS_ENDPOINT_URL apply as usual."""
    client: Any = None

    def get() -> Any:
        nonlocal client
        if client is None:
            from botocore.config import Config

            from deniedwatch import awsclient

            client = awsclient.session().client(
                service,
                region_name=region,
                config=Config(max_pool_connections=32, retries={"mode": "standard"}),
            )
        return client

    return get


@athena_app.command("create-table")
def create_table(
    bucket: Annotated[
        str, typer.Option(help="The trail's S3 bucket (no s3://).", show_default=False)
    ],
    prefix: Annotated[str, typer.Option(help="The trail's key prefix, if it has one.")] = "",
    organization_id: Annotated[
        str | None,
        typer.Option(
            help="o-… for an organization trail (AWSLogs/<org-id>/<account>/…).",
            show_default=False,
        ),
    ] = None,
    database: DatabaseOpt = "deniedwatch",
    table: TableOpt = "cloudtrail_logs",
    workgroup: WorkgroupOpt = "primary",
    output_location: OutputOpt = None,
    first_day: Annotated[
        str, typer.Option(help="First day the table projects (YYYY-MM-DD).")
    ] = "2020-01-01",
) -> None:
    """Create the CloudTrail table (partition projection on account, region and day), or
    bring an existing one's accounts and regions up to date. Safe to run again."""
    from deniedwatch.sources.athena import USD_PER_TB, AthenaError, AthenaTarget
    from deniedwatch.sources.athena import create_table as create
    from deniedwatch.sources.cloudtrail_table import TableSpec

    try:
        start = date.fromisoformat(first_day)
    except ValueError:
        fail(f"--first-day {first_day!r} is not a date like 2020-01-01")
    bucket = bucket.removeprefix("s3://").strip("/")
    spec = TableSpec(bucket, prefix, organization_id, database, table)
    target = AthenaTarget(database, table, workgroup, output_location)
    glue = client_factory("glue")()
    try:
        outcome = create(
            spec,
            target,
            athena=client_factory("athena")(),
            glue=glue,
            s3=client_factory("s3")(),
            first_day=start,
        )
    except AthenaError as exc:
        fail(str(exc))
    action, missing = outcome.action, _not_created_by_stand_in(glue, database, table)
    if missing:
        action = "not created by the stand-in"
        err.print(f"warning: {missing}", soft_wrap=True)
    print(f"{action}: {database}.{table} over {spec.location}")
    print(f"  accounts ({len(outcome.accounts)}): {', '.join(outcome.accounts)}")
    print(f"  regions ({len(outcome.regions)}): {', '.join(outcome.regions)}")
    print(f"  days: {start:%Y/%m/%d} .. today (projected; no partitions to load)")
    for query_id in outcome.query_ids:
        print(f"  query id: {query_id}")
    if outcome.ddl:
        print(outcome.ddl)
    print(
        f"Athena bills ${USD_PER_TB:g} per TB scanned (us-east-1 list price, 10 MB minimum a "
        "query); `deniedwatch scan --engine athena --since 90d` reads only those days' partitions."
    )


def athena_by_stand_in() -> str | None:
    """What to say when a local stand-in (AWS_ENDPOINT_URL) answers Athena: it runs no SQL
    (moto's get_query_results: "Queries are not executed by Moto", 0 rows by default)."""
    from deniedwatch import awsclient

    if stand_in := awsclient.stand_in_endpoint():
        return f"{stand_in} answered for Athena: a stand-in runs no SQL (moto executes no query)"
    return None


def _not_created_by_stand_in(glue: Any, database: str, table: str) -> str | None:
    """Against a stand-in, the table the DDL should have made, when Glue does not have it."""
    if (said := athena_by_stand_in()) is None:
        return None
    try:
        glue.get_table(DatabaseName=database, Name=table)
    except glue.exceptions.EntityNotFoundException:
        return f"{said}, so {database}.{table} was not created"
    return None


def report_athena(source: Any, summary: Any) -> None:
    """`scan --engine athena`'s summary line, and what a stand-in's answer is worth."""
    err.print(source.report(summary), highlight=False, soft_wrap=True)
    if said := athena_by_stand_in():
        err.print(f"warning: {said}: these rows are not your trail's", soft_wrap=True)


def athena_source(
    sources: list[str] | None,
    wanted: Any,
    ruleset: Any,
    include_suppressed: bool,
    all_time: bool,
    status: Any,
    **where: Any,
) -> Any:
    """`scan --engine athena`: the checks that guard cost, then the Source."""
    from deniedwatch.sources.athena import AthenaSource, AthenaTarget

    if sources:
        fail("--engine athena reads the CloudTrail table, not files: drop the file arguments")
    if wanted.since is None and not all_time:
        fail(
            "--engine athena needs --since (e.g. --since 90d): without it Athena reads, "
            "and bills, the whole history; pass --all-time if that is what you want"
        )

    def on_state(state: str, scanned: int) -> None:
        status.update(f"athena query {state.lower()}… {scanned:,} bytes scanned")

    return AthenaSource(
        AthenaTarget(**where),
        ruleset,
        wanted,
        client_factory("athena"),
        include_suppressed=include_suppressed,
        on_state=on_state,
    )
