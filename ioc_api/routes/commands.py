"""Commands to devices, and device liveness: status history and uptime."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from devices.commands import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    MIN_TTL_S,
    CommandError,
    CommandNotFoundError,
    CommandOut,
    create_command,
    get_command,
    list_commands,
)
from devices.errors import DeviceNotFoundError
from devices.liveness import StatusEventOut, Uptime, status_history, uptime
from ioc_api import audit
from ioc_api.auth.scope import Reader, Writer, check_owns_tenant, visible_device
from ioc_api.deps import DbConn

router = APIRouter(tags=["commands"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown device or command"}}
_DEFAULT_WINDOW = timedelta(days=1)


class CommandIn(BaseModel):
    """Body of ``POST /devices/{id}/commands``; names and arguments per kind: docs/commands.md."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["dim"])
    args: dict[str, JsonValue] = Field(default_factory=dict, examples=[{"level": 40}])
    ttl_s: int = Field(DEFAULT_TTL_S, ge=MIN_TTL_S, le=MAX_TTL_S,
                       description="Seconds the command may wait for delivery")  # fmt: skip


class CommandList(BaseModel):
    items: list[CommandOut]


class StatusHistory(BaseModel):
    device_id: str
    items: list[StatusEventOut]


def _invalid(where: str, problems: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> NoReturn:
    """Domain validation failures answer like request validation: one 422 shape for clients."""
    raise RequestValidationError(
        [{"loc": ("path" if path == "device_id" else where, *path.split(".")), "msg": message,
          "type": "value_error"} for path, message in problems]
    )  # fmt: skip


@router.post("/devices/{device_id}/commands", status_code=201, responses=_NOT_FOUND)
def command_create(conn: DbConn, principal: Writer, device_id: str, body: CommandIn) -> CommandOut:
    """Queue a command; it is published once the device is online, until ``ttl_s`` runs out."""
    visible_device(conn, principal, device_id)
    try:
        with conn.transaction():
            created = create_command(
                conn, device_id, body.name, body.args, ttl_s=body.ttl_s,
                requested_by=principal.name,
            )  # fmt: skip
            audit.record(conn, principal, action="command", resource="device",
                         resource_id=device_id, after=created)  # fmt: skip
        return created
    except CommandError as exc:
        _invalid("body", exc.problems)


@router.get("/devices/{device_id}/commands", responses=_NOT_FOUND)
def command_index(
    conn: DbConn,
    principal: Reader,
    device_id: str,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> CommandList:
    """The device's newest commands first."""
    visible_device(conn, principal, device_id)
    return CommandList(items=list_commands(conn, device_id, limit=limit))


@router.get("/commands/{command_id}", responses=_NOT_FOUND)
def command_detail(conn: DbConn, principal: Reader, command_id: uuid.UUID) -> CommandOut:
    try:
        command = get_command(conn, command_id)
        visible_device(conn, principal, command.device_id)
    except (CommandNotFoundError, DeviceNotFoundError) as exc:
        raise HTTPException(404, f"no command {command_id}") from exc
    return command


@router.get("/devices/{device_id}/status-history", responses=_NOT_FOUND)
def device_status_history(
    conn: DbConn, principal: Reader, device_id: str, since: AwareDatetime | None = None,
    until: AwareDatetime | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> StatusHistory:  # fmt: skip
    """Online/offline transitions, newest first, with their source (device, will, telemetry,
    silence) and reason."""
    visible_device(conn, principal, device_id)
    items = status_history(conn, device_id, since=since, until=until, limit=limit)
    return StatusHistory(device_id=device_id, items=items)


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC)
    since = since or until - _DEFAULT_WINDOW
    if until <= since:
        _invalid("query", [("until", "must be after since")])
    return since, until


@router.get("/devices/{device_id}/uptime", responses=_NOT_FOUND)
def device_uptime(
    conn: DbConn, principal: Reader, device_id: str, since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Uptime:  # fmt: skip
    """Seconds online, offline and unknown in [since, until) (default: the last 24 hours)."""
    visible_device(conn, principal, device_id)
    since, until = _window(since, until)
    return uptime(conn, device_id=device_id, since=since, until=until)


@router.get("/tenants/{tenant_id}/uptime")
def tenant_uptime(
    conn: DbConn, principal: Reader, tenant_id: str, since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Uptime:  # fmt: skip
    """The same, summed over every device of an agency or enterprise."""
    check_owns_tenant(principal, tenant_id)
    since, until = _window(since, until)
    return uptime(conn, tenant=tenant_id, since=since, until=until)
