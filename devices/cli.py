"""``ioc devices``: the registry from the command line, through the API's service functions.

Registry errors print every problem, one per line (``line N, column C: message`` for a CSV),
and exit 1, so a script or an operator sees the whole list at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar, cast

import typer
from pydantic import ValidationError

from devices.cli_access import add_device_cmd, cert_cmd, revoke_cmd, rotate_cmd
from devices.csv_import import import_csv
from devices.errors import (
    CsvImportError,
    DeviceExistsError,
    DeviceNotFoundError,
    DeviceValidationError,
)
from devices.registry import DeviceOut, DeviceUpdate, delete_device, get_device, list_devices
from devices.registry import update_device as update_registry
from devices.registry_models import StatusFilter
from devices.registry_validation import problems_from_pydantic
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import connect_db

app = typer.Typer(no_args_is_help=True, help="The device registry.")

P = ParamSpec("P")
R = TypeVar("R")
_CLEARABLE = ("commune", "address", "install_date", "firmware", "tags", "levels")
_CLEAR_HELP = f"Empty a field (repeatable): {', '.join(_CLEARABLE)}."


def _registry_errors(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (DeviceValidationError, ValidationError) as exc:
            problems = exc.problems if isinstance(exc, DeviceValidationError) else None
            found = problems or problems_from_pydantic(cast(ValidationError, exc))
            lines = [f"{p.field}: {p.message}" for p in found]
        except CsvImportError as exc:
            lines = [f"line {p.line}, column {p.column}: {p.message}" for p in exc.problems]
            lines.append("nothing imported")
        except (DeviceExistsError, DeviceNotFoundError) as exc:
            lines = [str(exc.args[0])]
        for line in lines:
            typer.secho(line, err=True, fg=typer.colors.RED)
        raise typer.Exit(1)

    return wrapper


@app.command("list")
@fail_cleanly
@_registry_errors
def list_cmd(
    kind: str | None = typer.Option(None, help="Only devices of this kind."),
    tenant: str | None = typer.Option(None, help="Only devices of this tenant."),
    commune: str | None = typer.Option(None, help="Only this commune (code or name)."),
    tag: str | None = typer.Option(None, help="Only devices with this tag."),
    status: str | None = typer.Option(
        None, help="online, offline, never_seen, or retired (only then are retired ones listed)."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List registered devices with their derived status."""
    if status not in (None, "online", "offline", "never_seen", "retired"):
        raise typer.BadParameter(f"unknown status {status!r}", param_hint="--status")
    with connect_db(settings_from_env()) as conn:
        wanted = cast(StatusFilter | None, status)  # checked above; typer has no Literal options
        devices = list_devices(
            conn, kind=kind, tenant=tenant, commune=commune, tag=tag, status=wanted
        )
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in devices]))
        return
    for d in devices:
        seen = d.last_seen.isoformat(timespec="seconds") if d.last_seen else "-"
        typer.echo(f"{d.id:16} {d.kind:22} {d.tenant:10} {d.status:10} {seen}")


def _show(device: DeviceOut, as_json: bool) -> None:
    if as_json:
        typer.echo(device.model_dump_json())
        return
    for key, value in device.model_dump(mode="json").items():
        if isinstance(value, list):
            value = "; ".join(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        typer.echo(f"{key:13} {'-' if value in (None, '') else value}")


@app.command("show")
@fail_cleanly
@_registry_errors
def show_cmd(device_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One device, retired or not."""
    with connect_db(settings_from_env()) as conn:
        _show(get_device(conn, device_id), as_json)


@app.command("update")
@fail_cleanly
@_registry_errors
def update_cmd(
    device_id: str,
    tenant: str | None = typer.Option(None),
    commune: str | None = typer.Option(None, help="Code or name."),
    lat: float | None = typer.Option(None),
    lon: float | None = typer.Option(None),
    address: str | None = typer.Option(None),
    install_date: str | None = typer.Option(None, help="YYYY-MM-DD."),
    firmware: str | None = typer.Option(None),
    tags: str | None = typer.Option(None, help="Semicolon-separated; replaces the tags."),
    reference_level: float | None = typer.Option(None, help="Gauges, in the profile's unit."),
    alert_level: float | None = typer.Option(None),
    danger_level: float | None = typer.Option(None),
    clear: Annotated[list[str] | None, typer.Option(help=_CLEAR_HELP)] = None,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change the given fields; moving a device without --commune re-derives its commune."""
    given = {"tenant": tenant, "commune": commune, "lat": lat, "lon": lon, "address": address,
             "install_date": install_date,
             "firmware": firmware, "tags": tags and tags.split(";")}  # fmt: skip
    changes: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    levels = {"reference_level": reference_level, "alert_level": alert_level,
              "danger_level": danger_level}  # fmt: skip
    if any(v is not None for v in levels.values()):
        changes["levels"] = {k: v for k, v in levels.items() if v is not None}
    for field in clear or []:
        if field not in _CLEARABLE:
            raise typer.BadParameter(f"cannot clear {field!r}", param_hint="--clear")
        changes[field] = None
    if not changes:
        raise typer.BadParameter("nothing to change; give at least one option")
    with connect_db(settings_from_env()) as conn:
        _show(update_registry(conn, device_id, DeviceUpdate.model_validate(changes)), as_json)


@app.command("delete")
@fail_cleanly
@_registry_errors
def delete_cmd(device_id: str) -> None:
    """Delete a device that never reported; retire one that did (its telemetry is kept)."""
    with connect_db(settings_from_env()) as conn:
        typer.echo(f"{device_id}: {delete_device(conn, device_id)}")


@app.command("import")
@fail_cleanly
@_registry_errors
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="UTF-8 CSV file.")],
    update: bool = typer.Option(False, "--update", help="Change devices already registered."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register every device of a CSV file, or none: each bad row is reported with its line."""
    with connect_db(settings_from_env()) as conn:
        report = import_csv(conn, file, update=update)
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        typer.echo(f"imported {report.created} new, {report.updated} updated")


# Registration with credentials lives beside the broker-access code; registry errors are
# reported the same way as for the commands above.
app.command("add")(_registry_errors(add_device_cmd))
app.command("revoke")(revoke_cmd)
app.command("rotate")(rotate_cmd)
app.command("cert")(cert_cmd)
