"""Open datasets: aggregated, non-personal figures for the city's open-data portal and LGSP.

Only aggregates of public infrastructure are published: hourly AQI per station and per commune,
daily vehicle counts per counting point. No raw readings (which would expose a device's
behaviour minute by minute), no camera images, no plates, no person. Each dataset is a list of
flat rows with a fixed field order, so CSV, JSON and GeoJSON come from the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from psycopg import Connection

from ioc_core.db import fetch_all

VIETNAM: Final = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_DAYS: Final = 31


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    fields: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    licence: str = "CC-BY-4.0"

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.fields, row, strict=True)) for row in self.rows]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def as_csv(dataset: Dataset) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(dataset.fields)
    writer.writerows([[_iso(v) for v in row] for row in dataset.rows])
    return out.getvalue()


def as_json(dataset: Dataset) -> str:
    return json.dumps({"dataset": dataset.name, "title": dataset.title,
                       "licence": dataset.licence, "fields": list(dataset.fields),
                       "items": [{k: _iso(v) for k, v in r.items()} for r in dataset.records()]},
                      ensure_ascii=False)  # fmt: skip


def as_geojson(dataset: Dataset) -> str:
    """Rows with ``lat``/``lon`` become Point features; the other fields are properties."""
    features = []
    for record in dataset.records():
        lat, lon = record.get("lat"), record.get("lon")
        props = {k: _iso(v) for k, v in record.items() if k not in ("lat", "lon")}
        geometry = {"type": "Point", "coordinates": [lon, lat]} if lat is not None else None
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return json.dumps({"type": "FeatureCollection", "name": dataset.name,
                       "features": features}, ensure_ascii=False)  # fmt: skip


def vietnam_day(day: date | None, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a Vietnam calendar day (today by default)."""
    day = day or (now or datetime.now(VIETNAM)).astimezone(VIETNAM).date()
    start = datetime.combine(day, time(), VIETNAM)
    return start, start + timedelta(days=1)


def aqi_stations_hourly(conn: Connection, day: date | None) -> Dataset:
    start, end = vietnam_day(day)
    rows = fetch_all(
        conn,
        """SELECT a.hour, d.id, d.commune_code, c.name, d.lat, d.lon, a.aqi, a.dominant
           FROM aqi_hourly a JOIN devices d ON d.key = a.device_key
           LEFT JOIN communes c ON c.code = d.commune_code
           WHERE a.hour > %s AND a.hour <= %s AND d.retired_at IS NULL
           ORDER BY a.hour, d.id""",
        (start, end),
    )
    return Dataset("aqi-stations-hourly", "VN_AQI per station and hour (hour = end of hour)",
                   ("hour", "station", "commune_code", "commune_name", "lat", "lon", "aqi",
                    "dominant"), rows)  # fmt: skip


def aqi_communes_hourly(conn: Connection, day: date | None) -> Dataset:
    """The worst station's AQI per commune and hour (the AQI is a warning: the maximum)."""
    start, end = vietnam_day(day)
    rows = fetch_all(
        conn,
        """SELECT a.hour, d.commune_code, c.name, c.lat, c.lon, max(a.aqi), count(*)
           FROM aqi_hourly a JOIN devices d ON d.key = a.device_key
           JOIN communes c ON c.code = d.commune_code
           WHERE a.hour > %s AND a.hour <= %s AND a.aqi IS NOT NULL AND d.retired_at IS NULL
           GROUP BY a.hour, d.commune_code, c.name, c.lat, c.lon
           ORDER BY a.hour, d.commune_code""",
        (start, end),
    )
    return Dataset("aqi-communes-hourly", "VN_AQI per commune and hour (worst station)",
                   ("hour", "commune_code", "commune_name", "lat", "lon", "aqi", "stations"),
                   rows)  # fmt: skip


def traffic_daily(conn: Connection, days: int, *, until: date | None = None) -> Dataset:
    """Vehicles counted per counting point and Vietnam day, by class and direction."""
    days = max(1, min(days, MAX_DAYS))
    _, end = vietnam_day(until)
    start = end - timedelta(days=days)
    rows = fetch_all(
        conn,
        """SELECT (time_bucket('1 day', h.bucket, 'Asia/Ho_Chi_Minh')
                   AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day,
                  d.id, d.commune_code, c.name, d.lat, d.lon,
                  regexp_replace(m.name, '^count_', '') AS series, sum(h.sum)::bigint
           FROM telemetry_1h h JOIN devices d ON d.key = h.device_key
           JOIN metrics m ON m.id = h.metric_id AND m.kind = d.kind
           LEFT JOIN communes c ON c.code = d.commune_code
           WHERE d.kind = 'traffic_camera' AND m.name LIKE 'count\\_%%'
             AND h.bucket >= %s AND h.bucket < %s AND d.retired_at IS NULL
           GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 7""",
        (start, end),
    )
    return Dataset("traffic-daily", "Vehicles counted per counting point and day (UTC+7)",
                   ("day", "counting_point", "commune_code", "commune_name", "lat", "lon",
                    "class_direction", "vehicles"), rows)  # fmt: skip
