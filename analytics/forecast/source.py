"""Training history from the rollups: what each served target is made of.

Read from ``telemetry_1h`` (hourly means, kept ten years) and ``telemetry_1m`` (traffic counts
per minute, kept a year) rather than raw telemetry (kept 90 days), so imported history is
usable once rolled up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import numpy as np
from psycopg import Connection

from analytics.forecast.grid import Grid, to_grid
from analytics.forecast.series import DeviceSeries
from analytics.forecast.targets import DAY, TARGETS, TargetSpec
from ioc_core.db import fetch_all

__all__ = ["SERVED", "Served", "load_history"]


@dataclass(frozen=True, slots=True)
class Served:
    """A served target: the spec and the device kind it is forecast for."""

    spec: TargetSpec
    kind: str


SERVED: tuple[Served, ...] = (
    Served(TARGETS["pm25"], "air_quality_station"),
    Served(TARGETS["traffic_volume"], "traffic_camera"),
    Served(TARGETS["water_level"], "water_level_gauge"),
    Served(TARGETS["energy_daily"], "lighting_cabinet"),
)


def load_history(
    conn: Connection, served: Served, *, since: datetime, until: datetime, tz: tzinfo
) -> list[DeviceSeries]:
    metric = served.spec.metric
    if metric == "traffic_volume":
        return _traffic(conn, served, since, until)
    if metric == "energy_daily":
        return _daily_energy(conn, served, since, until, tz)
    return _hourly_mean(conn, served, metric, since, until)


def _series(points: dict[str, list[tuple[datetime, float]]], step: int) -> list[DeviceSeries]:
    return [DeviceSeries(d, to_grid(p, step)) for d, p in sorted(points.items()) if p]


def _hourly_mean(
    conn: Connection, served: Served, metric: str, since: datetime, until: datetime
) -> list[DeviceSeries]:
    rows = fetch_all(
        conn,
        """SELECT d.id, h.bucket, h.mean FROM telemetry_1h h
           JOIN devices d ON d.key = h.device_key
           JOIN metrics m ON m.id = h.metric_id
           WHERE d.kind = %s AND m.kind = %s AND m.name = %s
             AND h.bucket >= %s AND h.bucket < %s
           ORDER BY d.id, h.bucket""",
        (served.kind, served.kind, metric, since, until),
    )
    points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for device, bucket, mean in rows:
        points[device].append((bucket, mean))
    return _series(points, served.spec.step_s)


def _traffic(
    conn: Connection, served: Served, since: datetime, until: datetime
) -> list[DeviceSeries]:
    """Vehicles per 15 minutes: every class and direction of ``count_*`` summed."""
    step = served.spec.step_s
    rows = fetch_all(
        conn,
        """SELECT d.id, time_bucket(make_interval(secs => %s), m1.bucket) AS slot, sum(m1.sum)
           FROM telemetry_1m m1
           JOIN devices d ON d.key = m1.device_key
           JOIN metrics m ON m.id = m1.metric_id
           WHERE d.kind = %s AND m.kind = %s AND m.name LIKE 'count\\_%%'
             AND m1.bucket >= %s AND m1.bucket < %s
           GROUP BY 1, 2 ORDER BY 1, 2""",
        (step, served.kind, served.kind, since, until),
    )
    points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for device, slot, total in rows:
        points[device].append((slot, float(total)))
    return _series(points, step)


def _daily_energy(
    conn: Connection, served: Served, since: datetime, until: datetime, tz: tzinfo
) -> list[DeviceSeries]:
    """kWh per local day from the cumulative meter: the difference of consecutive days' last
    readings. A negative difference (meter replaced or reset) is a gap, not negative use."""
    rows = fetch_all(
        conn,
        """SELECT d.id, h.bucket, h.last FROM telemetry_1h h
           JOIN devices d ON d.key = h.device_key
           JOIN metrics m ON m.id = h.metric_id
           WHERE d.kind = %s AND m.kind = %s AND m.name = 'energy'
             AND h.bucket >= %s AND h.bucket < %s
           ORDER BY d.id, h.bucket""",
        (served.kind, served.kind, since - timedelta(days=1), until),
    )
    last_of_day: dict[str, dict[datetime, float]] = defaultdict(dict)
    for device, bucket, last in rows:
        local = (bucket + timedelta(hours=1)).astimezone(tz)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        last_of_day[device][day] = last  # rows are in time order: the day's last wins
    out = []
    for device, days in sorted(last_of_day.items()):
        stamps = sorted(days)
        values = np.array([days[d] for d in stamps])
        use = np.diff(values)
        points = [(stamps[i + 1], float(u)) for i, u in enumerate(use) if u >= 0]
        if points:
            out.append(DeviceSeries(device, _day_grid(points)))
    return out


def _day_grid(points: list[tuple[datetime, float]]) -> Grid:
    """Local days on a daily grid anchored at the first local midnight."""
    start = int(points[0][0].timestamp())
    values = np.full((int(points[-1][0].timestamp()) - start) // DAY + 1, np.nan)
    for moment, value in points:
        values[round((int(moment.timestamp()) - start) / DAY)] = value
    return Grid(start, DAY, values)
