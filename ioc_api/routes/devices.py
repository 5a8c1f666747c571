"""Devices and their telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from analytics.series import MAX_POINTS, Series, device_series, primary_metric
from devices.registry import DeviceOut, get_device, list_devices
from ioc_api.deps import DbConn

router = APIRouter(tags=["devices"])


class DeviceList(BaseModel):
    items: list[DeviceOut]
    total: int


@router.get("/devices")
def devices_index(conn: DbConn, kind: str | None = None) -> DeviceList:
    items = list_devices(conn, kind=kind)
    return DeviceList(items=items, total=len(items))


@router.get("/devices/{device_id}", responses={404: {"description": "Unknown device"}})
def device_detail(conn: DbConn, device_id: str) -> DeviceOut:
    return get_device(conn, device_id)


@router.get("/devices/{device_id}/telemetry", responses={404: {"description": "Unknown device"}})
def device_telemetry(
    conn: DbConn,
    device_id: str,
    metric: Annotated[
        str | None, Query(description="Metric name; the kind's first metric when omitted")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 1_000,
) -> Series:
    """The newest ``limit`` readings of one metric in [since, until), oldest first."""
    device = get_device(conn, device_id)
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
