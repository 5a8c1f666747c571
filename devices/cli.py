"""``ioc devices``: the registry from the command line."""

from __future__ import annotations

import json

import typer

from devices.registry import list_devices
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import connect_db

app = typer.Typer(no_args_is_help=True, help="The device registry.")


@app.command("list")
@fail_cleanly
def list_cmd(
    kind: str | None = typer.Option(None, help="Only devices of this kind."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List registered devices with their derived status."""
    with connect_db(settings_from_env()) as conn:
        devices = list_devices(conn, kind=kind)
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in devices]))
        return
    for d in devices:
        seen = d.last_seen.isoformat(timespec="seconds") if d.last_seen else "-"
        typer.echo(f"{d.id:16} {d.kind:22} {d.tenant:10} {d.status:10} {seen}")
