"""Devices and their telemetry.

Handlers only translate HTTP to the registry's service functions (the CLI calls the same ones);
registry errors become problem+json in :mod:`ioc_api.problems`.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from analytics.series import MAX_POINTS, Series, device_series, primary_metric
from analytics.thresholds import seed_gauge_rules
from devices.broker_auth import sync_broker_auth
from devices.credentials import CredentialError, revoke_credentials
from devices.csv_import import ImportReport, import_csv
from devices.registry import (
    DeleteOutcome,
    DeviceIn,
    DeviceOut,
    DevicePage,
    DeviceUpdate,
    create_device,
    delete_device,
    page_devices,
    update_device,
)
from devices.registry_models import MAX_PAGE, StatusFilter
from ioc_api import audit
from ioc_api.auth.scope import (
    CityOperator,
    Reader,
    Writer,
    check_owns_tenant,
    require_city_wide,
    tenant_filter,
    visible_device,
)
from ioc_api.deps import DbConn

router = APIRouter(tags=["devices"])

# A 20,000-device file is about 3 MB; anything far larger is a mistake or an attack.
MAX_IMPORT_BYTES = 32 * 1024 * 1024
_CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown device"}}


class Deleted(BaseModel):
    id: str
    outcome: DeleteOutcome


@router.get("/devices")
def devices_index(
    conn: DbConn,
    principal: Reader,
    kind: str | None = None,
    tenant: str | None = None,
    commune: Annotated[str | None, Query(description="Code or name")] = None,
    tag: str | None = None,
    status: Annotated[
        StatusFilter | None, Query(description="Retired devices are listed only with `retired`")
    ] = None,
    after: Annotated[str | None, Query(description="`next_after` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> DevicePage:
    """``{"items": [...], "total": N}`` as the wall reads it, in id order; ``next_after`` is
    set when more pages follow. The default page holds the whole city (up to 20,000)."""
    tenant = tenant_filter(principal, tenant)
    return page_devices(conn, kind=kind, tenant=tenant, commune=commune, tag=tag,
                        status=status, after=after, limit=limit)  # fmt: skip


@router.post("/devices", status_code=201, responses={409: {"description": "Id taken"}})
def device_create(conn: DbConn, principal: Writer, device: DeviceIn) -> DeviceOut:
    check_owns_tenant(principal, device.tenant_id)
    with conn.transaction():
        created = create_device(conn, device)
        seed_gauge_rules(conn)  # a flood gauge arrives with its alert/danger rules
        audit.record(conn, principal, action="create", resource="device", resource_id=created.id,
                     after=created)  # fmt: skip
    return created


@router.post("/devices/import", responses={413: {"description": "File too large"}})
async def devices_import(
    request: Request, conn: DbConn, principal: CityOperator, update: bool = False
) -> ImportReport:
    """Register the devices of a CSV file (``text/csv`` body or a multipart file), all or none:
    422 lists every bad row with its line number. ``update=true`` changes registered ids.
    City-wide operators only: a file may name any tenant."""
    require_city_wide(principal)
    data = await _csv_body(request)

    def run() -> ImportReport:
        with conn.transaction():
            report = import_csv(conn, data, update=update)
            seed_gauge_rules(conn)
            audit.record(conn, principal, action="import", resource="device", resource_id=None,
                         after=report)  # fmt: skip
        return report

    return await run_in_threadpool(run)


async def _csv_body(request: Request) -> bytes:
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_IMPORT_BYTES:
        raise HTTPException(413, f"CSV larger than {MAX_IMPORT_BYTES} bytes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form(max_part_size=MAX_IMPORT_BYTES)
        files = [value for value in form.values() if isinstance(value, UploadFile)]
        if len(files) != 1:
            raise HTTPException(422, f"expected one file in the form, got {len(files)}")
        data = await files[0].read()
    elif media in _CSV_TYPES or not media:
        data = await request.body()
    else:
        raise HTTPException(415, f"send text/csv or multipart/form-data, not {media}")
    if len(data) > MAX_IMPORT_BYTES:
        raise HTTPException(413, f"CSV larger than {MAX_IMPORT_BYTES} bytes")
    return data


@router.get("/devices/{device_id}", responses=_NOT_FOUND)
def device_detail(conn: DbConn, principal: Reader, device_id: str) -> DeviceOut:
    return visible_device(conn, principal, device_id)


@router.patch("/devices/{device_id}", responses=_NOT_FOUND)
def device_update(
    conn: DbConn, principal: Writer, device_id: str, patch: DeviceUpdate
) -> DeviceOut:
    """Change the fields given; null clears one. Moving a device without naming a commune
    re-derives the commune from the new point."""
    before = visible_device(conn, principal, device_id)
    with conn.transaction():
        after = update_device(conn, device_id, patch)
        check_owns_tenant(principal, after.tenant)  # an agency cannot give a device away
        audit.record(conn, principal, action="update", resource="device", resource_id=device_id,
                     before=before, after=after)  # fmt: skip
    return after


@router.delete("/devices/{device_id}", responses=_NOT_FOUND)
def device_delete(conn: DbConn, request: Request, principal: Writer, device_id: str) -> Deleted:
    """A device that never reported is deleted; one that did is retired (kept with its
    telemetry, hidden from lists, its id never reused). Either way its broker account is
    revoked and the broker reloaded."""
    before = visible_device(conn, principal, device_id)
    with conn.transaction():
        with suppress(CredentialError):  # a device that never had an account
            revoke_credentials(conn, device_id)
        outcome = delete_device(conn, device_id)
        audit.record(conn, principal, action=outcome, resource="device", resource_id=device_id,
                     before=before)  # fmt: skip
    sync_broker_auth(request.app.state.ioc.settings, conn)
    return Deleted(id=device_id, outcome=outcome)


@router.get("/devices/{device_id}/telemetry", responses=_NOT_FOUND)
def device_telemetry(
    conn: DbConn,
    principal: Reader,
    device_id: str,
    metric: Annotated[
        str | None, Query(description="Metric name; the kind's first metric when omitted")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 1_000,
) -> Series:
    """The newest ``limit`` readings of one metric in [since, until), oldest first."""
    device = visible_device(conn, principal, device_id)
    metric = metric or primary_metric(conn, device.kind)
    found = device_series(
        conn, device_id=device_id, kind=device.kind, metric=metric,
        since=since, until=until, limit=limit,
    )  # fmt: skip
    if not found:
        raise HTTPException(
            404, f"device {device_id!r} of kind {device.kind} has no metric {metric!r}"
        )
    return found[0]
