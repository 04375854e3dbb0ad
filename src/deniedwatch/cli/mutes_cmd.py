"""`deniedwatch mutes list|revoke`: the mutes set from Slack's buttons (docs/triage.md).
Wiring only; the mutes live in the stack's dedup table (deniedwatch.triage.store)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deniedwatch.cli import stack_io
from deniedwatch.cli._app import app, err, fail
from deniedwatch.cli.stack_io import ConfigOpt, RegionOpt, StackOpt

mutes_app = typer.Typer(
    help="Mutes set from the Slack buttons: list them, end one (docs/triage.md).",
    no_args_is_help=True,
)
app.add_typer(mutes_app, name="mutes")


def _store(config: Any, stack_name: str | None, region: str | None) -> Any:
    from deniedwatch.alerts.dedup import DynamoStore
    from deniedwatch.deploy.stack import physical_ids
    from deniedwatch.triage.store import DynamoMutes

    stack, region = stack_io.target(config, stack_name, region)
    session = stack_io.session(region)
    cfn = session.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    table = physical_ids(cfn, stack_id).get("DedupTable")
    if not table:
        fail(f"stack {stack} in {region} has no dedup table")
    return DynamoMutes(DynamoStore(table, client=session.client("dynamodb")))


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


@mutes_app.command("list")
def list_mutes(
    stack_name: StackOpt = None, region: RegionOpt = None, config: ConfigOpt = None
) -> None:
    """The active mutes: what each hides, until when, who set it, from which alert, why."""
    from deniedwatch.triage.store import MuteStoreError

    with stack_io.clear_errors():
        try:
            mutes = _store(config, stack_name, region).active(time.time())
        except MuteStoreError as exc:
            fail(escape(f"cannot read the mutes: {exc}"))
    if not mutes:
        err.print("no active mutes")
        return
    table = Table("id", "principal", "action", "account", "until", "set by", "alert", "why")
    for m in mutes:
        s = m.subject
        table.add_row(
            *(
                escape(x)
                for x in (
                    m.id,
                    s.principal,
                    s.action or "(every action that is not high impact)",
                    s.account_id,
                    _when(m.expires_at),
                    f"{m.set_by} at {_when(m.set_at)}",
                    m.alert,
                    m.reason,
                )
            )
        )
    from rich.console import Console

    Console(highlight=False, width=200).print(table)


@mutes_app.command("revoke")
def revoke(
    mute_id: Annotated[str, typer.Argument(help="The mute's id (`mutes list`).")],
    stack_name: StackOpt = None,
    region: RegionOpt = None,
    config: ConfigOpt = None,
) -> None:
    """End a mute now: the next batch alerts on what it hid."""
    from deniedwatch.triage.store import MuteStoreError

    with stack_io.clear_errors():
        try:
            ended = _store(config, stack_name, region).revoke(mute_id)
        except MuteStoreError as exc:
            fail(escape(f"cannot revoke {mute_id}: {exc}"))
    if not ended:
        fail(escape(f"no mute {mute_id} (`deniedwatch mutes list` shows the active ones)"))
    err.print(f"[bold green]revoked[/] mute {escape(mute_id)}")
