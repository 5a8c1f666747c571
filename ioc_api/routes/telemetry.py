"""Telemetry: raw readings page by page, buckets from the rollups, latest values, communes.

Handlers translate HTTP to :mod:`ioc_api.services.telemetry`; a device of another tenant
answers 404 like one that does not exist (:func:`ioc_api.auth.scope.visible_device`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, HTTPException, Query, Response

from analytics.series import primary_metric
from ioc_api.auth.scope import Reader, tenant_filter, visible_device
from ioc_api.deps import DbConn
from ioc_api.services.latest import LatestChange
from ioc_api.services.telemetry import (
    MAX_RAW_PAGE,
    BadCursorError,
    Bucket,
    BucketSeries,
    RawPage,
    SeriesNotFoundError,
    commune_buckets,
    device_buckets,
    latest_values,
    raw_page,
    series_ref,
)

router = APIRouter(tags=["telemetry"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown device or metric"}}
# The longest span one bucketed request may cover, per bucket: about 10,000 buckets each.
_MAX_SPAN: Final[dict[str, timedelta]] = {
    "1m": timedelta(days=7), "5m": timedelta(days=31), "15m": timedelta(days=92),
    "1h": timedelta(days=366), "6h": timedelta(days=2200), "1d": timedelta(days=3660),
}  # fmt: skip
_DEFAULT_SPAN: Final[dict[str, timedelta]] = {
    "1m": timedelta(hours=24), "5m": timedelta(days=3), "15m": timedelta(days=7),
    "1h": timedelta(days=7), "6h": timedelta(days=30), "1d": timedelta(days=90),
}  # fmt: skip


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=UTC)


def _span(bucket: str, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = _aware(until) or datetime.now(UTC)
    since = _aware(since) or until - _DEFAULT_SPAN[bucket]
    if since >= until:
        raise HTTPException(422, "since must be before until")
    if until - since > _MAX_SPAN[bucket]:
        raise HTTPException(422, f"at most {_MAX_SPAN[bucket].days} days of {bucket} buckets")
    return since, until


@router.get("/telemetry/raw", responses=_NOT_FOUND)
def telemetry_raw(
    conn: DbConn,
    principal: Reader,
    device_id: str,
    metric: Annotated[str | None, Query(description="The kind's first metric when omitted")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    limit: Annotated[int, Query(ge=1, le=MAX_RAW_PAGE)] = 1_000,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> RawPage:
    """Readings of one series in [since, until), ``limit`` per page, keyset-paginated on time:
    pass ``next_cursor`` back as ``cursor`` until it is null."""
    device = visible_device(conn, principal, device_id)
    metric = metric or primary_metric(conn, device.kind) or ""
    try:
        ref = series_ref(conn, device_id=device.id, kind=device.kind, metric=metric)
        return raw_page(conn, ref, device_id=device.id, metric=metric, since=_aware(since),
                        until=_aware(until), cursor=cursor, limit=limit,
                        descending=order == "desc")  # fmt: skip
    except SeriesNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except BadCursorError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/telemetry/buckets", responses=_NOT_FOUND)
def telemetry_buckets(
    conn: DbConn,
    principal: Reader,
    device_id: str,
    metric: Annotated[str | None, Query(description="The kind's first metric when omitted")] = None,
    bucket: Bucket = "1m",
    since: datetime | None = None,
    until: datetime | None = None,
) -> BucketSeries:
    """min, max, mean, count and last per bucket from the 1-minute and 1-hour rollups (5m and
    15m are built from 1m, 6h and 1d from 1h; days are Vietnam days). Default span: 24 h of
    minutes, 7 days of hours, 90 days of days."""
    device = visible_device(conn, principal, device_id)
    metric = metric or primary_metric(conn, device.kind) or ""
    since, until = _span(bucket, since, until)
    try:
        ref = series_ref(conn, device_id=device.id, kind=device.kind, metric=metric)
    except SeriesNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return device_buckets(conn, ref, device_id=device.id, metric=metric, bucket=bucket,
                          since=since, until=until)  # fmt: skip


# The JSON shape of :class:`ioc_api.services.telemetry.LatestValue`: the same fields as a
# change on the live stream, so one model documents both.
LatestValueOut = LatestChange


@router.get("/telemetry/latest", response_model=list[LatestValueOut])
def telemetry_latest(
    conn: DbConn,
    principal: Reader,
    kind: str | None = None,
    commune: Annotated[str | None, Query(description="Commune code")] = None,
    tenant: str | None = None,
    device_id: str | None = None,
    metric: str | None = None,
) -> Response:
    """The newest reading of every series of active devices (one row per device and metric),
    about a second behind ingest."""
    found = latest_values(conn, tenant=tenant_filter(principal, tenant), kind=kind,
                          commune=commune, device_id=device_id, metric=metric)  # fmt: skip
    # Thousands of rows on the wall's hot path: orjson straight from the dataclasses, no
    # second validation pass through the response model.
    return Response(orjson.dumps(found), media_type="application/json")


@router.get("/telemetry/communes/{commune_code}", responses=_NOT_FOUND)
def telemetry_commune(
    conn: DbConn,
    principal: Reader,
    commune_code: str,
    kind: str,
    metric: str,
    bucket: Bucket = "1h",
    since: datetime | None = None,
    until: datetime | None = None,
) -> BucketSeries:
    """One metric pooled over a commune's devices of one kind, per bucket (the wall's
    "7 days hourly for a commune"); a tenant-bound caller pools its own devices only."""
    since, until = _span(bucket, since, until)
    found = commune_buckets(conn, commune_code=commune_code, kind=kind, metric=metric,
                            bucket=bucket, since=since, until=until,
                            tenant=tenant_filter(principal, None))  # fmt: skip
    if found is None:
        raise HTTPException(404, f"kind {kind!r} has no metric {metric!r}")
    return found
