"""VN_AQI: current per station, a station's history, the commune ranking and the city.

Handlers only translate HTTP to :mod:`analytics.aqi_store_read`; tenant-bound principals see
their own tenant's stations, and summaries are computed over those alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Response

from analytics.aqi_store_read import (
    AqiHistory,
    CityAqi,
    CommuneAqi,
    Period,
    StationAqi,
    aqi_history,
    city_aqi,
    commune_aqi,
    current_aqi,
    current_aqi_json,
)
from ioc_api.auth.scope import Reader, tenant_filter, visible_device
from ioc_api.deps import DbConn

router = APIRouter(tags=["aqi"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown device"}}
# Default windows, and the longest a single request may ask for (a year of hours is 8,784
# points, ten years of days 3,653: both fine for a chart, neither a table scan worth fearing).
_DEFAULT_SPAN: Final[dict[str, timedelta]] = {"hourly": timedelta(hours=48),
                                              "daily": timedelta(days=30)}  # fmt: skip
_MAX_SPAN: Final[dict[str, timedelta]] = {"hourly": timedelta(days=366),
                                          "daily": timedelta(days=3660)}  # fmt: skip


@router.get("/aqi/current", response_model=list[StationAqi])
def aqi_current(conn: DbConn, principal: Reader) -> Response:
    """Every station's latest hourly AQI (up to 3 hours old), with its band, colour and advice,
    worst first."""
    # The wall's map: PostgreSQL writes the JSON (one value), so no model is built or
    # validated per station; ``response_model`` still documents the shape in OpenAPI.
    body = current_aqi_json(conn, tenant=tenant_filter(principal, None))
    return Response(body, media_type="application/json")


@router.get("/aqi/history", responses=_NOT_FOUND)
def aqi_history_of(
    conn: DbConn,
    principal: Reader,
    device_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    period: Annotated[Period, Query()] = "hourly",
) -> AqiHistory:
    """Hourly points (hour-ends in ``[since, until)``) or daily ones; the last 48 hours or 30
    days by default. Times without an offset are read as UTC."""
    device = visible_device(conn, principal, device_id)
    until = _aware(until) if until else datetime.now(UTC)
    since = _aware(since) if since else until - _DEFAULT_SPAN[period]
    if since >= until:
        raise HTTPException(422, "since must be before until")
    if until - since > _MAX_SPAN[period]:
        raise HTTPException(422, f"at most {_MAX_SPAN[period].days} days of {period} AQI")
    return aqi_history(conn, device_id=device.id, period=period, since=since, until=until)


@router.get("/aqi/communes")
def aqi_communes(conn: DbConn, principal: Reader) -> list[CommuneAqi]:
    """Per commune the worst current station, worst commune first: the wall's ranking."""
    return commune_aqi(current_aqi(conn, tenant=tenant_filter(principal, None)))


@router.get("/aqi/city")
def aqi_city(conn: DbConn, principal: Reader) -> CityAqi:
    """The city's current AQI (its worst station) and communes and stations per band."""
    return city_aqi(current_aqi(conn, tenant=tenant_filter(principal, None)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
