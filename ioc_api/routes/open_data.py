"""``/open-data/...``: public datasets (CSV, JSON, GeoJSON), no credentials, cacheable.

The only routes besides ``/health`` that answer anonymous callers: aggregated, non-personal
data (:mod:`ioc_api.services.open_data`). Responses carry ``Cache-Control: public`` and a
strong ETag, so the portal, LGSP and any CDN can cache them; ``If-None-Match`` answers 304.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response

from ioc_api.deps import DbConn
from ioc_api.ngsi.entities import context_document
from ioc_api.services.open_data import (
    MAX_DAYS,
    Dataset,
    aqi_communes_hourly,
    aqi_stations_hourly,
    as_csv,
    as_geojson,
    as_json,
    traffic_daily,
)

router = APIRouter(prefix="/open-data", tags=["open data"])

Format = Literal["csv", "json", "geojson"]
_MEDIA: Final[dict[str, str]] = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                                  "geojson": "application/geo+json"}  # fmt: skip
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "The dataset in the format named by the path's extension",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      "application/json": {"schema": {"type": "object"}},
                      "application/geo+json": {"schema": {"type": "object"}}}},
    304: {"description": "Not modified (If-None-Match)"},
}  # fmt: skip


def _cached(request: Request, body: str, media: str) -> Response:
    settings = request.app.state.ioc.settings
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={settings.open_data_max_age_s}", "ETag": etag,
               "Access-Control-Allow-Origin": "*"}  # fmt: skip
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


def _render(request: Request, dataset: Dataset, fmt: Format) -> Response:
    body = {"csv": as_csv, "json": as_json, "geojson": as_geojson}[fmt](dataset)
    return _cached(request, body, _MEDIA[fmt])


@router.get("/datasets")
def datasets() -> list[dict[str, str]]:
    """The catalogue: every dataset with its path template and formats."""
    return [
        {"name": "aqi-stations-hourly", "path": "/open-data/aqi/stations-hourly.{csv,json,geojson}",
         "parameters": "date=YYYY-MM-DD (Vietnam day, default today)"},
        {"name": "aqi-communes-hourly", "path": "/open-data/aqi/communes-hourly.{csv,json,geojson}",
         "parameters": "date=YYYY-MM-DD (Vietnam day, default today)"},
        {"name": "traffic-daily", "path": "/open-data/traffic/daily.{csv,json,geojson}",
         "parameters": f"days=1..{MAX_DAYS} (ending today, Vietnam days)"},
        {"name": "ngsi-ld-context", "path": "/open-data/ngsi-ld/context.jsonld",
         "parameters": ""},
    ]  # fmt: skip


@router.get("/aqi/stations-hourly.{fmt}", response_class=Response, responses=_RESPONSES)
def aqi_stations(request: Request, conn: DbConn, fmt: Format,
                 date: date | None = None) -> Response:  # fmt: skip
    """VN_AQI of every station for each hour of one Vietnam day."""
    return _render(request, aqi_stations_hourly(conn, date), fmt)


@router.get("/aqi/communes-hourly.{fmt}", response_class=Response, responses=_RESPONSES)
def aqi_communes(request: Request, conn: DbConn, fmt: Format,
                 date: date | None = None) -> Response:  # fmt: skip
    """Per commune and hour, the worst station's VN_AQI."""
    return _render(request, aqi_communes_hourly(conn, date), fmt)


@router.get("/traffic/daily.{fmt}", response_class=Response, responses=_RESPONSES)
def traffic(request: Request, conn: DbConn, fmt: Format,
            days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7) -> Response:  # fmt: skip
    """Vehicles per counting point, day, class and direction."""
    return _render(request, traffic_daily(conn, days), fmt)


@router.get(
    "/ngsi-ld/context.jsonld",
    response_class=Response,
    responses={200: {"content": {"application/ld+json": {"schema": {"type": "object"}}},
                     "description": "The JSON-LD @context of the NGSI-LD API"}},
)  # fmt: skip
def ngsi_context(request: Request) -> Response:
    return _cached(request, json.dumps(context_document()), "application/ld+json")
