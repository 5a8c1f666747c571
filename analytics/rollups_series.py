"""Reading the rollups back: a device's bucketed series, for the API and the wall.

A service function rather than SQL in a route handler, so both callers get the same bounds and
the same mean (sum / count, exact) without knowing the table layout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from psycopg import Connection, sql
from psycopg.rows import tuple_row
from pydantic import BaseModel

Bucket = Literal["1m", "1h"]
TABLES: dict[Bucket, str] = {"1m": "telemetry_1m", "1h": "telemetry_1h"}
MAX_BUCKETS = 10_000  # a week of minutes, or a year of hours: enough for any chart


class BucketPoint(BaseModel):
    bucket: datetime
    min: float
    max: float
    mean: float
    count: int
    last: float
    last_time: datetime


def series_bucketed(
    conn: Connection,
    *,
    metric: str,
    device_key: int | None = None,
    device_id: str | None = None,
    bucket: Bucket = "1m",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = MAX_BUCKETS,
) -> list[BucketPoint]:
    """Buckets in [since, until) of one device's ``metric`` (by name), oldest first.

    The metric name is resolved against the device's kind, because the same name may carry
    different units for different kinds. The newest ``limit`` buckets are returned.
    """
    if (device_key is None) == (device_id is None):
        raise ValueError("give exactly one of device_key and device_id")
    if bucket not in TABLES:
        raise ValueError(f"bucket must be one of {sorted(TABLES)}")
    query = sql.SQL(
        """SELECT bucket, min, max, mean, count, last, last_time FROM (
               SELECT r.bucket, r.min, r.max, r.mean, r.count, r.last, r.last_time
               FROM {table} r
               JOIN devices d ON d.key = r.device_key
               JOIN metrics m ON m.id = r.metric_id AND m.kind = d.kind
               WHERE (d.key = %(key)s OR d.id = %(id)s) AND m.name = %(metric)s
                 AND r.bucket >= coalesce(%(since)s, '-infinity'::timestamptz)
                 AND r.bucket < coalesce(%(until)s, 'infinity'::timestamptz)
               ORDER BY r.bucket DESC LIMIT %(limit)s) newest
           ORDER BY bucket"""
    ).format(table=sql.Identifier(TABLES[bucket]))
    params = {
        "key": device_key,
        "id": device_id,
        "metric": metric,
        "since": since,
        "until": until,
        "limit": max(1, min(limit, MAX_BUCKETS)),
    }
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(query, params).fetchall()
    return [
        BucketPoint(bucket=b, min=lo, max=hi, mean=mean, count=n, last=last, last_time=lt)
        for b, lo, hi, mean, n, last, lt in rows
    ]
