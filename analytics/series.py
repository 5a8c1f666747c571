"""Reading a device's time series back out of the telemetry hypertable.

Bounded by construction (a limit is always applied) so one careless request cannot pull a
year of readings through the API.
"""

from __future__ import annotations

from datetime import datetime

from psycopg import Connection
from psycopg.rows import tuple_row
from pydantic import BaseModel

MAX_POINTS = 10_000


class Point(BaseModel):
    time: datetime
    value: float


class Series(BaseModel):
    device_id: str
    metric: str
    unit: str
    points: list[Point]


def primary_metric(conn: Connection, kind: str) -> str | None:
    """The kind's first metric in profile order: what a chart shows when none is chosen."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT name FROM metrics WHERE kind = %s ORDER BY id LIMIT 1", (kind,)
        ).fetchone()
    return row[0] if row else None


def device_series(
    conn: Connection,
    *,
    device_id: str,
    kind: str,
    metric: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1_000,
) -> list[Series]:
    """The newest ``limit`` points per metric in [since, until), returned oldest first."""
    limit = max(1, min(limit, MAX_POINTS))
    result = []
    with conn.cursor(row_factory=tuple_row) as cur:
        metrics = cur.execute(
            "SELECT id, name, unit FROM metrics WHERE kind = %s"
            + (" AND name = %s" if metric else "")
            + " ORDER BY id",
            (kind, metric) if metric else (kind,),
        ).fetchall()
        for metric_id, name, unit in metrics:
            points = cur.execute(
                """SELECT time, value FROM (
                       SELECT time, value FROM telemetry
                       WHERE device_key = (SELECT key FROM devices WHERE id = %s)
                         AND metric_id = %s
                         AND time >= coalesce(%s, '-infinity'::timestamptz)
                         AND time < coalesce(%s, 'infinity'::timestamptz)
                       ORDER BY time DESC LIMIT %s) newest
                   ORDER BY time""",
                (device_id, metric_id, since, until, limit),
            ).fetchall()
            result.append(
                Series(
                    device_id=device_id,
                    metric=name,
                    unit=unit,
                    points=[Point(time=t, value=v) for t, v in points],
                )
            )
    return result
